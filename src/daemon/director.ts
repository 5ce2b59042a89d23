// The daemon's director: runs the health checks (in their own thread), keeps the operator's run-time
// choices (disable / drain, kept in a state file so they survive a reload and a
// restart), logs every verdict (one line per change, the notify scripts) and
// tells forwarding which virtual servers changed (coalesced within one turn of
// the event loop). It plans the desired table when asked (src/director/desired.ts,
// pure) and announces quorum changes once forwarding has committed that table.

import { stateFilePath, readState, writeState } from '../state-file.js';
import type { Config, RealServerConfig, VirtualServerConfig } from '../config/types.js';
import { type AdminState, Director, type Plan, rsId, servicesName, type VsView, wantedChecks } from '../director/desired.js';
import { checksOf, rsHealth } from '../director/rs-checks.js';
import type { CheckState } from '../health/monitor.js';
import { Slicer } from '../slices.js';
import { CheckerThread } from '../health/thread.js';
import { destName, serviceId } from '../ipvs/types.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../vrrp/notify.js';

export class DirectorRuntime {
  /** Real servers looked at per turn of the event loop in status(). */
  static readonly VIEW_SLICE = 500;
  private readonly director = new Director();
  private readonly monitor: CheckerThread;
  private admin = new Map<string, AdminState>();
  private cfg: Config;
  /** Virtual servers whose real servers had a verdict since the last reconcile. */
  private touched = new Set<string>();
  private reconcileQueued = false;
  /** At most this many virtual servers reconciled per turn of the event loop. */
  static readonly SLICE = 8;
  /** check key -> the (virtual server, real server) pairs it serves; rebuilt at configure. */
  private users = new Map<string, { v: VirtualServerConfig; rs: RealServerConfig }[]>();
  private readonly stateFile: string;

  constructor(
    cfg: Config,
    private readonly log: Logger,
    private readonly notifier: Notifier,
    /** Told which virtual servers a verdict or an operator's choice changed (forwarding then plans and reconciles them). */
    private readonly changed: (names: ReadonlySet<string>) => void,
  ) {
    this.cfg = cfg;
    this.stateFile = stateFilePath(cfg.global.controlSocket, 'admin-state');
    this.monitor = new CheckerThread((s, prev) => this.onVerdict(s, prev), log);
    const saved = readState<Record<string, AdminState>>(this.stateFile) ?? {};
    this.admin = new Map(Object.entries(saved).filter(([, v]) => v === 'disabled' || v === 'drain'));
  }

  /** Starts (or, on reload, adjusts) the checks; unchanged checks keep their state. */
  configure(cfg: Config): void {
    this.cfg = cfg;
    this.users = new Map();
    for (const v of cfg.virtualServers)
      for (const rs of v.realServers)
        for (const { key } of checksOf(v, rs)) {
          // Pushed, or a literal of one: an array spread from [] gets room for 17 (12,000 of them: 1.5 MB).
          const list = this.users.get(key);
          if (list) list.push({ v, rs });
          else this.users.set(key, [{ v, rs }]);
        }
    this.monitor.set(wantedChecks(cfg));
  }

  /** The desired table of the whole configuration now (advances the quorum memory). */
  plan(): Plan {
    return this.director.plan(this.cfg, (k) => this.monitor.get(k), this.admin);
  }

  /** The desired table of the named virtual servers only, and their services' ids (the reconcile's scope). */
  planSome(names: ReadonlySet<string>): Plan & { scope: Set<string> } {
    const vss = this.cfg.virtualServers.filter((v) => names.has(v.name));
    const plan = this.director.planSome({ virtualServers: vss }, (k) => this.monitor.get(k), this.admin);
    return { ...plan, scope: new Set(plan.table.map((s) => serviceId(s.key))) };
  }

  /** One log line and the quorum_up / quorum_down script per quorum change: after the table that made it is committed. */
  announce(quorumChanged: readonly VsView[]): void {
    for (const v of quorumChanged) {
      const vs = this.cfg.virtualServers.find((x) => x.name === v.name);
      if (!vs) continue; // removed by a reload meanwhile
      const q = v.quorum;
      const msg = q.met
        ? `VS ${v.name} (${servicesName(vs)}) quorum regained: healthy weight ${q.healthyWeight} >= ${q.required}${q.hysteresis ? ` + ${q.hysteresis}` : ''}`
        : `VS ${v.name} (${servicesName(vs)}) quorum LOST: healthy weight ${q.healthyWeight} < ${q.required}${q.hysteresis ? ` - ${q.hysteresis}` : ''}${v.sorryServerActive ? `; sorry server ${destName(vs.sorryServer!)} serves` : ''}`;
      this.log[q.met ? 'info' : 'warn']({ event: 'vs-quorum', vs: v.name, met: q.met, healthyWeight: q.healthyWeight }, msg);
      const script = q.met ? vs.notify.quorumUp : vs.notify.quorumDown;
      if (script) this.notifier.script(`VS ${v.name}`, script, [v.name, q.met ? 'UP' : 'DOWN']);
    }
  }

