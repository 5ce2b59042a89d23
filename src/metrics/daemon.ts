// The daemon's metrics: created when the config has a `metrics:` section (no
// cost otherwise), fed by the VRRP transitions and the IPVS reconciles as they
// happen, and by one snapshot per scrape. prom-client and the endpoint load with
// the first `metrics:` section: a daemon without one never loads them (~1.5 MB of
// heap and code, more RSS).

import type { Config, MetricsConfig } from '../config/types.js';
import { serviceKeysOf } from '../director/desired.js';
import type { Forwarding } from '../daemon/forwarding.js';
import { serviceId } from '../ipvs/types.js';
import type { Logger } from '../log.js';
import type { VrrpState } from '../vrrp/fsm-types.js';
import type { VrrpRouter } from '../vrrp/router.js';
import { onReconcile } from './hub.js';
import type { Snapshot, VipdMetrics } from './registry.js';
import type { MetricsEndpoint } from './server.js';

export class DaemonMetrics {
  private metrics: VipdMetrics | undefined;
  private endpoint: MetricsEndpoint | undefined;

  constructor(
    private readonly log: Logger,
    private readonly cfg: () => Config,
    private readonly router: () => VrrpRouter,
    private readonly forwarding: Forwarding,
  ) {}

  private async ensure(): Promise<{ metrics: VipdMetrics; endpoint: MetricsEndpoint }> {
    if (!this.metrics || !this.endpoint) {
      const [{ VipdMetrics }, { MetricsEndpoint }] = await Promise.all([import('./registry.js'), import('./server.js')]);
      if (this.metrics && this.endpoint) return { metrics: this.metrics, endpoint: this.endpoint }; // made meanwhile
      const metrics = new VipdMetrics({ snapshot: () => this.snapshot() });
      onReconcile((kind, report) => metrics.reconcile(kind, report));
      this.metrics = metrics;
      this.endpoint = new MetricsEndpoint(metrics, this.log.child({ part: 'metrics' }));
    }
    return { metrics: this.metrics, endpoint: this.endpoint };
  }

  /** At start: a bind failure throws (the daemon then exits with it). */
  async start(cfg: MetricsConfig | undefined): Promise<void> {
    if (cfg) await (await this.ensure()).endpoint.start(cfg);
  }

  /** On reload: rebind, start or stop as the new config says (a failure keeps the old endpoint). */
  async reload(cfg: MetricsConfig | undefined): Promise<void> {
    if (cfg || this.endpoint) await (await this.ensure()).endpoint.reconfigure(cfg);
  }

  transition(name: string, from: VrrpState, to: VrrpState, reason: string): void {
    const inst = this.router().instance(name)?.cfg;
    if (this.metrics && inst) this.metrics.transition(inst, from, to, reason);
  }

  async close(): Promise<void> {
    await this.endpoint?.close();
  }

  private async snapshot(): Promise<Snapshot> {
    const cfg = this.cfg();
    const { views, timings, ipvsWanted, table } = await this.forwarding.metricsView();
    const names = new Map(cfg.virtualServers.flatMap((v) => serviceKeysOf(v).map((k) => [serviceId(k), v.name] as const)));
    const vsKeys = new Map(cfg.virtualServers.map((v) => [v.name, serviceKeysOf(v)[0]!]));
    return { vrrp: this.router().status(), ipvsWanted, ipvs: table, names, views, vsKeys, checkTimings: timings };
  }
}
