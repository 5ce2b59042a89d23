// A real server's checks (keepalived's checkers: several per real server, its own
// or its virtual server's) and what they say together, pure: the real server is
// up only while every check is up; its weight is keepalived's effective weight —
// the configured weight, moved by each misc_dynamic script (to code - 2) and by
// each FILE check (value x weight), kept within 0..2^31-1.

import type { HealthCheckConfig, RealServerConfig, VirtualServerConfig } from '../config/types.js';
import type { CheckState } from '../health/monitor.js';
import { type CheckSpec, checkKey, RiseFall, type Verdict } from '../health/types.js';

export interface RsCheck {
  spec: CheckSpec;
  key: string;
}

/** The check of one real server: its address and port unless connect_ip / connect_port say otherwise. */
export function checkSpecOf(hc: HealthCheckConfig, rs: RealServerConfig): CheckSpec {
  // Property by property, not `{ ...rest, address, port }`: V8 gives every object a
  // spread makes a hidden class of its own (with 12,000 checks, 12,000 classes: ~5 MB
  // of heap); objects built by the same sequence of stores share one.
  const spec: Record<string, unknown> = {};
  for (const k in hc) if (k !== 'port' && k !== 'address' && k !== 'trackFile') spec[k] = hc[k as keyof HealthCheckConfig];
  spec.address = hc.address ?? rs.address;
  spec.port = hc.port ?? rs.port;
  return spec as unknown as CheckSpec;
}

/** The checks that apply to a real server: its own (health_checks on it), else its virtual server's. */
export function checkConfigsOf(v: Pick<VirtualServerConfig, 'healthChecks'>, r: RealServerConfig): HealthCheckConfig[] {
  return r.healthChecks ?? v.healthChecks;
}

/**
 * A real server's checks with their keys, computed once per (config object, real
 * server): a verdict recomputes the desired services it touched, and building 10,000
 * keys each time was most of that work. Config objects are never mutated; a reload
 * makes new ones (and the old entries go with them).
 */
const cache = new WeakMap<RealServerConfig, { hcs: HealthCheckConfig[]; checks: RsCheck[] }>();
export function checksOf(v: Pick<VirtualServerConfig, 'healthChecks'>, r: RealServerConfig): RsCheck[] {
  const hcs = checkConfigsOf(v, r);
  let c = cache.get(r);
  if (!c || c.hcs !== hcs) {
    c = { hcs, checks: hcs.map((hc) => { const spec = checkSpecOf(hc, r); return { spec, key: checkKey(spec) }; }) };
    cache.set(r, c);
  }
  return c.checks;
}

/** What a real server's checks say together (health(key): a check's state, undefined before its first result). */
export interface RsHealth {
  verdict: Verdict;
  /** keepalived's effective weight; undefined when no check moves it. */
  weight?: number;
  /** The check that speaks for the real server: the first down, else the first whose last run failed, else the first. */
  lead: { check: RsCheck; state: CheckState | undefined };
  checks: number;
  failures: number;
}

export function rsHealth(checks: readonly RsCheck[], health: (key: string) => CheckState | undefined, alpha: boolean, configWeight: number): RsHealth | undefined {
  if (checks.length === 0) return undefined;
  // Loops, not map/find: a scrape reads this for every real server (12,000 closures and arrays less each time).
  let down = -1;
  let failed = -1;
  let weight = configWeight;
  let moved = false;
  let n = 0;
  let failures = 0;
  let leadState: CheckState | undefined;
  for (let i = 0; i < checks.length; i++) {
    const state = health(checks[i]!.key);
    if (i === 0) leadState = state;
    if (down < 0 && (state?.verdict ?? RiseFall.initial(alpha)) === 'down') {
      down = i;
      leadState = state;
    } else if (down < 0 && failed < 0 && state?.last && !state.last.ok) {
      failed = i;
      leadState = state;
    }
    if (state === undefined) continue;
    if (state.weight !== undefined) (weight += state.weight - configWeight), (moved = true);
    if (state.weightAdd !== undefined) (weight += state.weightAdd), (moved = true);
    n += state.checks;
    failures += state.failures;
  }
  const lead = { check: checks[down >= 0 ? down : failed >= 0 ? failed : 0]!, state: leadState };
  const h: RsHealth = { verdict: down >= 0 ? 'down' : 'up', lead, checks: n, failures };
  if (moved) h.weight = Math.max(0, Math.min(0x7fffffff, weight));
  return h;
}

/** Every check the config asks for: key -> spec and alpha (alpha if any virtual server using it says so). */
export function wantedChecks(cfg: { virtualServers: readonly VirtualServerConfig[] }): Map<string, { spec: CheckSpec; alpha: boolean }> {
  const out = new Map<string, { spec: CheckSpec; alpha: boolean }>();
  for (const v of cfg.virtualServers) {
    if (!v.adminUp) continue;
    for (const r of v.realServers) {
      if (!r.adminUp) continue;
      for (const { spec, key } of checksOf(v, r)) {
        const prev = out.get(key);
        out.set(key, { spec, alpha: (prev?.alpha ?? false) || v.alpha });
      }
    }
  }
  return out;
}