  private onVerdict(s: CheckState, previous: string): void {
    const up = s.verdict === 'up';
    for (const vs of this.users.get(s.key) ?? []) {
      this.touched.add(vs.v.name);
      const rs = vs.rs;
      // keepalived: the real server is up while all its checks are; it changes only when the whole vote does.
      const checks = checksOf(vs.v, rs);
      const now = rsHealth(checks, (k) => (k === s.key ? s : this.monitor.get(k)), vs.v.alpha, rs.weight)!;
      const before = rsHealth(checks, (k) => (k === s.key ? { ...s, verdict: previous as CheckState['verdict'] } : this.monitor.get(k)), vs.v.alpha, rs.weight)!;
      const counts = up ? `${s.run}/${s.spec.rise} passes` : `${s.run}/${s.spec.fall} failures`;
      const rsUp = now.verdict === 'up';
      const which = checks.length > 1 ? `${s.spec.type.toUpperCase()} check ${checks.findIndex((c) => c.key === s.key) + 1} of ${checks.length}: ` : '';
      const what =
        before.verdict !== now.verdict ? (rsUp ? 'UP' : 'DOWN')
        : previous !== s.verdict ? `still ${now.verdict.toUpperCase()} (${which}${up ? 'passes again' : 'fails'})`
        : `weight ${now.weight ?? rs.weight}`;
      const vip = vs.v.address !== undefined ? destName({ address: vs.v.address, port: vs.v.port! }) : servicesName(vs.v);
      this.log[rsUp ? 'info' : 'warn'](
        { event: 'rs-health', vs: vs.v.name, rs: destName(rs), verdict: now.verdict, check: s.spec.type, reason: s.last?.reason, weight: now.weight },
        `RS ${destName(rs)} of ${vip} ${what}: ${before.verdict !== now.verdict ? which : ''}${s.last?.reason ?? 'no result'}, ${counts}`,
      );
      const script = rsUp ? vs.v.notify.up : vs.v.notify.down;
      if (script && before.verdict !== now.verdict) this.notifier.script(`VS ${vs.v.name}`, script, [vs.v.name, rs.address, String(rs.port), rsUp ? 'UP' : 'DOWN']);
    }
    this.queueReconcile();
  }

  /** Many verdicts in one turn of the event loop: one reconcile of the virtual servers they touched, right after it. */
  private queueReconcile(): void {
    if (this.touched.size === 0) return; // no virtual server uses this check any more (reload)
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    setImmediate(() => {
      this.reconcileQueued = false;
      // At most SLICE virtual servers per turn; the rest in the next turns (timers run between).
      const only = new Set([...this.touched].slice(0, DirectorRuntime.SLICE));
      for (const n of only) this.touched.delete(n);
      this.changed(only);
      if (this.touched.size > 0) this.queueReconcile();
    });
  }

  /** `vipd rs disable|drain|enable VS RS` (RS = address:port, or address when that is unique). */
  setAdmin(vsName: string, rsText: string, action: 'disable' | 'drain' | 'enable'): string {
    const vs = this.cfg.virtualServers.find((v) => v.name === vsName);
    if (!vs) throw new Error(`no virtual server "${vsName}"; valid: ${this.cfg.virtualServers.map((v) => v.name).join(', ') || '(none configured)'}`);
    const matches = vs.realServers.filter((r) => destName(r) === rsText || r.address === rsText);
    const valid = vs.realServers.map((r) => destName(r)).join(', ');
    if (matches.length === 0) throw new Error(`virtual server "${vsName}" has no real server "${rsText}"; valid: ${valid}`);
    if (matches.length > 1) throw new Error(`"${rsText}" names ${matches.length} real servers of "${vsName}"; say which: ${matches.map((r) => destName(r)).join(', ')}`);
    const rs = matches[0]!;
    const id = rsId(vs.name, rs.address, rs.port);
    if (action === 'enable') this.admin.delete(id);
    else this.admin.set(id, action === 'disable' ? 'disabled' : 'drain');
    this.save();
    const msg = `RS ${destName(rs)} of virtual server ${vs.name}: ${action === 'enable' ? 'enabled' : action === 'disable' ? 'DISABLED by the operator' : 'DRAINING (weight 0) by the operator'}`;
    this.log.info({ event: 'rs-admin', vs: vs.name, rs: destName(rs), action }, msg);
    this.changed(new Set([vs.name]));
    return msg;
  }

