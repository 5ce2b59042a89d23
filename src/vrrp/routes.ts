// The routes and policy rules a master holds (keepalived's virtual_routes and
// virtual_rules): added when the instance becomes MASTER, removed when it leaves.
// A route the kernel refuses (a gateway it cannot reach, a table it lacks) is
// logged with the route and the kernel's reason; the instance stays MASTER, as
// keepalived's does — its VIPs are what the election is about.

import type { HeldRoute } from '../config/types.js';
import type { Logger } from '../log.js';
import { routeText, ruleText, type RouteSpec, type RuleSpec } from '../net/rtroute.js';

/** What the holder needs from the host. Implemented over rtnetlink (hostnet.ts). */
export interface HostRoutes {
  /** Adds a route (dev: its interface, looked up by name); false if it was already there. */
  addRoute(r: RouteSpec): boolean;
  /** Removes a route; false if it was not there. */
  delRoute(r: RouteSpec): boolean;
  addRule(r: RuleSpec): boolean;
  delRule(r: RuleSpec): boolean;
}

export interface HeldRoutes {
  routes: readonly HeldRoute<RouteSpec>[];
  rules: readonly HeldRoute<RuleSpec>[];
}

const errText = (err: unknown): string => (err as Error).message;

export class RouteHolder {
  /** The lines this process added (only their removal failing is news). */
  private readonly added = new Set<string>();

  constructor(
    private readonly host: HostRoutes | undefined,
    private readonly log: Logger,
  ) {}

  /** Routes first, then the rules that may point at their tables. */
  take(h: HeldRoutes): void {
    for (const r of h.routes) this.add(`route ${routeText(r.spec)}`, () => this.host!.addRoute(r.spec));
    for (const r of h.rules) this.add(`rule ${ruleText(r.spec)}`, () => this.host!.addRule(r.spec));
  }

  /** Rules first (they stop steering traffic), then the routes. */
  release(h: HeldRoutes): void {
    for (const r of h.rules) this.remove(`rule ${ruleText(r.spec)}`, () => this.host!.delRule(r.spec));
    for (const r of h.routes) this.remove(`route ${routeText(r.spec)}`, () => this.host!.delRoute(r.spec));
  }

  /** A reload while master: what left the config goes, what came in is added. */
  change(old: HeldRoutes, now: HeldRoutes): void {
    const gone = (a: readonly HeldRoute<unknown>[], b: readonly HeldRoute<unknown>[]) => a.filter((x) => !b.some((y) => y.text === x.text));
    this.release({ routes: gone(old.routes, now.routes) as HeldRoutes['routes'], rules: gone(old.rules, now.rules) as HeldRoutes['rules'] });
    this.take({ routes: gone(now.routes, old.routes) as HeldRoutes['routes'], rules: gone(now.rules, old.rules) as HeldRoutes['rules'] });
  }

  private add(what: string, fn: () => boolean): void {
    if (!this.host) return;
    try {
      if (fn()) this.log.debug({ event: 'route-added' }, `added ${what}`);
      this.added.add(what);
    } catch (err) {
      this.log.error({ event: 'route-failed', route: what, err: errText(err) }, `cannot add ${what}: ${errText(err)}; check the line in virtual_routes / virtual_rules (gateway reachable, device present)`);
    }
  }

  private remove(what: string, fn: () => boolean): void {
    if (!this.host) return;
    try {
      fn();
      this.added.delete(what);
    } catch (err) {
      const line = `cannot remove ${what}: ${errText(err)}`;
      if (this.added.has(what)) this.log.error({ event: 'route-failed', route: what, err: errText(err) }, line);
      else this.log.debug({ route: what }, line);
    }
  }
}
