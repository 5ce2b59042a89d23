// The daemon's IPVS part: reconcile the kernel's table to the desired table it
// is given (values in, never a call back): the whole of it at start, on every
// reload and at every resync; some virtual servers from memory for a verdict.
// Runs the connection sync daemon in the role of its VRRP instance; reports the
// table with live counters.
//
// The table is programmed on the backup too (as keepalived does): a takeover
// then only moves the VIP, and the backup's sync daemon has been receiving the
// master's connections into that same table.

import { stateFilePath } from '../state-file.js';
import type { Config } from '../config/types.js';
import { serviceKeysOf } from '../director/desired.js';
import { type DumpedService, IpvsClient, type IpvsTable } from '../ipvs/client.js';
import { type DesiredService, withServices } from '../ipvs/diff.js';
import { type ReconcileReport, Reconciler } from '../ipvs/reconcile.js';
import { serviceId } from '../ipvs/types.js';
import type { Logger } from '../log.js';
import { reconcileDone } from '../metrics/hub.js';
import { type IpvsStatus, ipvsStatus } from './ipvs-status.js';
import { hostRoutes, newProblemLines, readSysctl, routeProblems, type Routes, tierSysctlAdvice } from './route-check.js';
import { SyncDaemonRole } from './sync-daemon.js';