  private save(): void {
    try {
      writeState(this.stateFile, Object.fromEntries([...this.admin].sort()));
    } catch (err) {
      this.log.error({ event: 'admin-state-save-failed', err: (err as Error).message }, `cannot save ${this.stateFile}: ${(err as Error).message}`);
    }
  }

  /**
   * The view now: the latest result of every check (the table changes only with verdicts).
   * `counts`: the metrics' view — verdicts and result counts only, read without asking the
   * checker thread (a scrape of 12,000 real servers waited 0.3-0.5 s for its snapshot).
   */
  async status(opts: { counts?: boolean } = {}): Promise<VsView[]> {
    const views: VsView[] = [];
    for await (const v of await this.eachView(opts)) views.push(v);
    return views;
  }

  /**
   * The same views one virtual server at a time, for a scrape that writes each and
   * drops it: 12,000 real servers' views held through a whole scrape outlived the
   * young generation's collections, and their copying and the old generation they
   * filled were pauses of 10-16 ms on the loop (the VRRP adverts') every few scrapes.
   * The health states are read first (now); the config and admin states as of now.
   */
  async eachView(opts: { counts?: boolean } = {}): Promise<AsyncGenerator<VsView>> {
    const countsOnly = opts.counts && this.monitor.countsLive;
    if (!countsOnly) await this.monitor.refresh();
    const get = countsOnly ? (k: string) => this.monitor.getCounted(k) : (k: string) => this.monitor.get(k);
    return this.viewsOf(this.cfg, this.admin, get);
  }

  private async *viewsOf(cfg: Config, admin: ReadonlyMap<string, AdminState>, get: Parameters<Director['view']>[1]): AsyncGenerator<VsView> {
    // A turn of the loop after VIEW_SLICE real servers, or sooner when the slice has taken its
    // time (an emulated CPU): 12,000 real servers in one go held the event loop (and the VRRP
    // adverts on it) for 100-200 ms per scrape.
    const slicer = new Slicer();
    for (let i = 0, n = 0; i < cfg.virtualServers.length; i++) {
      if (n >= DirectorRuntime.VIEW_SLICE || slicer.due()) {
        await slicer.yield();
        n = 0;
      }
      n += cfg.virtualServers[i]!.realServers.length;
      yield* this.director.view({ virtualServers: [cfg.virtualServers[i]!] }, get, admin);
    }
  }

  /** Check durations and lag (as of the last status()/refresh). */
  checkTimings(): ReturnType<CheckerThread['timings']> {
    return this.monitor.timings();
  }

  /**
   * At stop: the checks end; for an `omega` virtual server (keepalived's) the down
   * notifiers run first — notify_down for each real server in service, quorum_down if
   * it had quorum — as keepalived does at shutdown, since nothing vouches for them after.
   */
  stop(): void {
    for (const view of this.director.view(this.cfg, (k) => this.monitor.get(k), this.admin)) {
      const vs = this.cfg.virtualServers.find((v) => v.name === view.name);
      if (!vs?.omega || view.adminDown) continue;
      for (const rs of view.realServers) {
        if (rs.status !== 'ONLINE' && rs.status !== 'DRAINING') continue;
        this.log.info({ event: 'rs-omega', vs: vs.name, rs: destName(rs) }, `omega: RS ${destName(rs)} of ${vs.name} DOWN (vipd stopping)`);
        if (vs.notify.down) this.notifier.script(`VS ${vs.name}`, vs.notify.down, [vs.name, rs.address, String(rs.port), 'DOWN']);
      }
      if (view.quorum.met) {
        this.log.info({ event: 'vs-omega', vs: vs.name }, `omega: VS ${vs.name} (${servicesName(vs)}) quorum DOWN (vipd stopping)`);
        if (vs.notify.quorumDown) this.notifier.script(`VS ${vs.name}`, vs.notify.quorumDown, [vs.name, 'DOWN']);
      }
    }
    this.monitor.stop();
  }
}
