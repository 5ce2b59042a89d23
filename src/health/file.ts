// keepalived's FILE_CHECK: the number in a tracked file (vrrp_track_files) decides.
// With weight 0 a non-zero value is down and 0 up (reverse: the other way round);
// otherwise the value times the weight (negated by reverse) is added to the real
// server's weight, and the check stays up. A file that is missing or holds no
// number reads as 0, as keepalived reads it. The monitor also watches the file, so
// a change applies at once rather than at the next interval.

import { readFile } from 'node:fs/promises';
import type { CheckResult, CheckSpec } from './types.js';

/** What a value means for a check with this weight and reverse. Pure. */
export function fileVerdict(value: number, weight: number, reverse: boolean): { ok: boolean; weightAdd?: number } {
  if (weight === 0) return { ok: (value === 0) !== reverse };
  return { ok: true, weightAdd: value * weight * (reverse ? -1 : 1) };
}

/** The number at the start of the file's text (keepalived reads it with strtol); 0 when there is none. Pure. */
export function fileValue(text: string): number {
  const m = /^\s*([+-]?\d+)/.exec(text);
  return m ? Math.max(-2147483648, Math.min(2147483647, Number(m[1]))) : 0;
}

export async function checkFile(s: CheckSpec): Promise<CheckResult> {
  const t0 = performance.now();
  let text = '';
  let note = '';
  try {
    text = await readFile(s.file!, 'latin1');
  } catch (err) {
    note = ` (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}: read as 0)`;
  }
  const value = fileValue(text);
  const weight = s.fileWeight ?? 1;
  const v = fileVerdict(value, weight, s.fileReverse ?? false);
  const ms = performance.now() - t0;
  const reason = `${s.file} holds ${value}${note}`;
  if (v.weightAdd === undefined) return { ok: v.ok, reason: v.ok ? reason : `${reason}: down (weight 0${s.fileReverse ? ' reverse' : ''})`, ms };
  return { ok: true, weightAdd: v.weightAdd, reason: `${reason}: weight ${v.weightAdd >= 0 ? '+' : ''}${v.weightAdd}`, ms };
}
