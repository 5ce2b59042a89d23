// track_process at run time (keepalived's vrrp_track_process): every tracked
// definition counts the processes it matches (vrrp/track-process.ts decides
// which, and when the count makes it UP or DOWN). /proc is scanned once at start;
// after that the kernel's process connector reports each fork, exec, rename and
// exit as it happens. The connector delivers to the initial network namespace
// only: a vipd started elsewhere (ip netns exec, a container) cannot use it, says
// so once, and rescans /proc every POLL_MS instead (a process seen to start with
// a tracked parent counts as a fork, for fork_delay).

import type { Config, TrackProcessConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ProcEvent } from '../net/native.js';
import { ProcConnector } from '../net/proc-connector.js';
import type { ProcessStatus, Tracked } from '../vrrp/track.js';
import { type CountCause, initialQuorum, matchProcess, quorumCount, type QuorumState, quorumTimer } from '../vrrp/track-process.js';
import { type ProcEntry, readProc, scanProcs, scanProcsAsync } from './proc-scan.js';
import { coalesce, refsOf, trackedBy, type TrackSource, usedNames } from './track-source.js';

/** The fallback's rescan period. */
export const POLL_MS = 1000;

interface Counter {
  def: TrackProcessConfig;
  identity: string;
  pids: Set<number>;
  state: QuorumState;
  timer?: NodeJS.Timeout;
}

/** Everything but the name and the default weight: a definition that changed in these starts over. */
const identity = (d: TrackProcessConfig): string => JSON.stringify([d.process, d.params, d.paramMatch, d.fullCommand, d.quorum, d.quorumMax, d.forkDelayMs, d.terminateDelayMs]);

export class ProcessTracking implements TrackSource {
  private cfg: Config | undefined;
  private counters = new Map<string, Counter>();
  private conn: ProcConnector | undefined;
  private poll: NodeJS.Timeout | undefined;
  private polling = false;
  /** How processes are seen, once detection started. */
  private detection: string | undefined;
  private readonly changed: () => void;

