// The main thread's side of the checker thread (worker.ts): the same shape as a
// HealthMonitor for the director. Verdicts arrive as messages and are mirrored
// here, so computing the desired table never waits for the other thread; the
// latest result of every check (for `vipd status`) is fetched on demand.
// PING checks stay on this thread: they are one shared raw socket and a timer
// each, and raw-socket's addon (also VRRP's) loads in one thread per process only.
// So do all the checks while they are few (INLINE_RATE runs a second in all, the
// sample config's two HTTP checks are 0.4): a second isolate costs ~10 MB of
// memory, which the handful of checks of a small director does not pay back. A
// reload that takes them past the line hands every check to a new thread with its
// state; the thread then keeps them until vipd restarts.

import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { type ChangeListener, type CheckState, HealthMonitor, initialState, type SlimState, slim, type Wanted, withSpec } from './monitor.js';
import { checkTarget } from './types.js';
import { CheckTimings, mergeTimings, TIMINGS_SLOTS, type TimingsSnapshot } from './timings.js';
import type { Change, FromChecker, ToChecker } from './worker.js';

export class CheckerThread {
  private worker: Pick<Worker, 'postMessage'> & { stop(): void } | undefined;
  private readonly mirror = new Map<string, CheckState>();
  /** The checks the other thread runs (none while they all run here). */
  private wanted = new Map<string, Wanted>();
  private readonly pending = new Map<number, () => void>();
  /** The checker process's timings as of the last refresh() (a thread shares them: `sharedTimings`). */
  private threadTimings: TimingsSnapshot | undefined;
  /** A thread's result counts and timings, in memory both threads see (not with isolation 'process'). */
  private readonly sharedTimings: CheckTimings | undefined;
  private readonly timingsArray: Float64Array | undefined;
  private counts: { counts: Float64Array; slots: Map<string, number> } | undefined;
  private nextId = 1;
  private stopped = false;
  private readonly local: HealthMonitor;
  /** Verdicts waiting for this thread: a burst (a switch failed: 5,000 servers down) is taken in slices. */
  private inbox: Change[] = [];
  private draining = false;
  static readonly SLICE = 32;
  /** At most this many check runs a second in all (pings aside) run on this thread, without a second one. */
  static readonly INLINE_RATE = 10;

  constructor(
    private readonly onChange: ChangeListener,
    private readonly log: Logger,
    /** The thread's nice value: 10 for health checks (the adverts win when the CPU is short). */
    private readonly nice = 10,
    /**
     * 'process': the same loop in a child process of its own. For checks that fork a
     * process each (vrrp_scripts, 100 a second): a fork copies the forking process's page
     * tables under its memory lock, which stalls every thread of that process — in a small
     * child, not the daemon whose main thread sends the adverts.
     */
    private readonly isolation: 'thread' | 'process' = 'thread',
    /** Checks run here while their runs a second add up to at most this (0: always in the other thread). */
    private readonly inlineRate = CheckerThread.INLINE_RATE,
  ) {
    this.local = new HealthMonitor(onChange);
    if (isolation === 'thread') {
      this.timingsArray = new Float64Array(new SharedArrayBuffer(8 * TIMINGS_SLOTS));
      this.sharedTimings = new CheckTimings(this.timingsArray);
    }
  }

  /** Whether the checks run in the other thread (or process) now, rather than on this one. */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** Whether result counts are read live (a thread) rather than fetched by refresh() (a process). */
  get countsLive(): boolean {
    return this.sharedTimings !== undefined;
  }

