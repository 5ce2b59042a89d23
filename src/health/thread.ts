// The main thread's side of the checker thread (worker.ts): the same shape as a
// HealthMonitor for the director. Verdicts arrive as messages and are mirrored
// here, so computing the desired table never waits for the other thread; the
// latest result of every check (for `vipd status`) is fetched on demand.
// PING checks stay on this thread: they are one shared raw socket and a timer
// each, and raw-socket's addon (also VRRP's) loads in one thread per process only.

import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { type ChangeListener, type CheckState, HealthMonitor, initialState, type SlimState } from './monitor.js';
import type { CheckSpec } from './types.js';
import { mergeTimings, type TimingsSnapshot } from './timings.js';
import type { Change, FromChecker, ToChecker } from './worker.js';

export class CheckerThread {
  private worker: Pick<Worker, 'postMessage'> & { stop(): void } | undefined;
  private readonly mirror = new Map<string, CheckState>();
  private wanted = new Map<string, { spec: CheckSpec; alpha: boolean }>();
  private readonly pending = new Map<number, () => void>();
  /** The checker thread's timings as of the last refresh(). */
  private threadTimings: TimingsSnapshot | undefined;
  private nextId = 1;
  private stopped = false;
  private readonly local: HealthMonitor;
  /** Verdicts waiting for this thread: a burst (a switch failed: 5,000 servers down) is taken in slices. */
  private inbox: Change[] = [];
  private draining = false;
  static readonly SLICE = 32;

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
  ) {
    this.local = new HealthMonitor(onChange);
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
      const t = new Worker(url, { stdout: true, stderr: true, workerData: { nice: this.nice } });
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
        this.send({ type: 'set', wanted: [...this.wanted] });
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
        const full = { ...state, spec: w.spec };
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
  set(all: Map<string, { spec: CheckSpec; alpha: boolean }>): void {
    const wanted = new Map([...all].filter(([, w]) => w.spec.type !== 'ping'));
    this.local.set(new Map([...all].filter(([, w]) => w.spec.type === 'ping')));
    this.wanted = wanted;
    for (const key of this.mirror.keys()) if (!wanted.has(key)) this.mirror.delete(key);
    // A new check's state before its first result: what the checker thread starts it with.
    for (const [key, { spec, alpha }] of wanted) if (!this.mirror.has(key)) this.mirror.set(key, initialState(key, spec, alpha));
    if (!this.worker && wanted.size > 0 && !this.stopped) this.spawn(); // no checks, no thread
    this.send({ type: 'set', wanted: [...wanted] });
  }

  /** The state as of the last verdict (all the desired table needs). */
  get(key: string): CheckState | undefined {
    return this.mirror.get(key) ?? this.local.get(key);
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
      if (w) this.mirror.set(s.key, { ...s, spec: w.spec });
    }
  }

  /** Check durations and start lag of both threads (the checker thread's as of the last refresh()). */
  timings(): TimingsSnapshot {
    const local = this.local.timings.snapshot();
    return this.threadTimings ? mergeTimings(this.threadTimings, local) : local;
  }

  stop(): void {
    this.stopped = true;
    this.local.stop();
    this.send({ type: 'stop' });
    this.worker?.stop();
    this.worker = undefined;
  }
}