  constructor(
    private readonly log: Logger,
    onChange: () => void,
    /** The clock of the delays (ms). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.changed = coalesce(onChange);
  }

  private get needArgv(): boolean {
    return [...this.counters.values()].some((c) => c.def.fullCommand);
  }

  set(cfg: Config): void {
    this.cfg = cfg;
    const used = usedNames(cfg, 'trackProcesses');
    const wanted = cfg.trackProcesses.filter((d) => used.has(d.name));
    const next = new Map<string, Counter>();
    const fresh: Counter[] = [];
    for (const d of wanted) {
      const old = this.counters.get(d.name);
      if (old && old.identity === identity(d)) {
        old.def = d;
        next.set(d.name, old);
      } else {
        const c: Counter = { def: d, identity: identity(d), pids: new Set(), state: { count: 0, up: false } };
        next.set(d.name, c);
        fresh.push(c);
      }
    }
    for (const [name, c] of this.counters) if (next.get(name) !== c) clearTimeout(c.timer);
    this.counters = next;
    if (this.counters.size === 0) return this.stopDetection();
    this.startDetection();
    if (fresh.length > 0) {
      const procs = scanProcs(this.needArgv);
      for (const c of fresh) {
        for (const p of procs) if (matchProcess(c.def, p)) c.pids.add(p.pid);
        c.state = initialQuorum(c.def, c.pids.size);
        this.log.info(
          { event: 'track-process', name: c.def.name, state: c.state.up ? 'UP' : 'DOWN', count: c.pids.size, detection: this.detection },
          `track_process ${c.def.name} is ${c.state.up ? 'UP' : 'DOWN'}: ${c.pids.size} process(es) match (quorum ${quorumText(c.def)})`,
        );
      }
    }
  }

  private startDetection(): void {
    if (this.conn || this.poll) return;
    try {
      this.conn = new ProcConnector((events, lost) => this.onEvents(events, lost));
      this.detection = 'process connector';
      // Opened before the start's scan: nothing that happens in between is missed (a pid seen twice counts once).
      return;
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      const why =
        code === 'ECONNREFUSED'
          ? 'the kernel delivers process events to the initial network namespace only, and vipd runs in another'
          : code === 'EPERM'
            ? 'subscribing needs CAP_NET_ADMIN in the initial user and PID namespace'
            : code === 'EPROTONOSUPPORT'
              ? 'the kernel has no process connector (CONFIG_PROC_EVENTS)'
              : (err as Error).message;
      this.detection = `/proc every ${POLL_MS / 1000}s`;
      this.log.warn(
        { event: 'track-process-fallback', code, pollMs: POLL_MS },
        `track_process: the kernel's process connector is not available (${code}: ${why}); rescanning /proc every ${POLL_MS / 1000} s instead`,
      );
      this.poll = setInterval(() => void this.rescan(), POLL_MS);
      this.poll.unref();
    }
  }

  private stopDetection(): void {
    this.conn?.close();
    this.conn = undefined;
    clearInterval(this.poll);
    this.poll = undefined;
    this.detection = undefined;
  }

  /** The connector's events, in order. */
  private onEvents(events: ProcEvent[], lost: boolean): void {
    if (lost) {
      this.log.warn({ event: 'track-process-lost' }, 'track_process: the kernel dropped process events (receive buffer full); rescanning /proc');
      void this.rescan();
      return;
    }
    for (const e of events) {
      if (e.what === 'exit') {
        for (const c of this.counters.values()) if (c.pids.delete(e.tgid)) this.count(c, 'exit');
      } else if (e.what === 'fork') {
        // The child runs the parent's program under the parent's name until it execs: keepalived counts it at once.
        for (const c of this.counters.values()) if (c.pids.has(e.parentTgid!) && !c.pids.has(e.tgid)) this.add(c, e.tgid, 'fork');
      } else {
        const p = readProc(e.tgid, e.what === 'exec' && this.needArgv);
        if (!p) continue; // gone already: its exit follows
        if (e.what === 'comm' && e.comm !== undefined) p.comm = e.comm;
        for (const c of this.counters.values()) {
          if (e.what === 'comm' && c.def.fullCommand) continue; // a rename does not change the command line
          const match = matchProcess(c.def, p);
          if (match && !c.pids.has(p.pid)) this.add(c, p.pid, e.what);
          else if (!match && c.pids.delete(p.pid)) this.count(c, e.what);
        }
      }
    }
  }

  /** A full rescan: the fallback's period, or after lost events. */
  private async rescan(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const procs = await scanProcsAsync(this.needArgv);
      const byPid = new Map(procs.map((p) => [p.pid, p]));
      for (const c of this.counters.values()) this.reconcile(c, procs, byPid);
    } catch (err) {
      this.log.error({ event: 'track-process-error', err: (err as Error).message }, `track_process: reading /proc failed: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private reconcile(c: Counter, procs: ProcEntry[], byPid: Map<number, ProcEntry>): void {
    const now = new Set(procs.filter((p) => matchProcess(c.def, p)).map((p) => p.pid));
    const gone = [...c.pids].filter((pid) => !now.has(pid));
    const born = [...now].filter((pid) => !c.pids.has(pid));
    if (gone.length === 0 && born.length === 0) return;
    const forked = born.some((pid) => c.pids.has(byPid.get(pid)!.ppid));
    c.pids = now;
    this.count(c, born.length >= gone.length ? (forked ? 'fork' : 'exec') : 'exit');
  }

  private add(c: Counter, pid: number, cause: CountCause): void {
    c.pids.add(pid);
    this.count(c, cause);
  }

  /** The count of `c` changed: the verdict, a delay, or nothing. */
  private count(c: Counter, cause: CountCause): void {
    const before = c.state;
    c.state = quorumCount(c.def, before, c.pids.size, cause, this.now());
    if (c.state.pendingUntil !== undefined && before.pendingUntil === undefined) {
      c.timer = setTimeout(() => {
        c.timer = undefined;
        const was = c.state;
        c.state = quorumTimer(c.def, c.state);
        this.verdict(c, was.up, 'after its delay');
      }, c.state.pendingUntil - this.now());
    } else if (c.state.pendingUntil === undefined && c.timer) {
      clearTimeout(c.timer);
      c.timer = undefined;
    }
    this.verdict(c, before.up, `on ${cause}`);
  }

  private verdict(c: Counter, wasUp: boolean, why: string): void {
    if (c.state.up === wasUp) return;
    const to = c.state.up ? 'UP' : 'DOWN';
    this.log.info(
      { event: 'track-process', name: c.def.name, from: wasUp ? 'UP' : 'DOWN', to, count: c.pids.size },
      `track_process ${c.def.name} is ${to}: ${c.pids.size} process(es) match (quorum ${quorumText(c.def)}), ${why}`,
    );
    this.changed();
  }

  tracked(instance: string): Tracked[] {
    return refsOf(this.cfg, 'trackProcesses', instance).map((r) => {
      const c = this.counters.get(r.name);
      return { what: `track_process ${r.name}${c ? ` (${c.pids.size} running)` : ''}`, weight: r.weight, reverse: r.reverse, up: c?.state.up ?? false };
    });
  }

  status(): ProcessStatus[] {
    const cfg = this.cfg;
    if (!cfg) return [];
    return [...this.counters.values()].map((c) => ({
      name: c.def.name,
      state: c.state.up ? 'UP' : 'DOWN',
      count: c.pids.size,
      quorum: c.def.quorum,
      ...(c.def.quorumMax < Number.MAX_SAFE_INTEGER ? { quorumMax: c.def.quorumMax } : {}),
      pids: [...c.pids].sort((a, b) => a - b).slice(0, 10),
      ...(c.state.pendingUntil !== undefined ? { pendingMs: Math.max(0, Math.round(c.state.pendingUntil - this.now())) } : {}),
      detection: this.detection ?? '-',
      trackedBy: trackedBy(cfg, 'trackProcesses', c.def.name),
    }));
  }

  stop(): void {
    for (const c of this.counters.values()) clearTimeout(c.timer);
    this.counters = new Map();
    this.stopDetection();
  }
}

const quorumText = (d: TrackProcessConfig): string => (d.quorumMax < Number.MAX_SAFE_INTEGER ? `${d.quorum}..${d.quorumMax}` : `${d.quorum}`);