  private spawn(): void {
    const url = new URL('./worker.js', import.meta.url);
    let w: Worker | ReturnType<typeof fork>;
    if (this.isolation === 'process') {
      const child = fork(url, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: 'advanced', env: { ...process.env, VIPD_CHECKER_NICE: String(this.nice) } });
      child.stderr!.on('data', (d: Buffer) => this.log.warn({ event: 'checker-thread-output' }, `checker process: ${d.toString().trim()}`));
      this.worker = { postMessage: (m: ToChecker) => child.connected && child.send(m), stop: () => child.kill('SIGKILL') };
      w = child;
    } else {
      // stdout/stderr: true — the thread's output is not piped through this thread's
      // process.stdout: creating that stream would make fd 1 non-blocking, and the
      // logger's synchronous writes then stall on a full pipe (seen in the QEMU guest:
      // a log line cut in half and nothing after it).
      const t = new Worker(url, { stdout: true, stderr: true, workerData: { nice: this.nice, timings: this.timingsArray } });
      t.stdout.resume();
      t.stderr.on('data', (d: Buffer) => this.log.warn({ event: 'checker-thread-output' }, `health checker thread: ${d.toString().trim()}`));
      this.worker = { postMessage: (m: ToChecker) => t.postMessage(m), stop: () => void t.terminate() };
      w = t;
    }
    w.on('message', (m: FromChecker) => {
      if (m.type === 'changes') {
        this.inbox.push(...m.changes);
        this.drain();
      } else {
        // A piece of a snapshot: merged at once (a piece is small); the last one answers refresh().
        this.threadTimings = m.timings;
        if (!this.pending.has(m.id)) return; // timed out
        this.merge(m.states);
        if (m.more) return;
        this.pending.get(m.id)!();
        this.pending.delete(m.id);
      }
    });
    w.on('error', (err: Error) => this.log.error({ event: 'checker-thread-error', err: err.message }, `health checker thread failed: ${err.stack ?? err.message}`));
    w.on('exit', (code: number | null) => {
      for (const resolve of this.pending.values()) resolve();
      this.pending.clear();
      if (this.stopped) return;
      // As keepalived restarts its checker child: checks start over (verdicts as at start-up).
      this.log.error({ event: 'checker-thread-exit', code }, `health checker thread exited (${code}); restarting it in 1 s`);
      setTimeout(() => {
        if (this.stopped) return;
        this.spawn();
        this.send({ type: 'set', wanted: [...this.wanted], ...this.countsMessage() });
      }, 1000).unref();
    });
  }

  /**
   * Up to SLICE verdicts per turn of the event loop (each is a log line and a little
   * of the director's work), then a turn for the timers — the VRRP adverts on this
   * thread go out on time during a burst of thousands.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    const step = (): void => {
      for (const { state, previous } of this.inbox.splice(0, CheckerThread.SLICE)) {
        const w = this.wanted.get(state.key);
        if (!w) continue; // removed by a reload meanwhile
        const full = withSpec(state, w.spec);
        this.mirror.set(state.key, full);
        this.onChange(full, previous);
      }
      if (this.inbox.length > 0) setImmediate(step);
      else this.draining = false;
    };
    step();
  }

  private send(m: ToChecker): void {
    this.worker?.postMessage(m);
  }

  /** Makes the running checks exactly `wanted`; checks already running keep their state. */
  set(wanted: Map<string, Wanted>): void {
    const all = this.retimed(wanted);
    const pings = new Map([...all].filter(([, w]) => w.spec.type === 'ping'));
    const others = new Map([...all].filter(([, w]) => w.spec.type !== 'ping'));
    let rate = 0;
    for (const { spec } of others.values()) rate += 1000 / Math.max(1, spec.intervalMs);
    // Once started, the thread keeps the checks (few again after a reload) until vipd
    // restarts: ending a thread with checks in flight while the process runs on is a
    // path this daemon does not take (a CI run of the systemd tier lost the daemon there).
    if (rate <= this.inlineRate && !this.worker) return this.local.set(all);
    // To the other thread: those running here go with their state.
    const moved = new Map<string, Wanted>();
    for (const [key, w] of others) {
      const here = this.worker ? undefined : this.local.get(key);
      moved.set(key, here ? { ...w, state: slim(here) } : w);
      if (here) this.mirror.set(key, here);
      else if (w.state && !this.mirror.has(key)) this.mirror.set(key, withSpec(w.state, w.spec)); // retimed: its verdict until the thread's first word
    }
    this.local.set(pings);
    this.toThread(moved);
  }

  /**
   * keepalived carries a checker's state over a reload when the checker compares
   * equal — what it connects to and what it sends — whatever its delay_loop,
   * timeouts or retries: a real server that was down stays down (started afresh,
   * a non-alpha check would put it back in the pool until it failed again). Here a
   * check whose timing alone changed has a new key: it takes the state (verdict,
   * run, counts, last result) of the check it replaces, when exactly one leaving
   * check has its target.
   */
  private retimed(wanted: Map<string, Wanted>): Map<string, Wanted> {
    const leaving = new Map<string, CheckState | null>();
    for (const key of new Set([...this.mirror.keys(), ...this.local.keys()])) {
      if (wanted.has(key)) continue;
      const s = this.getCounted(key);
      if (!s) continue;
      const target = checkTarget(s.spec);
      leaving.set(target, leaving.has(target) ? null : s);
    }
    if (!leaving.size) return wanted;
    const out = new Map<string, Wanted>();
    for (const [key, w] of wanted) {
      const target = w.state || this.get(key) ? undefined : checkTarget(w.spec);
      const was = target === undefined ? undefined : leaving.get(target);
      if (!was) {
        out.set(key, w);
        continue;
      }
      leaving.delete(target!);
      const state = slim(was);
      state.key = key;
      out.set(key, { spec: w.spec, alpha: w.alpha, state });
    }
    return out;
  }

  /** Makes the other thread's checks exactly `wanted`, starting it if need be. */
  private toThread(wanted: Map<string, Wanted>): void {
    this.wanted = wanted;
    for (const key of this.mirror.keys()) if (!wanted.has(key)) this.mirror.delete(key);
    // A new check's state before its first result: what the checker thread starts it with.
    for (const [key, { spec, alpha }] of wanted) if (!this.mirror.has(key)) this.mirror.set(key, initialState(key, spec, alpha));
    const spawned = !this.worker && wanted.size > 0 && !this.stopped;
    if (spawned) this.spawn(); // no checks, no thread
    const reslotted = this.reslot(wanted);
    this.send({ type: 'set', wanted: [...wanted], ...(reslotted || spawned ? this.countsMessage() : {}) });
  }

  /**
   * New shared counts when the set of checks changed: a slot per check, those
   * kept carrying their counts over (the thread writes its own over them when it
   * reads the set). Returns whether the slots changed.
   */
  private reslot(wanted: ReadonlyMap<string, unknown>): boolean {
    if (!this.countsLive) return false;
    const old = this.counts;
    if (old && old.slots.size === wanted.size && [...wanted.keys()].every((k) => old.slots.has(k))) return false;
    const counts = new Float64Array(new SharedArrayBuffer(16 * Math.max(1, wanted.size)));
    const slots = new Map<string, number>();
    for (const key of wanted.keys()) {
      const i = slots.size;
      slots.set(key, i);
      const j = old?.slots.get(key);
      if (j !== undefined) {
        counts[2 * i] = old!.counts[2 * j]!;
        counts[2 * i + 1] = old!.counts[2 * j + 1]!;
      }
    }
    this.counts = { counts, slots };
    return true;
  }

  private countsMessage(): { counts?: { counts: Float64Array; keys: string[] } } {
    return this.counts ? { counts: { counts: this.counts.counts, keys: [...this.counts.slots.keys()] } } : {};
  }

  /** The state as of the last verdict (all the desired table needs). */
  get(key: string): CheckState | undefined {
    return this.mirror.get(key) ?? this.local.get(key);
  }

  /**
   * The state as of the last verdict with the result counts as of now (a thread's
   * shared counts; a process's as of the last refresh()): what the metrics need,
   * without asking the checker thread.
   */
  getCounted(key: string): CheckState | undefined {
    const s = this.mirror.get(key);
    const slot = this.counts?.slots.get(key);
    if (!s || slot === undefined) return s ?? this.local.get(key);
    // The counts only grow: a snapshot merged meanwhile may hold newer ones than the array's copy.
    s.checks = Math.max(s.checks, this.counts!.counts[2 * slot]!);
    s.failures = Math.max(s.failures, this.counts!.counts[2 * slot + 1]!);
    return s;
  }

  /** Fetches the latest result of every check into the mirror (for status). */
  async refresh(timeoutMs = 2000): Promise<void> {
    if (!this.worker) return;
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.pending.set(id, resolve);
      setTimeout(() => {
        this.pending.delete(id);
        resolve();
      }, timeoutMs).unref();
      this.send({ type: 'snapshot', id });
    });
  }

  /** States from the checker thread (without their specs) into the mirror. */
  private merge(states: SlimState[]): void {
    for (const s of states) {
      const w = this.wanted.get(s.key);
      if (w) this.mirror.set(s.key, withSpec(s, w.spec));
    }
  }

  /** Check durations and start lag of both threads (a checker process's as of the last refresh()). */
  timings(): TimingsSnapshot {
    const local = this.local.timings.snapshot();
    const thread = this.sharedTimings?.snapshot() ?? this.threadTimings;
    return thread ? mergeTimings(thread, local) : local;
  }

  stop(): void {
    this.stopped = true;
    this.local.stop();
    this.send({ type: 'stop' });
    this.worker?.stop();
    this.worker = undefined;
  }
}
