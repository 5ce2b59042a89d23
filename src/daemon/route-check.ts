// The route check: the kernel accepts a real server it has no route to (the
// packets are then dropped); say so, with the fix. Direct routing also needs the
// real server on a directly connected network: the director rewrites only the
// MAC address. Pure over a route table given as a value; hostRoutes() is the I/O.

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
