// The director: the desired IPVS table = the configuration + health verdicts +
// the operator's run-time choices (disable / drain). Pure apart from the quorum
// memory (hysteresis needs the previous state), which it keeps itself.
//
// Per real server, in Octavia's words:
//   DISABLED  the operator took it out (vipd rs disable): not in the table;
//   ERROR     its check failed `fall` times: out of the table, or weight 0 with inhibit_on_failure;
//   DRAINING  the operator drains it (vipd rs drain): weight 0, existing connections finish;
//   ONLINE    in the table with its weight (a script check may set the weight).
// Per virtual server: ONLINE (every real server ONLINE or taken out by the operator),
// DEGRADED (some in ERROR, quorum held), OFFLINE (quorum lost: the sorry server, if any, serves).

import type { Config, RealServerConfig, VirtualServerConfig } from '../config/types.js';
import type { CheckState } from '../health/monitor.js';
import type { DesiredService } from '../ipvs/diff.js';
import { type Dest as DesiredDest, destName, serviceName } from '../ipvs/types.js';
import { serviceKeysOf } from '../config/vs-group.js';
import { checksOf, rsHealth } from './rs-checks.js';

export type RsStatus = 'ONLINE' | 'ERROR' | 'DRAINING' | 'DISABLED';
export type VsStatus = 'ONLINE' | 'DEGRADED' | 'OFFLINE';
export type AdminState = 'disabled' | 'drain';

export interface RsView {
  address: string;
  port: number;
  status: RsStatus;
  /** The weight vipd asks of the kernel; undefined when not in the table. */
  weight?: number;
  configWeight: number;
  admin?: AdminState;
  /** Configured admin_state_up: false (Octavia): out of the table, unchecked. */
  adminDown?: true;
  /** The check's state; absent for a real server without a check. */
  health?: { verdict: 'up' | 'down'; reason?: string; at?: number; run: number; lastOk?: boolean; checks: number; failures: number; rise: number; fall: number };
}

export interface VsView {
  name: string;
  status: VsStatus;
  quorum: { required: number; hysteresis: number; healthyWeight: number; met: boolean };
  sorryServerActive: boolean;
  /** Configured admin_state_up: false (Octavia): none of its services in the table. */
  adminDown?: true;
  realServers: RsView[];
}

/**
 * Octavia's listener connection_limit over IPVS, which limits per real server only: each
 * real server in service (weight > 0) gets an upper threshold, its weight's share of the
 * limit (at least 1, never above its own), so the service as a whole takes at most the
 * limit while the shares add up to it (more real servers than the limit: one each).
 */
export function limitConnections(dests: DesiredDest[], limit: number): DesiredDest[] {
  const live = dests.filter((d) => d.weight > 0);
  const total = live.reduce((n, d) => n + d.weight, 0);
  if (total === 0) return dests;
  const exact = live.map((d) => (limit * d.weight) / total);
  const share = exact.map((x) => Math.floor(x));
  let left = limit - share.reduce((n, x) => n + x, 0);
  // The remainder to the largest fractions, first come first served on ties.
  for (const i of exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i)) {
    if (left <= 0) break;
    share[i]!++;
    left--;
  }
  const byDest = new Map(live.map((d, i) => [d, Math.max(1, share[i]!)]));
  return dests.map((d) => {
    const s = byDest.get(d);
    return s === undefined ? d : { ...d, upperThreshold: d.upperThreshold > 0 ? Math.min(d.upperThreshold, s) : s };
  });
}

export { serviceKeysOf };

/** How an operator names a virtual server's service(s): "TCP 192.0.2.1:80", or "group web (12 services)". */
export function servicesName(v: VirtualServerConfig): string {
  return v.group ? `group ${v.group.name} (${v.group.members.length} service${v.group.members.length === 1 ? '' : 's'})` : serviceName(serviceKeysOf(v)[0]!);
}

export const rsId = (vs: string, address: string, port: number): string => `${vs}/${destName({ address, port })}`;

export { checkSpecOf, wantedChecks } from './rs-checks.js';

/** The director's answer: the desired table, the view, and the virtual servers whose quorum changed with it. */
export interface Plan {
  table: DesiredService[];
  views: VsView[];
  quorumChanged: VsView[];
}

/** `health(key)` is the monitor's state of a check (undefined before its first run). */
export type HealthOf = (key: string) => CheckState | undefined;

/** A real server in the table at `weight`. */
function destOf(r: RealServerConfig, weight: number): DesiredDest {
  const d: DesiredDest = { key: { address: r.address, port: r.port }, forwarding: r.forwarding, weight, upperThreshold: r.upperThreshold, lowerThreshold: r.lowerThreshold };
  if (r.tunnel) d.tunnel = r.tunnel;
  return d;
}

export class Director {
  private quorumMet = new Map<string, boolean>();

  /**
   * The table for the whole configuration, advancing the quorum memory (a virtual
   * server no longer configured is forgotten). `admin`: the operator's choices by rsId.
   */
  plan(cfg: Pick<Config, 'virtualServers'>, health: HealthOf, admin: ReadonlyMap<string, AdminState> = new Map()): Plan {
    return this.compute(cfg, health, admin, 'all');
  }

  /** The table of some virtual servers only (those a verdict touched): the others' quorum memory stays. */
  planSome(cfg: Pick<Config, 'virtualServers'>, health: HealthOf, admin: ReadonlyMap<string, AdminState> = new Map()): Plan {
    return this.compute(cfg, health, admin, 'some');
  }