export class IpvsManager {
  private client: IpvsClient | undefined;
  private reconciler: Reconciler | undefined;
  private cfg: Config;
  /** The desired table as last given (a verdict's reconcile updates its services): what the timers reconcile to. */
  private desired: DesiredService[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  /** Level-triggered: a full reconcile (with a dump) every ipvs.resync_interval, whatever else happens. */
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncEvery = 0;
  /** Bumped by every reconcile: a background resync whose dump saw an older table is dropped. */
  private generation = 0;
  private resyncRunning = false;
  /** After a failed exchange: the next full reconcile. */
  private retryTimer: NodeJS.Timeout | undefined;
  static readonly RETRY_MS = 5000;
  private resyncsDropped = 0;
  /** When the drain timer fires (epoch ms); undefined: no drain pending. */
  private drainDue: number | undefined;
  private readonly sync: SyncDaemonRole;
  lastReport: (ReconcileReport & { at: string }) | undefined;
  lastError: string | undefined;
  /** Real servers this host cannot reach the way their forwarding method needs. */
  routeProblems: string[] = [];
  /** The sysctl advice given (once per process each). */
  private readonly advised = new Set<string>();

  constructor(
    cfg: Config,
    private readonly log: Logger,
    private readonly newClient: () => IpvsClient = () => new IpvsClient(),
    /** This host's route table, for the route check after a full reconcile. */
    private readonly routes: () => Routes = hostRoutes,
  ) {
    this.cfg = cfg;
    this.sync = new SyncDaemonRole(log);
  }

  /** Whether this config uses IPVS at all. */
  get wanted(): boolean {
    return this.cfg.virtualServers.length > 0 || this.cfg.ipvs.timeouts !== undefined || this.cfg.ipvs.syncDaemon !== undefined;
  }

  /** Ownership lives in a state file beside the control socket, so a restarted vipd knows what it created. */
  private newReconciler(client: IpvsClient): Reconciler {
    const stateFile = stateFilePath(this.cfg.global.controlSocket, 'ipvs-owned');
    return new Reconciler(client, { drainMs: this.cfg.ipvs.drainMs, stateFile, log: this.log });
  }

  private ensure(): boolean {
    if (this.client) return true;
    try {
      this.client = this.newClient();
      this.reconciler = this.newReconciler(this.client);
      this.lastError = undefined;
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log.error({ event: 'ipvs-unavailable', err: this.lastError }, `IPVS: ${this.lastError}`);
      return false;
    }
  }

  /**
   * A configuration (start, and the retry after a failed exchange): timeouts, then
   * the whole table against a dump (or `dumped`, one the caller just made), then
   * the route check. Never flushes.
   */
  reconcileFull(cfg: Config, table: DesiredService[], dumped?: Dumped): ReconcileReport | undefined {
    this.generation++;
    const drainChanged = cfg.ipvs.drainMs !== this.cfg.ipvs.drainMs;
    this.cfg = cfg;
    this.desired = table;
    if (!this.ready()) return undefined;
    if (drainChanged) this.reconciler = this.newReconciler(this.client!);
    if (cfg.ipvs.timeouts) {
      try {
        this.client!.setTimeouts(cfg.ipvs.timeouts);
      } catch (err) {
        this.log.error({ event: 'ipvs-timeouts-failed', err: (err as Error).message }, (err as Error).message);
      }
    }
    if (cfg.ipvs.syncDaemon && cfg.ipvs.syncDaemon.instance === undefined) this.sync.both(this.client!, cfg.ipvs.syncDaemon);
    const report = this.commit('reconcile', { ...(dumped ? { dumped } : {}) });
    if (!report) return undefined;
    const t0 = performance.now();
    this.checkRoutes(cfg);
    this.log.debug({ event: 'ipvs-route-check', ms: Math.round(performance.now() - t0) }, 'route check done');
    // (Under the shipped unit /proc/sys is hidden, ProcSubset=pid: `vipd check` gives the advice there.)
    for (const line of tierSysctlAdvice(cfg, readSysctl)) {
      if (this.advised.has(line)) continue;
      this.advised.add(line);
      this.log.warn({ event: 'ipvs-sysctl-advice' }, line);
    }
    return report;
  }

  /**
   * A reload: reconcileFull() with the kernel's table dumped first a slice at a time, so
   * the dump of a big table does not hold the event loop (nor the VRRP adverts on it).
   * A reconcile that ran during the dump (a verdict) makes it stale: dumped once
   * more, then in one go.
   */
  async reconcileReload(cfg: Config, table: DesiredService[]): Promise<ReconcileReport | undefined> {
    // Verdicts during the dump update this table (see reconcileFromMemory).
    this.desired = table;
    for (let attempt = 0; attempt < 2 && this.client && this.reconciler; attempt++) {
      let dumped: Dumped | undefined;
      try {
        dumped = await this.dumpYielding();
      } catch {
        break; // reconcileFull() dumps again and reports the error
      }
      if (dumped) return this.reconcileFull(cfg, this.desired, dumped);
    }
    return this.reconcileFull(cfg, this.desired);
  }

  /**
   * Health verdicts or an operator's choice changed these services (`part`, whose
   * serviceIds are `scope`): reconcile just them against the table in memory — the
   * cost of a verdict does not grow with the table (10,000 real servers) and the
   * VRRP adverts on this thread keep their timing. Without memory (no dump yet, or
   * it went stale), the whole table with a dump.
   */
  reconcileFromMemory(part: DesiredService[], scope: ReadonlySet<string>): void {
    this.desired = withServices(this.desired, part);
    if (!this.reconciler?.hasMemory) {
      this.reconcileTable();
      return;
    }
    this.generation++;
    const report = this.reconcileSafely(part, { fromMemory: true, only: scope });
    reconcileDone('verdict', report);
    if (!report) return;
    if (report.stale) {
      this.reconcileTable();
      return;
    }
    this.record(report, `IPVS reconciled ${scope.size} virtual server(s): ${report.ops} operation(s), ${report.failed.length} failed (from memory, apply ${report.applyMs.toFixed(1)} ms)`, 'info', 'ipvs-reconciled', { services: scope.size });
    // A drain due sooner than the one already timed (other services' drains keep their timer).
    if (report.nextDrainAt !== undefined && (this.drainDue === undefined || report.nextDrainAt < this.drainDue)) this.armDrain(report.nextDrainAt);
  }

  /** The whole table as last given, from memory when vipd knows the kernel's table (a drain due, a stale memory). */
  private reconcileTable(): void {
    this.generation++;
    if (this.ready()) this.commit('reconcile', { fromMemory: true });
  }

  /**
   * The periodic level-triggered resync: dump the kernel's table without holding
   * the event loop (a turn between services), then diff and apply at once. If any
   * reconcile ran meanwhile, the dump may be older than the table: dropped, and
   * after three drops in a row the resync dumps in one go.
   */
  private async resync(): Promise<void> {
    if (this.resyncRunning || !this.reconciler || !this.client) return;
    if (this.resyncsDropped >= 3) {
      this.resyncsDropped = 0;
      this.resyncWith(undefined);
      return;
    }
    this.resyncRunning = true;
    try {
      const dumped = await this.dumpYielding();
      if (!dumped) {
        this.resyncsDropped++;
        return;
      }
      this.resyncsDropped = 0;
      this.resyncWith(dumped);
    } catch (err) {
      if (this.client) this.log.error({ event: 'ipvs-resync-failed', err: (err as Error).message }, `IPVS resync: ${(err as Error).message}`); // else: stopped meanwhile
    } finally {
      this.resyncRunning = false;
    }
  }

  private resyncWith(dumped: Dumped | undefined): void {
    this.generation++;
    if (this.ready()) this.commit('resync', { ...(dumped ? { dumped } : {}) });
  }

  /** Whether IPVS is in use and the kernel reachable; arms the resync timer for the config. */
  private ready(): boolean {
    if (!this.wanted && !this.reconciler) return false;
    if (!this.ensure()) return false;
    // Armed first: the resync runs whatever this reconcile's outcome.
    if (this.resyncEvery !== this.cfg.ipvs.resyncMs) {
      if (this.resyncTimer) clearInterval(this.resyncTimer);
      this.resyncTimer = undefined;
      this.resyncEvery = this.cfg.ipvs.resyncMs;
      if (this.cfg.ipvs.resyncMs > 0) {
        this.resyncTimer = setInterval(() => void this.resync(), this.cfg.ipvs.resyncMs);
        this.resyncTimer.unref();
      }
    }
    return true;
  }

  /** The whole table to the kernel: logged (a resync's drift as a warning), the drain timer armed. */
  private commit(kind: 'reconcile' | 'resync', opts: { fromMemory?: boolean; dumped?: Dumped }): ReconcileReport | undefined {
    const report = this.reconcileSafely(this.desired, opts);
    reconcileDone(kind, report);
    if (!report) return undefined;
    const how = report.source === 'dump' ? `dump ${report.dumpMs.toFixed(1)} ms` : 'from memory';
    const resync = kind === 'resync';
    const msg = resync
      ? `IPVS resync: ${report.ops ? `the kernel's table had drifted: ${report.ops} operation(s) to converge` : 'in step'}, ${report.failed.length} failed (${how}, apply ${report.applyMs.toFixed(1)} ms)`
      : `IPVS reconciled: ${report.ops} operation(s), ${report.failed.length} failed (${how}, apply ${report.applyMs.toFixed(1)} ms)`;
    this.record(report, msg, resync ? (report.ops ? 'warn' : 'debug') : 'info', resync ? 'ipvs-resync' : 'ipvs-reconciled', { dumpMs: report.dumpMs });
    this.armDrain(report.nextDrainAt);
    return report;
  }

  /**
   * A reconcile whose netlink exchange itself failed (not an operation the kernel
   * refused: those are in the report) — a lost answer, a full receive buffer —
   * must not take the daemon and its VRRP instances down: logged, shown in vipd
   * status, the table as vipd knew it forgotten (the next reconcile dumps), and a
   * full reconcile RETRY_MS later.
   */
  private reconcileSafely(table: DesiredService[], opts: Parameters<Reconciler['reconcile']>[1]): ReconcileReport | undefined {
    try {
      const report = this.reconciler!.reconcile(table, opts);
      this.lastError = undefined;
      return report;
    } catch (err) {
      this.reconciler!.forget();
      this.lastError = `reconcile failed: ${(err as Error).message}`;
      this.log.error({ event: 'ipvs-reconcile-failed', err: (err as Error).message }, `IPVS: ${this.lastError}; a full reconcile (with a dump) tries again in ${IpvsManager.RETRY_MS / 1000} s`);
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => ((this.retryTimer = undefined), this.reconcileFull(this.cfg, this.desired)), IpvsManager.RETRY_MS);
        this.retryTimer.unref();
      }
      return undefined;
    }
  }

  /** Keeps the report for vipd status and logs it: failures as errors, else at `level`. */
  private record(report: ReconcileReport, msg: string, level: 'info' | 'warn' | 'debug', event: string, fields: Record<string, number>): void {
    this.lastReport = { ...report, at: new Date().toISOString() };
    if (report.failed.length) this.log.error({ event: 'ipvs-reconciled', ...report }, msg);
    else this.log[level]({ event, ops: report.ops, source: report.source, ...fields, applyMs: report.applyMs }, msg);
  }

  private armDrain(at: number | undefined): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.drainDue = at;
    if (at === undefined) return;
    this.drainTimer = setTimeout(() => ((this.drainDue = undefined), this.reconcileTable()), Math.max(0, at - Date.now()) + 10);
    this.drainTimer.unref();
  }

  /** The route check (route-check.ts): new problems logged, all of them kept for vipd status. */
  private checkRoutes(cfg: Config): void {
    let problems: string[];
    try {
      problems = routeProblems(cfg, this.routes());
    } catch (err) {
      problems = [`route check failed: ${(err as Error).message}`];
    }
    const { lines, more } = newProblemLines(this.routeProblems, problems);
    for (const p of lines) this.log.error({ event: 'ipvs-route-problem' }, p);
    if (more) this.log.error({ event: 'ipvs-route-problem', more: more.count }, more.line);
    this.routeProblems = problems;
  }

  /** The VRRP state of the sync daemon's instance changed. */
  onVrrpState(instance: string, state: string): void {
    const sd = this.cfg.ipvs.syncDaemon;
    if (!sd || sd.instance !== instance || !this.ensure()) return;
    this.sync.follow(this.client!, sd, state);
  }

  /**
   * The kernel's table for a reconcile, dumped a slice at a time; undefined when a
   * reconcile ran meanwhile (the dump may then be older than the table) or vipd stopped.
   */
  private async dumpYielding(): Promise<Dumped | undefined> {
    const gen = this.generation;
    const t0 = performance.now();
    const services = await this.client!.dumpYielding(false);
    return gen === this.generation && this.client ? { services, ms: performance.now() - t0 } : undefined;
  }

  /** The kernel's table with counters, for vipd status; dumped a slice at a time. */
  async table(): Promise<IpvsTable | undefined> {
    if (!this.client) return undefined;
    try {
      return await this.client.tableYielding();
    } catch (err) {
      this.lastError = (err as Error).message;
      return undefined;
    }
  }

  /** Whether the IPVS client is open (the kernel has IPVS and vipd could reach it). */
  get available(): boolean {
    return this.client !== undefined;
  }

  async status(): Promise<IpvsStatus | undefined> {
    if (!this.wanted && !this.client) return undefined;
    const table = await this.table();
    return ipvsStatus({
      table,
      virtualServers: this.cfg.virtualServers,
      owned: this.reconciler?.ownedServices ?? new Set<string>(),
      available: this.client !== undefined,
      error: this.lastError,
      lastReport: this.lastReport,
      routeProblems: this.routeProblems,
      syncRole: this.sync.role,
    });
  }

  /** On stop: keep the table (connections survive a restart) unless flush_on_stop; stop the sync daemon. */
  stop(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (!this.client) return;
    try {
      if (this.cfg.ipvs.syncDaemon) this.sync.stop(this.client);
      const leaving = new Set(this.cfg.virtualServers.filter((v) => v.removeOnStop).flatMap((v) => serviceKeysOf(v).map(serviceId)));
      if (this.cfg.ipvs.flushOnStop && this.reconciler) {
        const r = this.reconciler.reconcile([]);
        this.log.info({ event: 'ipvs-flushed', ops: r.ops }, `flush_on_stop: removed vipd's ${r.ops} service(s)`);
      } else if (leaving.size && this.reconciler) {
        // remove_on_stop: these services leave with vipd; the rest stay for the next start.
        const r = this.reconciler.reconcile(this.desired.filter((d) => !leaving.has(serviceId(d.key))));
        this.log.info({ event: 'ipvs-removed-on-stop', ops: r.ops }, `remove_on_stop: removed ${leaving.size} service(s) on stop`);
      }
    } catch (err) {
      this.log.error({ event: 'ipvs-stop-failed', err: (err as Error).message }, (err as Error).message);
    }
    this.client.close();
    this.client = undefined;
  }
}

/** A dump of the kernel's table just made, and how long it took. */
type Dumped = { services: DumpedService[]; ms: number };
