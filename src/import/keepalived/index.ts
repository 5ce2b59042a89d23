// `vipd import --from keepalived`: read keepalived.conf (and its includes), translate, report.
// Exit codes: 0 complete, 3 something left out (the output is still written), 2 invalid keepalived syntax.

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

export function importKeepalived(file: string, opts: ReadOptions = {}): ImportResult {
  let read;
  try {
    read = readKeepalived(file, opts);
  } catch (err) {
    if (err instanceof KeepalivedSyntaxError) return { code: 2, report: [`${err.message} (invalid keepalived syntax)`] };
    throw err;
  }
  const t = translate(read.stmts, file);
  const notes = read.notes.map((n) => `${at(n.pos)}: include: note: ${n.message}`);
  return { code: t.incomplete ? 3 : 0, yaml: t.yaml, report: [...notes, ...reportLines(t.findings)] };
}
