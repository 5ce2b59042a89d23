// Runs the checks: each on its own interval, first run spread over the interval
// (10,000 checks do not fire in the same millisecond) or, with keepalived's warmup,
// at a random time up to it, no overlap, rise/fall
// verdicts. A check is identified by what it does (checkKey), so real servers
// of several virtual servers that are checked the same way share one check,
// and a reload keeps the state of every check it does not change. After a failure
// while up, the next try comes after retryDelayMs (keepalived's delay_before_retry)
// instead of the interval; a FILE check also runs whenever its file changes.

import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { checkDns } from './dns.js';
import { checkFile } from './file.js';
import { checkHttp } from './http.js';
import { Pinger } from './ping.js';
import { checkScript, checkVrrpScript } from './script.js';
import { checkSmtp } from './smtp.js';
import { checkTcp, connectOnly, TCP_CONNECT_OK, tcpFailed, tcpTimedOut } from './tcp.js';
import { checkUdp } from './udp.js';
import { CheckClock, type Timed } from './clock.js';
import { socketOptionsIfAny } from './connect.js';
import { type CheckSocketOptions, native, type ProbeHandle } from '../net/native.js';
import { CheckTimings } from './timings.js';
import { type CheckResult, type CheckSpec, RiseFall, type Verdict } from './types.js';

export interface CheckState {
  key: string;
  spec: CheckSpec;
  verdict: Verdict;
  /** Dynamic weight from a script (exit 2..255), if the last pass set one. */
  weight?: number;
  /** FILE_CHECK: what the file adds to the real server's weight, as of the last pass. */
  weightAdd?: number;
  last?: CheckResult & { at: number };
  /** Consecutive passes or failures so far (with last.ok telling which). */
  run: number;
  checks: number;
  failures: number;
}

/** A state as it crosses between the threads: without its spec (the receiver has it). */
export type SlimState = Omit<CheckState, 'spec'>;

/** A copy of the state as it is now, without the spec (field by field: see withSpec). */
export function slim(s: CheckState): SlimState {
  return withOptional(s, { key: s.key, verdict: s.verdict, run: s.run, checks: s.checks, failures: s.failures });
}

/** `to` with the optional fields `from` has set. */
function withOptional<T extends SlimState>(from: SlimState, to: T): T {
  if (from.last !== undefined) to.last = from.last;
  if (from.weight !== undefined) to.weight = from.weight;
  if (from.weightAdd !== undefined) to.weightAdd = from.weightAdd;
  return to;
}

/** A check to run: how, whether it starts down (alpha), and the state it carries on from another thread. */
export interface Wanted {
  spec: CheckSpec;
  alpha: boolean;
  state?: SlimState;
}

export type Runner = (spec: CheckSpec) => Promise<CheckResult>;
export type ChangeListener = (state: CheckState, previous: Verdict) => void;

/** A check's state before its first result (the optional fields in the literal, undefined: added later, they went to an out-of-object array per check). */
export function initialState(key: string, spec: CheckSpec, alpha: boolean): CheckState {
  return { key, spec, verdict: RiseFall.initial(alpha), run: 0, checks: 0, failures: 0, last: undefined, weight: undefined, weightAdd: undefined };
}

/**
 * A state that crossed between the threads, with its spec again. Built field by
 * field in initialState's order, not `{ ...state, spec }`: V8 gives each object a
 * spread makes a hidden class of its own (12,000 checks, 12,000 classes).
 */
export function withSpec(s: SlimState, spec: CheckSpec): CheckState {
  return withOptional(s, { key: s.key, spec, verdict: s.verdict, run: s.run, checks: s.checks, failures: s.failures });
}