  /** A look only (vipd status): the quorum memory is not advanced, no quorum change reported. */
  view(cfg: Pick<Config, 'virtualServers'>, health: HealthOf, admin: ReadonlyMap<string, AdminState> = new Map()): VsView[] {
    return this.compute(cfg, health, admin, 'look').views;
  }

  private compute(cfg: Pick<Config, 'virtualServers'>, health: HealthOf, admin: ReadonlyMap<string, AdminState>, mode: 'all' | 'some' | 'look'): Plan {
    const commit = mode !== 'look';
    const table: DesiredService[] = [];
    const views: VsView[] = [];
    const quorumChanged: VsView[] = [];
    const seen = new Set<string>();
    for (const v of cfg.virtualServers) {
      seen.add(v.name);
      if (!v.adminUp) {
        // Octavia's admin_state_up: false — out of the kernel, unchecked, no quorum to keep.
        this.quorumMet.delete(v.name);
        views.push({
          name: v.name,
          status: 'OFFLINE',
          adminDown: true,
          quorum: { required: v.quorum, hysteresis: v.hysteresis, healthyWeight: 0, met: false },
          sorryServerActive: false,
          realServers: v.realServers.map((r) => ({ address: r.address, port: r.port, status: 'DISABLED', configWeight: r.weight })),
        });
        continue;
      }
      let dests: DesiredDest[] = [];
      const rsViews: RsView[] = [];
      let healthyWeight = 0;
      let errors = 0;
      let online = 0;
      for (const r of v.realServers) {
        if (!r.adminUp) {
          rsViews.push({ address: r.address, port: r.port, status: 'DISABLED', configWeight: r.weight, adminDown: true });
          continue;
        }
        const a = admin.get(rsId(v.name, r.address, r.port));
        // keepalived: each checker votes; the real server is down while any of its checks is.
        const h = rsHealth(checksOf(v, r), health, v.alpha, r.weight);
        const verdict = h?.verdict ?? 'up';
        // No spreads here: a scrape builds this for every real server.
        const view: RsView = { address: r.address, port: r.port, status: 'ONLINE', configWeight: r.weight };
        if (a) view.admin = a;
        if (h) {
          const st = h.lead.state;
          const run = st?.run ?? 0;
          const { rise, fall } = h.lead.check.spec;
          view.health = st?.last
            ? { verdict, reason: st.last.reason, at: st.last.at, lastOk: st.last.ok, run, checks: h.checks, failures: h.failures, rise, fall }
            : { verdict, run, checks: h.checks, failures: h.failures, rise, fall };
        }
        // A look (the status, a scrape) makes no table.
        if (a === 'disabled') view.status = 'DISABLED';
        else if (verdict === 'down') {
          view.status = 'ERROR';
          errors++;
          if (v.inhibitOnFailure) {
            view.weight = 0;
            if (commit) dests.push(destOf(r, 0));
          }
        } else if (a === 'drain') {
          view.status = 'DRAINING';
          view.weight = 0;
          if (commit) dests.push(destOf(r, 0));
        } else {
          const w = h?.weight ?? r.weight;
          view.weight = w;
          if (commit) dests.push(destOf(r, w));
          healthyWeight += w;
          online++;
        }
        rsViews.push(view);
      }
      // Quorum with hysteresis: lost below quorum - hysteresis, regained at quorum + hysteresis.
      const prev = this.quorumMet.get(v.name);
      const met = prev === undefined ? healthyWeight >= v.quorum : prev ? healthyWeight >= v.quorum - v.hysteresis : healthyWeight >= v.quorum + v.hysteresis;
      if (commit) this.quorumMet.set(v.name, met);
      const sorry = !met && v.sorryServer !== undefined;
      if (commit && v.sorryServer && (sorry || v.sorryServerInhibit)) {
        // keepalived: while quorum is lost the sorry server alone serves (the real servers leave);
        // sorry_server_inhibit keeps it in the table at weight 0 the rest of the time.
        const s = v.sorryServer;
        if (sorry) dests = [];
        else dests = dests.filter((d) => d.key.address !== s.address || d.key.port !== s.port);
        dests.push({ key: { address: s.address, port: s.port }, forwarding: s.forwarding, weight: sorry ? 1 : 0, upperThreshold: 0, lowerThreshold: 0 });
      }
      if (commit && v.connectionLimit > 0) dests = limitConnections(dests, v.connectionLimit);
      if (commit)
        for (const key of serviceKeysOf(v))
          table.push({
            key,
            scheduler: v.scheduler,
            schedFlags: v.schedFlags,
            persistence: v.persistence,
            netmask: v.netmask,
            onePacket: v.onePacket,
            // Direct routing and tunnels keep the packet's port: a group's real servers take each service's (ipvsadm's rule).
            dests: v.group ? dests.map((d) => (d.forwarding === 'nat' ? d : { ...d, key: { ...d.key, port: key.port ?? 0 } })) : dests,
          });
      const view: VsView = {
        name: v.name,
        status: !met || online === 0 ? 'OFFLINE' : errors > 0 ? 'DEGRADED' : 'ONLINE',
        quorum: { required: v.quorum, hysteresis: v.hysteresis, healthyWeight, met },
        sorryServerActive: sorry,
        realServers: rsViews,
      };
      views.push(view);
      if (commit && prev !== undefined && prev !== met) quorumChanged.push(view);
    }
    if (mode === 'all') for (const name of [...this.quorumMet.keys()]) if (!seen.has(name)) this.quorumMet.delete(name);
    return { table, views, quorumChanged };
  }
}

/** The table as the configuration alone asks for it (no health, no operator choices). */
export function desiredTable(cfg: Pick<Config, 'virtualServers'>): DesiredService[] {
  return new Director().plan(cfg, () => undefined).table;
}
