// The IPVS part of `vipd status`, shaped from values: the kernel's table as it
// is now (with counters), vipd's names for its services, and what the manager
// knows (last reconcile, errors, route problems, sync daemon role). Pure.

import type { VirtualServerConfig } from '../config/types.js';
import { serviceKeysOf } from '../director/desired.js';
import type { IpvsTable } from '../ipvs/client.js';
import type { ReconcileReport } from '../ipvs/reconcile.js';
import { serviceId, serviceName } from '../ipvs/types.js';

/** The IPVS part of `vipd status`: the kernel's table as it is now, with vipd's names. */
export interface IpvsStatus {
  available: boolean;
  error?: string;
  lastReconcile?: ReconcileReport & { at: string };
  routeProblems?: string[];
  syncDaemon?: 'master' | 'backup' | 'master+backup';
  services: {
    /** The virtual server's name in the config; absent for a service vipd does not manage. */
    name?: string;
    service: string;
    managed: boolean;
    scheduler: string;
    persistence: number;
    connections?: number;
    realServers: {
      address: string;
      port: number;
      forwarding: string;
      weight: number;
      activeConns: number;
      inactiveConns: number;
      connections?: number;
    }[];
  }[];
}

export interface IpvsStatusInput {
  /** The kernel's table; undefined when it could not be dumped (or IPVS is unavailable). */
  table: IpvsTable | undefined;
  virtualServers: readonly VirtualServerConfig[];
  /** serviceId()s vipd owns. */
  owned: ReadonlySet<string>;
  available: boolean;
  error?: string | undefined;
  lastReport?: (ReconcileReport & { at: string }) | undefined;
  routeProblems: readonly string[];
  syncRole?: 'master' | 'backup' | 'master+backup' | undefined;
}

export function ipvsStatus(i: IpvsStatusInput): IpvsStatus {
  const names = new Map(i.virtualServers.flatMap((v) => serviceKeysOf(v).map((k) => [serviceId(k), v.name] as const)));
  return {
    available: i.available,
    ...(i.error ? { error: i.error } : {}),
    ...(i.lastReport ? { lastReconcile: i.lastReport } : {}),
    ...(i.routeProblems.length ? { routeProblems: [...i.routeProblems] } : {}),
    ...(i.syncRole ? { syncDaemon: i.syncRole } : {}),
    services: (i.table?.services ?? []).map((s) => {
      const name = names.get(serviceId(s.key));
      return {
        ...(name !== undefined ? { name } : {}),
        service: serviceName(s.key),
        managed: i.owned.has(serviceId(s.key)),
        scheduler: s.scheduler,
        persistence: s.persistence,
        ...(s.stats ? { connections: s.stats.connections } : {}),
        realServers: s.dests.map((d) => ({
          address: d.key.address,
          port: d.key.port,
          forwarding: d.forwarding,
          weight: d.weight,
          activeConns: d.activeConns,
          inactiveConns: d.inactiveConns,
          ...(d.stats ? { connections: d.stats.connections } : {}),
        })),
      };
    }),
  };
}