interface Running {
  state: CheckState;
  rf: RiseFall;
  /** When this run was due (performance.now()): the check's place on its grid. */
  due: number;
  /** Its place in the clock's heap (-1: not scheduled). */
  place: number;
  stopped: boolean;
  /** A run is in progress; `again`: run once more as soon as it ends (the file changed meanwhile). */
  busy?: boolean;
  again?: boolean;
  watcher?: FSWatcher;
  /** Where its result counts go in the shared counts (see shareCounts), -1: nowhere. */
  slot: number;
  /** When the run in progress started (performance.now()). */
  t0: number;
  /**
   * A connect-only TCP check runs without a promise (see probe): the probe in
   * flight, its deadline (made once with the check), the probe's answer (a
   * closure made once, not per run) and the socket's options (read once).
   */
  fast: boolean;
  probe: ProbeHandle | undefined;
  deadline: Deadline | undefined;
  answered: ((code: string) => void) | undefined;
  sockOpts: CheckSocketOptions | undefined;
}

/** A fast check's deadline in the monitor's deadline clock. */
interface Deadline extends Timed {
  r: Running;
}

/**
 * Result counts shared with another thread: per slot the checks and the failures
 * (doubles: exact to 2^53). The checker thread writes, its main thread reads at
 * scrape time — no snapshot of 12,000 states has to cross for the metrics.
 */
export interface SharedCounts {
  counts: Float64Array;
  /** A check's key -> its slot (counts[2 * slot], counts[2 * slot + 1]). */
  slots: ReadonlyMap<string, number>;
}

/** A spread of first runs over the interval, the same for the same key: FNV-1a of the key. */
export function firstRunOffset(key: string, intervalMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % Math.max(1, intervalMs);
}

/** keepalived's warmup: the first run at a random time up to warmupMs (0: at once); without it, spread over the interval. */
export function firstRunDelay(key: string, spec: CheckSpec): number {
  return spec.warmupMs !== undefined ? Math.random() * spec.warmupMs : firstRunOffset(key, spec.intervalMs);
}

export class HealthMonitor {
  private readonly checks = new Map<string, Running>();
  private readonly pinger = new Pinger();
  private readonly run: Runner;
  /** Check durations and start lag, for the metrics. */
  readonly timings: CheckTimings;
  private shared: SharedCounts | undefined;
  private readonly clock = new CheckClock<Running>((r) => this.tick(r));
  /** The fast checks' deadlines; those that fire are judged after the I/O already pending (see judgeLate). */
  private readonly deadlines = new CheckClock<Deadline>((d) => this.expire(d.r));
  private late: Running[] = [];
  /** Checks run by the real runner (not a test's): connect-only TCP checks take the fast path. */
  private readonly real: boolean;

  constructor(
    private readonly onChange: ChangeListener,
    opts: { runner?: Runner; timings?: Float64Array } = {},
  ) {
    this.real = opts.runner === undefined;
    this.run = opts.runner ?? ((s) => this.runReal(s));
    this.timings = new CheckTimings(opts.timings);
  }

  /**
   * From now on every result's counts also go to `shared`. A check new to the
   * monitor starts from the counts found in its slot (those of a checker thread
   * before a restart), so the counters never go back.
   */
  shareCounts(shared: SharedCounts): void {
    this.shared = shared;
    for (const [key, r] of this.checks) {
      r.slot = shared.slots.get(key) ?? -1;
      this.writeCounts(r);
    }
  }

  private writeCounts(r: Running): void {
    if (r.slot < 0 || !this.shared) return;
    this.shared.counts[2 * r.slot] = r.state.checks;
    this.shared.counts[2 * r.slot + 1] = r.state.failures;
  }

  private runReal(s: CheckSpec): Promise<CheckResult> {
    switch (s.type) {
      case 'tcp':
        return checkTcp(s);
      case 'http':
      case 'https':
        return checkHttp(s);
      case 'ping':
        return this.pinger.check(s);
      case 'script':
        return checkScript(s);
      case 'vrrp_script':
        return checkVrrpScript(s);
      case 'udp':
        return checkUdp(s);
      case 'dns':
        return checkDns(s);
      case 'smtp':
        return checkSmtp(s);
      case 'file':
        return checkFile(s);
    }
  }

