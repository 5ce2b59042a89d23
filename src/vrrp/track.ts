// Tracking, pure: what tracked links, scripts and files do to an instance's
// priority and fault state, in keepalived's rules (keepalived.conf(5), 2.2):
// - weight 0: FAULT while the tracked object is down (with reverse: while it is up);
// - a positive weight is added while the object is up (reverse: subtracted while up);
// - a negative weight is added (so, subtracted) while it is down (reverse: its
//   absolute value added while down);
// - a track_file's value is multiplied by the weight (weight 0: a non-zero value
//   is a failure); a product below -253 is a FAULT, otherwise it is added;
// - the effective priority is kept within 1..254; an address owner (255) is never
//   moved (the config admits only weight 0 for it, as keepalived requires).

export interface Tracked {
  /** How the operator names it in a reason: "interface eth1", "script chk_haproxy". */
  what: string;
  weight: number;
  reverse: boolean;
  /** Up (link usable, script OK). Ignored when `value` is set. */
  up: boolean;
  /** A track_file's value (a number read from the file). */
  value?: number;
}

/** A tracked vrrp_script as `vipd status` shows it. */
export interface ScriptStatus {
  name: string;
  state: 'OK' | 'FAILED';
  command: string;
  /** The last run's outcome, if it has run. */
  last?: { ok: boolean; reason: string; ms: number; at: string };
  checks: number;
  failures: number;
  /** Instances tracking it (directly or through their sync group). */
  trackedBy: string[];
}

/** A tracked track_file as `vipd status` shows it. */
export interface FileStatus {
  name: string;
  file: string;
  /** The number read (a missing file reads 0). */
  value: number;
  /** Why the last read failed (other than the file missing), if it did. */
  error?: string;
  trackedBy: string[];
}

/** A tracked vrrp_track_process as `vipd status` shows it. */
export interface ProcessStatus {
  name: string;
  state: 'UP' | 'DOWN';
  /** Matching processes now, and the bounds that make it UP. */
  count: number;
  quorum: number;
  quorumMax?: number;
  /** Up to 10 of the matching process ids. */
  pids: number[];
  /** A change of state waiting for fork_delay / terminate_delay, in ms. */
  pendingMs?: number;
  /** How processes are seen: the kernel's process connector, or rescanning /proc. */
  detection: string;
  trackedBy: string[];
}

export interface TrackEffect {
  priority: number;
  /** Why the instance must be in FAULT; empty when it need not be. */
  faults: string[];
  /** The adjustments in force, for the transition reason and status. */
  adjustments: string[];
}

const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

/** The change one tracked object makes: a number to add, or a fault reason. */
export function trackDelta(t: Tracked): number | { fault: string } {
  if (t.value !== undefined) {
    if (t.weight === 0) {
      const failed = t.reverse ? t.value === 0 : t.value !== 0;
      return failed ? { fault: `${t.what} is ${t.value}` } : 0;
    }
    const r = t.value * t.weight * (t.reverse ? -1 : 1);
    if (r < -253) return { fault: `${t.what} is ${t.value} (x ${t.weight} = ${r}, below -253)` };
    return Math.min(253, r);
  }
  if (t.weight === 0) return t.up === t.reverse ? { fault: `${t.what} is ${t.up ? 'up (reverse)' : 'down'}` } : 0;
  // A positive weight counts while up, a negative one while down; reverse flips the sign.
  const applies = t.weight > 0 ? t.up : !t.up;
  return applies ? t.weight * (t.reverse ? -1 : 1) : 0;
}

export function trackEffect(base: number, tracked: readonly Tracked[]): TrackEffect {
  const faults: string[] = [];
  const adjustments: string[] = [];
  let delta = 0;
  for (const t of tracked) {
    const d = trackDelta(t);
    if (typeof d === 'object') faults.push(d.fault);
    else if (d !== 0) {
      delta += d;
      adjustments.push(`${t.what} ${t.value !== undefined ? `is ${t.value}` : t.up ? 'up' : 'down'} (${signed(d)})`);
    }
  }
  const priority = base === 255 ? 255 : Math.min(254, Math.max(1, base + delta));
  return { priority, faults, adjustments };
}

/**
 * A track_file's text to its value, as keepalived reads it (strtol, base 0): leading
 * blanks, an optional sign, 0x hex / 0 octal / decimal, anything after the number
 * ignored; no number (or an empty or missing file) is 0. undefined: out of the 32-bit
 * range (keepalived ignores such a value and keeps the last one).
 */
export function trackFileValue(text: string | undefined): number | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text ?? '');
  if (!m) return 0;
  const digits = m[2]!;
  const n = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
  const v = m[1] === '-' ? -n : n;
  return v < -2147483648 || v > 2147483648 ? undefined : v;
}
