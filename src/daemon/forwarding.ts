// Forwarding, top-down in one place. Every change takes the same road:
//
//   a configuration (start, reload) | a health verdict | an operator's command
//     -> the director plans the desired table (src/director/desired.ts, pure)
//     -> the IPVS manager reconciles the kernel's table to it (values in)
//     -> the quorum changes that table made are announced (log line, quorum_up /
//        quorum_down scripts), once it is committed
//     -> the ECMP tier: each announced VIP's route follows its virtual servers'
//        quorum (announcer.ts).
//
// The IPVS manager never asks for a table: its own timers (resync, drain, retry)
// reconcile to the table it was last given.

import type { Config } from '../config/types.js';
import type { IpvsTable } from '../ipvs/client.js';
import type { VsView } from '../director/desired.js';
import type { ReconcileReport } from '../ipvs/reconcile.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../vrrp/notify.js';
import { Announcer, type AnnounceStatus } from './announcer.js';
import { DirectorRuntime } from './director.js';
import { IpvsManager } from './ipvs.js';

export class Forwarding {
  private readonly director: DirectorRuntime;
  private readonly ipvs: IpvsManager;
  private readonly announcer: Announcer;

  /** `failing`: which of the named vrrp_scripts fail now (the host health of announce.track_script). */
  constructor(cfg: Config, log: Logger, notifier: Notifier, failing: (names: readonly string[]) => string[] = () => []) {
    this.ipvs = new IpvsManager(cfg, log.child({ part: 'ipvs' }));
    this.announcer = new Announcer(cfg, log.child({ part: 'announce' }), failing);
    this.director = new DirectorRuntime(cfg, log.child({ part: 'health' }), notifier, (names) => this.changed(names));
  }

  /** Start-up: the checks, then the whole table (a host that becomes master a moment later forwards at once). */
  start(cfg: Config): void {
    this.director.configure(cfg);
    const plan = this.director.plan();
    this.ipvs.reconcileFull(cfg, plan.table);
    this.director.announce(plan.quorumChanged);
    this.announcer.update(plan.views);
  }

  /** A reload (validated already): the checks adjusted, then the whole table against a yielding dump. */
  async reload(cfg: Config): Promise<ReconcileReport | undefined> {
    this.director.configure(cfg);
    const plan = this.director.plan();
    const report = await this.ipvs.reconcileReload(cfg, plan.table);
    this.director.announce(plan.quorumChanged);
    this.announcer.configure(cfg);
    this.announcer.update(plan.views);
    return report;
  }

  /** Verdicts or an operator's command changed these virtual servers: just their services, from memory. */
  private changed(names: ReadonlySet<string>): void {
    const plan = this.director.planSome(names);
    this.ipvs.reconcileFromMemory(plan.table, plan.scope);
    this.director.announce(plan.quorumChanged);
    this.announcer.update(plan.views);
  }

  /** A host health script (announce.track_script) changed its verdict. */
  retrack(): void {
    this.announcer.retrack();
  }

  /** SIGTERM, first of all: every announced VIP withdrawn; how many were. */
  withdraw(): number {
    return this.announcer.withdrawAll();
  }

  announceStatus(): AnnounceStatus {
    return this.announcer.status();
  }

  /** `vipd rs disable|drain|enable VS RS`: reconciled before the answer. */
  setAdmin(vs: string, rs: string, action: 'disable' | 'drain' | 'enable'): string {
    return this.director.setAdmin(vs, rs, action);
  }

  onVrrpState(instance: string, state: string): void {
    this.ipvs.onVrrpState(instance, state);
  }

  async status(): Promise<{ virtualServers: Awaited<ReturnType<DirectorRuntime['status']>>; ipvs: Awaited<ReturnType<IpvsManager['status']>> }> {
    const virtualServers = await this.director.status();
    return { virtualServers, ipvs: await this.ipvs.status() };
  }

  /** For a metrics scrape: the director's view and one dump of the kernel's table with counters (undefined: IPVS unavailable). */
  /** What a scrape reads: the views one virtual server at a time (made as the scrape writes them), the check timings, the kernel's table. */
  async metricsView(): Promise<{ views: AsyncIterable<VsView>; timings: ReturnType<DirectorRuntime['checkTimings']>; ipvsWanted: boolean; table: IpvsTable | undefined }> {
    const views = await this.director.eachView({ counts: true });
    const table = this.ipvs.available ? await this.ipvs.table() : undefined;
    return { views, timings: this.director.checkTimings(), ipvsWanted: this.ipvs.wanted || this.ipvs.available, table };
  }

  /** The IPVS part first (remove_on_stop, flush_on_stop), then the checks (omega's down notifiers from their last view). */
  stop(): void {
    this.announcer.withdrawAll(); // done already by a SIGTERM; here for any other stop
    this.announcer.stop();
    this.ipvs.stop();
    this.director.stop();
  }
}
