// track_process, pure: which processes a vrrp_track_process counts, and when the
// count makes it UP or DOWN, in keepalived's rules (keepalived.conf(5) and its
// track_process.c):
// - without full_command the process name (comm) must equal `process`; with it,
//   argv[0] must, exactly (no pattern: 'ssh' does not match sshd);
// - parameters: 'exact' all of argv[1..] equal; 'partial' the first n equal, more
//   may follow; 'initial' as partial, but the last configured one may be the
//   start of the process's (keepalived.conf(5)'s wording);
// - zombies do not count; UP while quorum <= count <= quorum_max;
// - a change of verdict caused by a fork waits fork_delay, one caused by an exit
//   terminate_delay (an exec or a rename counts at once); a count back in line
//   with the verdict while one waits cancels the wait (a process restarted within
//   terminate_delay: no bounce).

import type { TrackProcessConfig } from '../config/types.js';

/** What a process looks like to the matcher: its comm, and its argv when some tracker needs it. */
export interface ProcInfo {
  comm: string;
  argv?: readonly string[];
}

export type MatchRule = Pick<TrackProcessConfig, 'process' | 'params' | 'paramMatch' | 'fullCommand'>;

/** Whether the configured parameters match a process's argv[1..]. */
export function paramsMatch(rule: Pick<MatchRule, 'params' | 'paramMatch'>, actual: readonly string[]): boolean {
  const want = rule.params;
  switch (rule.paramMatch) {
    case 'none':
      return true;
    case 'exact':
      return actual.length === want.length && want.every((p, i) => actual[i] === p);
    case 'partial':
      return actual.length >= want.length && want.every((p, i) => actual[i] === p);
    case 'initial': {
      if (actual.length < want.length) return false;
      const last = want.length - 1;
      return want.every((p, i) => (i === last ? actual[i]!.startsWith(p) : actual[i] === p));
    }
  }
}

/** Whether `rule` counts the process. */
export function matchProcess(rule: MatchRule, p: ProcInfo): boolean {
  if (!rule.fullCommand) return p.comm === rule.process;
  if (!p.argv || p.argv[0] !== rule.process) return false;
  return paramsMatch(rule, p.argv.slice(1));
}

/**
 * /proc/PID/cmdline to argv: NUL-separated words, the last NUL-terminated. A process
 * that rewrote its command line (setproctitle) with spaces and no NULs is one word.
 */
export function parseCmdline(raw: string): string[] {
  if (raw === '') return [];
  const words = raw.split('\0');
  if (words[words.length - 1] === '') words.pop();
  return words;
}

/** /proc/PID/stat to comm, state and parent; undefined if it is not one. comm may hold ')' and spaces. */
export function parseStat(raw: string): { comm: string; state: string; ppid: number } | undefined {
  const open = raw.indexOf('(');
  const close = raw.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = raw.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  if (!rest[0] || !Number.isInteger(ppid)) return undefined;
  return { comm: raw.slice(open + 1, close), state: rest[0], ppid };
}

/** A zombie (Z) or a dead task (X) runs nothing: keepalived does not count it. */
export const isRunning = (state: string): boolean => state !== 'Z' && state !== 'X';

export type CountCause = 'fork' | 'exec' | 'exit' | 'comm' | 'scan';

export interface QuorumState {
  count: number;
  /** The verdict in force. */
  up: boolean;
  /** A verdict change waiting for its delay (ms, on the caller's clock). */
  pendingUntil?: number;
}

export interface QuorumRule {
  quorum: number;
  quorumMax: number;
  forkDelayMs: number;
  terminateDelayMs: number;
}

const inQuorum = (r: QuorumRule, n: number): boolean => n >= r.quorum && n <= r.quorumMax;

/** The verdict at start (or after a rescan): the count decides, no delay. */
export function initialQuorum(r: QuorumRule, count: number): QuorumState {
  return { count, up: inQuorum(r, count) };
}

/** The count changed to `count` because of `cause`, at `now`; returns the new state (arm a timer at pendingUntil). */
export function quorumCount(r: QuorumRule, s: QuorumState, count: number, cause: CountCause, now: number): QuorumState {
  const level = inQuorum(r, count);
  if (s.pendingUntil !== undefined) {
    // Back where the verdict is: the wait is cancelled (keepalived cancels the timer). Further the same way: it goes on.
    return level === s.up ? { count, up: s.up } : { count, up: s.up, pendingUntil: s.pendingUntil };
  }
  if (level === s.up) return { count, up: s.up };
  const delay = cause === 'fork' ? r.forkDelayMs : cause === 'exit' ? r.terminateDelayMs : 0;
  return delay > 0 ? { count, up: s.up, pendingUntil: now + delay } : { count, up: level };
}

/** The pending delay ran out: the verdict follows the count. */
export function quorumTimer(r: QuorumRule, s: QuorumState): QuorumState {
  return { count: s.count, up: inQuorum(r, s.count) };
}
