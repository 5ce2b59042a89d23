// The checker thread (or process): runs the HealthMonitor on its own event loop (its own
// thread, heap and garbage collector), so 10,000 checks a second never delay the
// VRRP adverts and the control socket on the main thread — the job keepalived's
// separate checker process does. Speaks to the main thread by messages only:
//   in:  { type: 'set', wanted: [key, { spec, alpha, state? }][], counts? } | { type: 'snapshot', id } | { type: 'stop' }
//   out: { type: 'changes', changes: { state, previous }[] } | { type: 'snapshot', id, states }
// States travel without their spec (the main thread has every spec: it sent them):
// at 12,000 checks a snapshot is then a few hundred KB to copy and read, not megabytes.
// A thread also counts results and timings in shared memory (workerData.timings,
// set's counts): the metrics read those without a message.

import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Verdict } from './types.js';
import { HealthMonitor, type SlimState, slim, type Wanted } from './monitor.js';
import type { TimingsSnapshot } from './timings.js';

export type ToChecker =
  /**
   * `counts`: where results are counted from now on (a thread only: shared memory), keys in slot order.
   * A check with a `state` ran on the main thread until now and carries on from it.
   */
  | { type: 'set'; wanted: [string, Wanted][]; counts?: { counts: Float64Array; keys: string[] } }
  | { type: 'snapshot'; id: number }
  | { type: 'stop' };

export type Change = { state: SlimState; previous: Verdict };
/** A snapshot comes in pieces of SNAPSHOT_PIECE states; `more` says another follows. */
export type FromChecker = { type: 'changes'; changes: Change[] } | { type: 'snapshot'; id: number; states: SlimState[]; timings: TimingsSnapshot; more: boolean };
const SNAPSHOT_PIECE = 1000;

/** A function giving the one copy of a string kept (first those of `keep`, in order), for one message. */
function oneCopy(...keep: Iterable<string>[]): (s: string) => string {
  const seen = new Map<string, string>();
  for (const list of keep) for (const k of list) if (!seen.has(k)) seen.set(k, k);
  return (s) => {
    const have = seen.get(s);
    if (have !== undefined) return have;
    seen.set(s, s);
    return s;
  };
}

/** The spec's short strings (type, method, path, codes, address) replaced by their one copy. */
function internStrings(spec: Wanted['spec'], one: (s: string) => string): void {
  const fields = spec as unknown as Record<string, unknown>;
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'string' && v.length <= 256) fields[k] = one(v);
  }
}

// Nice 10 (the health checks' thread; the vrrp_scripts' thread asks for 0) for this thread only (Linux: setpriority on the calling thread): when the CPU is
// short, the VRRP adverts on the main thread win — keepalived's checker_priority, by default.
// Refused (a seccomp filter denying setpriority): said once, as a warning in the daemon's log.
const data = workerData as { nice?: number; timings?: Float64Array } | null;
const nice = parentPort ? (data?.nice ?? 10) : Number(process.env.VIPD_CHECKER_NICE ?? 10);
try {
  if (nice !== 0) setPriority(0, nice);
} catch (err) {
  process.stderr.write(
    `cannot lower the checker thread to nice ${nice} (${(err as Error).message}): checks compete with the VRRP adverts for the CPU; ` +
      'allow setpriority (systemd: SystemCallFilter= must not deny @resources or setpriority)',
  );
}

// A worker thread (parentPort), or a child process of its own (process.send: see thread.ts, `process`).
const port = parentPort ?? {
  postMessage: (m: FromChecker) => void process.send!(m),
  on: (ev: 'message', fn: (m: ToChecker) => void) => void process.on(ev, fn),
  close: () => process.disconnect(),
};
const post = (m: FromChecker): void => port.postMessage(m);
// As a child process: the daemon gone (even by kill -9), the IPC channel closes — no orphan keeps running scripts.
if (!parentPort) process.on('disconnect', () => process.exit(0));
// Verdicts of one turn of this thread's loop travel as one message: the main thread
// then logs them and reconciles IPVS once for all of them.
let changes: Change[] = [];
const monitor = new HealthMonitor(
  (state, previous) => {
    if (changes.length === 0) setImmediate(() => (post({ type: 'changes', changes }), (changes = [])));
    changes.push({ state: slim(state), previous }); // as it is now: the next result replaces it
  },
  parentPort && data?.timings ? { timings: data.timings } : {},
);
port.on('message', (m: ToChecker) => {
  if (m.type === 'set') {
    const wanted = new Map(m.wanted);
    // A message brings every string anew: each key twice (wanted, slots) and 12,000 "GET"s. One copy each.
    const one = oneCopy(monitor.keys(), wanted.keys());
    for (const w of wanted.values()) internStrings(w.spec, one);
    // The new slots first: checks new in this set start from their slot's counts.
    if (m.counts) monitor.shareCounts({ counts: m.counts.counts, slots: new Map(m.counts.keys.map((k, i) => [one(k), i])) });
    monitor.set(wanted);
  } else if (m.type === 'snapshot') {
    // In pieces, a turn of this loop apart: the main thread reads each piece in a turn of its own.
    const all = monitor.all();
    const timings = monitor.timings.snapshot();
    const piece = (at: number): void => {
      const states = all.slice(at, at + SNAPSHOT_PIECE).map(slim);
      const more = at + SNAPSHOT_PIECE < all.length;
      post({ type: 'snapshot', id: m.id, states, timings, more });
      if (more) setImmediate(() => piece(at + SNAPSHOT_PIECE));
    };
    piece(0);
  } else {
    monitor.stop();
    port.close();
  }
});
