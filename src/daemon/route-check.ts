// The route check: the kernel accepts a real server it has no route to (the
// packets are then dropped); say so, with the fix. Direct routing also needs the
// real server on a directly connected network: the director rewrites only the
// MAC address. Pure over a route table given as a value; hostRoutes() is the I/O.

import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { type RouteLookup, RouteTable, RtNetlink } from '../net/rtnl.js';

/** What the check needs of a route table: how this host would reach an address. */
export interface Routes {
  lookup(address: string): RouteLookup;
}

/** This host's routes, dumped once (RTM_GETROUTE, all tables). */
export function hostRoutes(): Routes {
  const rt = new RtNetlink();
  try {
    return new RouteTable(rt.routes());
  } finally {
    rt.close();
  }
}

/** One line per real server this host cannot reach the way its forwarding method needs. */
export function routeProblems(cfg: Pick<Config, 'virtualServers'>, routes: Routes): string[] {
  const problems: string[] = [];
  const seen = new Map<string, RouteLookup>();
  for (const v of cfg.virtualServers) {
    for (const r of v.realServers) {
      let route = seen.get(r.address);
      if (!route) seen.set(r.address, (route = routes.lookup(r.address)));
      const where = `real server ${r.address} of virtual server "${v.name}"`;
      if (route.type !== 'unicast' && route.type !== 'local')
        problems.push(`${where}: no route to it (${route.type}); its traffic will be dropped: add a route or correct the address`);
      else if (r.forwarding === 'dr' && route.gateway)
        problems.push(`${where}: direct routing needs it on a directly connected network, but the route goes via ${route.gateway}: use forwarding nat or tunnel, or connect the network`);
    }
  }
  return problems;
}

/**
 * What to log of a new check's problems: those not reported last time only
 * (a Set: 10,000 unroutable real servers made this quadratic — seconds per reload),
 * at most `max` of them, the rest as one count (all are in vipd status --json).
 */
export function newProblemLines(before: readonly string[], now: readonly string[], max = 20): { lines: string[]; more?: { count: number; line: string } } {
  const seen = new Set(before);
  const fresh = now.filter((p) => !seen.has(p));
  const count = fresh.length - max;
  return {
    lines: fresh.slice(0, max),
    ...(count > 0 ? { more: { count, line: `... and ${count} more real server(s) with a route problem (vipd status --json lists them all)` } } : {}),
  };
}

/**
 * The ECMP tier's kernel settings vipd cannot make itself (the unit's
 * ProtectKernelTunables): one line per setting that is off, with the fix.
 * `read` gives a /proc/sys value (net/ipv4/vs/... exists once IPVS is loaded).
 */
export function tierSysctlAdvice(cfg: Pick<Config, 'virtualServers'>, read: (name: string) => string | undefined): string[] {
  if (!cfg.virtualServers.some((v) => v.announce && v.fwmark === undefined)) return [];
  const sloppy = read('net/ipv4/vs/sloppy_tcp')?.trim();
  if (sloppy === undefined || sloppy !== '0') return [];
  return [
    'net.ipv4.vs.sloppy_tcp is 0: in an ECMP tier a TCP connection being opened while the router moves its flow to another director breaks there ' +
      '(IPVS schedules a connection only on its SYN; the handshake\'s ACK meets the local stack, which resets it); ' +
      "set net.ipv4.vs.sloppy_tcp=1 on every director in /etc/sysctl.d/, with ip_vs in /etc/modules-load.d/ so that it applies at boot (vipd's unit cannot: ProtectKernelTunables)",
  ];
}

/** A /proc/sys value (`net/ipv4/vs/sloppy_tcp`), undefined when there is none (or /proc/sys is hidden). */
export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
