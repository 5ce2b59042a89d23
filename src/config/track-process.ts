// `vrrp_track_processes` (keepalived's vrrp_track_process blocks): a process is
// tracked by its name (the kernel's comm, what `ps -o comm` and pgrep without -f
// see: at most 15 bytes) or, with `full_command` or parameters, by the argv[0] it
// was started with and its parameters (/proc/PID/cmdline). keepalived.conf(5):
// quorum 1..65535 (default 1), quorum_max 0..65535 (default none), weight
// -254..254 (keepalived's parser default 0: FAULT while down), delays 0.000001..3600 s.

import type { Node } from 'yaml';
import { splitCommandLine } from './command.js';
import { bool, type Fields, type MapView, NAME, num, oneOf, scalarValue, str } from './reader.js';
import { type TrackDefaults, trackers } from './track.js';
import type { ParamMatch, TrackProcessConfig } from './types.js';

/** The kernel's TASK_COMM_LEN less its NUL: a process name is cut to this many bytes. */
export const COMM_MAX = 15;

/** `process:` as argv: a command line split as keepalived splits it (quotes group words), or a list. */
function argv(f: Fields, m: MapView): string[] | undefined {
  if (!m.has('process')) {
    f.r.issue(m.node, m.sub('process'), 'missing key "process"; valid: process: haproxy (the process name), or "/usr/sbin/haproxy -f /etc/haproxy/haproxy.cfg" (argv)');
    return undefined;
  }
  const node = m.value('process');
  if (Array.isArray(scalarValue(node))) {
    const list = (f.list(m, 'process') ?? []).map((n) => scalarValue(n));
    if (list.length === 0 || list.some((v) => typeof v !== 'string' || v === '')) {
      f.r.issue(node ?? m.node, m.sub('process'), 'expected a non-empty list of non-empty strings; valid: [/usr/sbin/haproxy, -f, /etc/haproxy/haproxy.cfg]');
      return undefined;
    }
    return list as string[];
  }
  const text = f.get(m, 'process', str('a process name or a command line, e.g. haproxy'));
  if (text === undefined) return undefined;
  const split = splitCommandLine(text);
  if ('error' in split) {
    f.r.issue(node ?? m.node, m.sub('process'), `"${text}" ${split.error}; valid: a command line with balanced quotes`);
    return undefined;
  }
  if (split.argv.length === 0) {
    f.r.issue(node ?? m.node, m.sub('process'), 'the process is empty; valid: a process name like haproxy');
    return undefined;
  }
  return split.argv;
}

function trackProcess(f: Fields, name: string, keyNode: Node, node: Node | null): TrackProcessConfig | undefined {
  const path = `vrrp_track_processes.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `track process name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map {process: haproxy, weight: 0, quorum: 1}');
  if (!m) return undefined;
  m.allowOnly(['process', 'param_match', 'weight', 'reverse', 'quorum', 'quorum_max', 'delay', 'fork_delay', 'terminate_delay', 'full_command']);
  const words = argv(f, m);
  const params = words?.slice(1) ?? [];
  const explicitMatch = f.get(m, 'param_match', oneOf(['exact', 'partial', 'initial'] as const));
  // keepalived: parameters or a param_match imply full_command; parameters default to an exact match.
  const paramMatch: ParamMatch = explicitMatch ?? (params.length > 0 ? 'exact' : 'none');
  const fullCommand = (f.get(m, 'full_command', bool) ?? false) || paramMatch !== 'none';
  const weight = f.get(m, 'weight', num(-254, 254, { integer: true, unit: '0 = FAULT while down; > 0 added while up; < 0 added while down' })) ?? 0;
  const reverse = f.get(m, 'reverse', bool) ?? false;
  const quorumMax = f.get(m, 'quorum_max', num(0, 65535, { integer: true, unit: '0: down while any matching process runs' }));
  // keepalived: quorum_max 0 sets quorum 0 (up while none runs).
  const quorum = f.get(m, 'quorum', num(1, 65535, { integer: true })) ?? (quorumMax === 0 ? 0 : 1);
  if (quorumMax !== undefined && quorumMax < quorum)
    f.r.issue(m.value('quorum_max') ?? m.node, m.sub('quorum_max'), `quorum_max ${quorumMax} is below quorum ${quorum}; valid: quorum_max >= quorum`);
  const secs = (key: string): number | undefined => {
    const v = f.get(m, key, num(0.000001, 3600, { unit: 'seconds' }));
    return v === undefined ? undefined : Math.round(v * 1000);
  };
  const delay = secs('delay');
  const forkDelayMs = secs('fork_delay') ?? delay ?? 0;
  const terminateDelayMs = secs('terminate_delay') ?? delay ?? 0;
  if (!words) return undefined;
  const process = words[0]!;
  if (!fullCommand) {
    const node = m.value('process') ?? m.node;
    if (process.includes('/')) {
      f.r.issue(node, m.sub('process'), `"${process}" is a path, and a process name (comm) never holds a "/"; valid: the name (${process.split('/').pop() || 'haproxy'}), or full_command: true to match argv[0]`);
      return undefined;
    }
    if (Buffer.byteLength(process) > COMM_MAX) {
      f.r.issue(node, m.sub('process'), `"${process}" is ${Buffer.byteLength(process)} bytes, and the kernel cuts a process name (comm) to ${COMM_MAX}; valid: "${Buffer.from(process).subarray(0, COMM_MAX).toString()}", or full_command: true to match argv[0]`);
      return undefined;
    }
  }
  return { name, process, params, paramMatch, fullCommand, weight, reverse, quorum, quorumMax: quorumMax ?? Number.MAX_SAFE_INTEGER, forkDelayMs, terminateDelayMs };
}

/** `vrrp_track_processes`: name -> vrrp_track_process. */
export function trackProcesses(f: Fields, top: MapView): { processes: TrackProcessConfig[]; defaults: TrackDefaults } {
  const { defs, defaults } = trackers(f, top, 'vrrp_track_processes', '{process, weight, quorum, ...}', trackProcess);
  return { processes: defs, defaults };
}
