// Which VIPs this director announces (the ECMP tier), pure: from the announcing
// virtual servers, their quorum, the host's health scripts and whether vipd is
// stopping — a decision per address with the reason an operator reads in
// `vipd status` and the log. And the tier hash: what every director of a tier
// must agree on for Maglev hashing to send a flow to the same real server
// whichever director the router picks.

import { createHash } from 'node:crypto';
import { canonicalIp } from '../config/announce.js';
import type { VirtualServerConfig } from '../config/types.js';
import { destName } from '../ipvs/types.js';
import { servicesName } from './desired.js';

export interface VipDecision {
  /** Canonical text (IPv6 per RFC 5952). */
  address: string;
  family: 'inet' | 'inet6';
  announced: boolean;
  /** Why, in a sentence: what holds it back, or what it stands on. */
  reason: string;
  /** The virtual servers announcing it. */
  virtualServers: string[];
}

export interface AnnounceInputs {
  /** Virtual server name -> whether it has quorum now (absent: not planned yet, so not announced). */
  quorum: ReadonlyMap<string, boolean>;
  /** The announce.track_script scripts failing now. */
  failingScripts: readonly string[];
  /** SIGTERM: everything is withdrawn before anything else stops. */
  stopping: boolean;
}

/**
 * One decision per announced address, in config order. An address is announced
 * while every virtual server announcing it has quorum (a director that cannot
 * serve one of the VIP's services leaves the VIP to the directors that can), no
 * host health script fails, and vipd is not stopping.
 */
export function decideAnnouncements(vss: readonly VirtualServerConfig[], inp: AnnounceInputs): VipDecision[] {
  const byAddr = new Map<string, VirtualServerConfig[]>();
  for (const v of vss) {
    if (!v.announce || v.address === undefined) continue;
    const ip = canonicalIp(v.address);
    byAddr.set(ip, [...(byAddr.get(ip) ?? []), v]);
  }
  const out: VipDecision[] = [];
  for (const [address, list] of byAddr) {
    const names = list.map((v) => v.name);
    const base = { address, family: list[0]!.family, virtualServers: names };
    const without = list.filter((v) => inp.quorum.get(v.name) !== true);
    if (inp.stopping) out.push({ ...base, announced: false, reason: 'withdrawn: vipd is stopping' });
    else if (inp.failingScripts.length > 0) out.push({ ...base, announced: false, reason: `withdrawn: host health script ${inp.failingScripts.join(', ')} failing` });
    else if (without.length > 0)
      out.push({
        ...base,
        announced: false,
        reason: `withdrawn: ${without.map((v) => `${v.name} (${servicesName(v)}) ${inp.quorum.has(v.name) ? 'has lost quorum' : 'has no verdict yet'}`).join(', ')}`,
      });
    else out.push({ ...base, announced: true, reason: `announced: ${names.join(', ')} ${names.length > 1 ? 'have' : 'has'} quorum` });
  }
  return out;
}

/**
 * The tier hash: sha256 over what decides where a flow goes — each announced
 * service's identity, scheduler, flags and persistence and its real servers in
 * order with their weights and forwarding — as 16 hex digits. Directors showing
 * the same hash in `vipd status` hash flows alike; undefined when nothing is announced.
 */
export function tierHash(vss: readonly VirtualServerConfig[]): string | undefined {
  const announced = vss.filter((v) => v.announce);
  if (announced.length === 0) return undefined;
  const canon = announced
    .map((v) => ({
      service: servicesName(v),
      scheduler: v.scheduler,
      flags: [v.schedFlags.fallback ? 'fallback' : '', v.schedFlags.port ? 'port' : ''].filter(Boolean),
      persistence: v.persistence ? [v.persistence, v.netmask] : 0,
      realServers: v.realServers.map((r) => [destName(r), r.weight, r.forwarding, r.tunnel ?? null]),
      sorryServer: v.sorryServer ? [destName(v.sorryServer), v.sorryServer.forwarding] : null,
      quorum: [v.quorum, v.hysteresis],
      checks: v.healthChecks,
      limit: v.connectionLimit,
      admin: v.adminUp,
    }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(canon)).digest('hex').slice(0, 16);
}