  /**
   * Makes the running checks exactly `wanted` (key -> spec and alpha); keeps the state
   * of those already running. A check new here with a `state` carries it on (verdict,
   * its run of passes or failures, counts, last result): it ran elsewhere until now
   * (the other thread) and goes on from where it was, without a warmup.
   */
  set(wanted: Map<string, Wanted>): void {
    for (const [key, r] of this.checks) {
      if (!wanted.has(key)) {
        this.halt(r);
        this.clock.remove(r);
        this.checks.delete(key);
      }
    }
    for (const [key, { spec, alpha, state: carried }] of wanted) {
      if (this.checks.has(key)) continue;
      const slot = this.shared?.slots.get(key) ?? -1;
      const state = carried ? withSpec(carried, spec) : initialState(key, spec, alpha);
      const rf = new RiseFall(spec.rise, spec.fall, alpha);
      if (carried) {
        rf.verdict = carried.verdict;
        rf.run = carried.run;
        rf.lastOk = carried.last?.ok;
      } else if (slot >= 0) {
        state.checks = this.shared!.counts[2 * slot]!;
        state.failures = this.shared!.counts[2 * slot + 1]!;
      }
      // Every field in the literal: one added later goes to an out-of-object array (40 bytes a check).
      const fast = this.real && connectOnly(spec);
      const r: Running = { state, rf, due: 0, place: -1, stopped: false, busy: false, again: false, watcher: undefined, slot, t0: 0, fast, probe: undefined, deadline: undefined, answered: undefined, sockOpts: undefined };
      if (fast) {
        r.deadline = { due: 0, place: -1, r };
        r.answered = (code) => this.answer(r, code);
        r.sockOpts = socketOptionsIfAny(spec);
      }
      this.checks.set(key, r);
      this.writeCounts(r);
      if (spec.type === 'file' && spec.file) {
        // keepalived reads a tracked file when it changes: watch its directory (the file may be replaced or created).
        this.schedule(r, performance.now());
        try {
          r.watcher = watch(dirname(spec.file), (_ev, name) => {
            if (name === null || name === basename(spec.file!)) this.runNow(r);
          });
          r.watcher.on('error', () => r.watcher?.close());
        } catch {
          /* no directory to watch: the interval still reads the file */
        }
      } else this.schedule(r, performance.now() + (carried ? firstRunOffset(key, spec.intervalMs) : firstRunDelay(key, spec)));
    }
  }

  /** Runs a check now (its file changed), or right after the run in progress. */
  private runNow(r: Running): void {
    if (r.stopped) return;
    if (r.busy) {
      r.again = true;
      return;
    }
    this.schedule(r, performance.now());
  }

  private schedule(r: Running, at: number): void {
    this.clock.add(r, at);
  }

  private tick(r: Running): void {
    if (r.stopped) return;
    r.t0 = performance.now();
    r.busy = true;
    if (r.fast) return this.probe(r);
    let run: Promise<CheckResult>;
    try {
      run = this.run(r.state.spec);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (res) => this.finish(r, res.ok, res.reason, res.ms, res.weight, res.weightAdd),
      (err: Error) => this.finish(r, false, `check failed to run: ${err.message}`, performance.now() - r.t0),
    );
  }

  /**
   * A connect-only TCP check, 10,000 a second: the addon's non-blocking connect
   * with the check's own answer callback and deadline, no promise, closure or
   * timer made per run. Per run they were ~2 KB, alive until the answer: under
   * load that outlived two young-generation collections, so the checker thread
   * promoted ~5 MB a second to its old generation and collected it 4 times a second.
   */
  private probe(r: Running): void {
    const s = r.state.spec;
    const h = native().tcpProbe(s.address, s.port, r.answered!, r.sockOpts);
    if (typeof h === 'string') return this.finish(r, false, tcpFailed(h), performance.now() - r.t0);
    r.probe = h;
    this.deadlines.add(r.deadline!, r.t0 + s.timeoutMs);
  }

