// The desired IPVS table: what the configuration asks for. (Health checks will
// adjust weights and membership here; until then every configured real server
// is in.) Pure.

import type { Config, VirtualServerConfig } from '../config/types.js';
import type { DesiredService } from '../ipvs/reconcile.js';
import type { ServiceKey } from '../ipvs/types.js';

export function serviceKeyOf(v: VirtualServerConfig): ServiceKey {
  return v.fwmark !== undefined
    ? { family: v.family, fwmark: v.fwmark }
    : { family: v.family, protocol: v.protocol!, address: v.address!, port: v.port! };
}

export function desiredTable(cfg: Pick<Config, 'virtualServers'>): DesiredService[] {
  return cfg.virtualServers.map((v) => ({
    key: serviceKeyOf(v),
    scheduler: v.scheduler,
    schedFlags: v.schedFlags,
    persistence: v.persistence,
    netmask: v.netmask,
    onePacket: v.onePacket,
    dests: v.realServers.map((r) => ({
      key: { address: r.address, port: r.port },
      forwarding: r.forwarding,
      weight: r.weight,
      upperThreshold: r.upperThreshold,
      lowerThreshold: r.lowerThreshold,
      ...(r.tunnel ? { tunnel: r.tunnel } : {}),
    })),
  }));
}
