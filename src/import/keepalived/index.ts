// `vipd import --from keepalived`: read keepalived.conf (and its includes), translate, report.
// Exit codes: 0 complete, 3 something left out (the output is still written), 2 invalid keepalived syntax.

import { checked, type ImportResult } from '../render.js';
import { readKeepalived, type ReadOptions } from './reader.js';
import { at, KeepalivedSyntaxError } from './syntax.js';
import { translate } from './translate.js';

export type { ImportResult };

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
  return checked(t, opts.output ?? 'vipd.yaml', notes);
}