  private answer(r: Running, code: string): void {
    if (r.probe === undefined) return;
    r.probe = undefined;
    this.deadlines.remove(r.deadline!);
    this.finish(r, code === '', code === '' ? TCP_CONNECT_OK : tcpFailed(code), performance.now() - r.t0);
  }

  private expire(r: Running): void {
    if (this.late.push(r) === 1) setImmediate(this.judgeLate);
  }

  /**
   * The fast checks whose deadline passed, judged after the I/O that was already
   * pending when it did (this runs as an immediate, after the loop's poll phase):
   * an answer that arrived in time must not lose to its own deadline under load.
   */
  private readonly judgeLate = (): void => {
    const late = this.late;
    this.late = [];
    for (const r of late) {
      if (r.probe === undefined) continue;
      native().tcpProbeCancel(r.probe);
      r.probe = undefined;
      this.finish(r, false, tcpTimedOut(r.state.spec.timeoutMs), performance.now() - r.t0);
    }
  };

  /** A check leaves: no more runs, its probe in flight abandoned. */
  private halt(r: Running): void {
    r.stopped = true;
    r.watcher?.close();
    if (r.probe !== undefined) {
      native().tcpProbeCancel(r.probe);
      r.probe = undefined;
    }
    if (r.deadline) this.deadlines.remove(r.deadline);
  }

  /** A run's result: counts, last result, rise/fall, and the next run. */
  private finish(r: Running, ok: boolean, reason: string, ms: number, weight?: number, weightAdd?: number): void {
    r.busy = false;
    if (r.stopped) return;
    this.timings.record(r.state.spec.type, ms / 1000, (r.t0 - r.due) / 1000);
    const s = r.state;
    s.checks++;
    if (!ok) s.failures++;
    this.writeCounts(r);
    // In place: a new object per run lived a whole interval (promoted, then old-generation garbage).
    const last = (s.last ??= { ok, reason, ms, at: 0 });
    last.ok = ok;
    last.reason = reason;
    last.ms = ms;
    last.at = Date.now();
    if (weight !== undefined || last.weight !== undefined) last.weight = weight;
    if (weightAdd !== undefined || last.weightAdd !== undefined) last.weightAdd = weightAdd;
    const previous = r.rf.verdict;
    const changed = r.rf.record(ok);
    s.run = r.rf.run;
    s.verdict = r.rf.verdict;
    const weightChanged = ok && (weight !== s.weight || weightAdd !== s.weightAdd);
    if (ok) {
      s.weight = weight;
      s.weightAdd = weightAdd;
    }
    if (changed || weightChanged) this.onChange(s, previous);
    if (r.again) {
      r.again = false;
      return this.schedule(r, performance.now());
    }
    // keepalived's retry: a failure while still up is tried again after delay_before_retry.
    if (!ok && r.rf.verdict === 'up' && s.spec.retryDelayMs !== undefined) return this.schedule(r, performance.now() + s.spec.retryDelayMs);
    // The next run on this check's own grid (due + interval), never overlapping: a run that
    // ends late skips the slots it missed instead of running at once. Each check keeps its
    // phase, so when the process falls behind, 10,000 checks stay spread over the interval
    // rather than all falling due together and firing as one burst ever after.
    const now = performance.now();
    const every = s.spec.intervalMs;
    let next = r.due + every;
    if (next <= now) next += Math.ceil((now - next) / every + 1e-9) * every;
    this.schedule(r, next);
  }

  /** One run of a check, outside any schedule. */
  runOnce(spec: CheckSpec): Promise<CheckResult> {
    return this.run(spec);
  }

  get(key: string): CheckState | undefined {
    return this.checks.get(key)?.state;
  }

  /** The keys of the checks it runs. */
  keys(): IterableIterator<string> {
    return this.checks.keys();
  }

  all(): CheckState[] {
    return [...this.checks.values()].map((r) => r.state);
  }

  stop(): void {
    for (const r of this.checks.values()) this.halt(r);
    this.clock.stop();
    this.deadlines.stop();
    this.checks.clear();
    this.pinger.close();
  }
}
