// `vipd import --from keepalived`: read keepalived.conf (and its includes), translate, report.
// Exit codes: 0 complete, 3 something left out (the output is still written), 2 invalid keepalived syntax.

import { parseConfig } from '../../config/parse.js';
import { ConfigError } from '../../config/reader.js';
import { readKeepalived, type ReadOptions } from './reader.js';
import { at, KeepalivedSyntaxError } from './syntax.js';
import { reportLines, translate } from './translate.js';

export interface ImportResult {
  code: 0 | 2 | 3;
  /** The vipd.yaml text (absent on a syntax error). */
  yaml?: string;
  /** The report, one line each: file:line:col: keyword: not translated|note: why. */
  report: string[];
}

/**
 * Reads, translates and checks the result as `vipd check` would (scripts on this host included):
 * a problem it finds is a report line `OUTPUT:line:col: vipd check: ...` and makes the exit 3.
 * `output` names the YAML in those lines (default "vipd.yaml").
 */
export function importKeepalived(file: string, opts: ReadOptions & { output?: string } = {}): ImportResult {
  let read;
  try {
    read = readKeepalived(file, opts);
  } catch (err) {
    if (err instanceof KeepalivedSyntaxError) return { code: 2, report: [`${err.message} (invalid keepalived syntax)`] };
    throw err;
  }
  const t = translate(read.stmts, file);
  const notes = read.notes.map((n) => `${at(n.pos)}: include: note: ${n.message}`);
  const checked: string[] = [];
  try {
    parseConfig(t.yaml, opts.output ?? 'vipd.yaml');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues) checked.push(`${i.file}:${i.line}:${i.col}: vipd check: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  }
  return { code: t.incomplete || checked.length > 0 ? 3 : 0, yaml: t.yaml, report: [...notes, ...reportLines(t.findings), ...checked] };
}
