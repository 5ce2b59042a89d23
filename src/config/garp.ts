// Gratuitous ARP / unsolicited NA settings, with keepalived's names and
// defaults: the global `vrrp_garp_*` keys and `vrrp_min_garp` set the defaults,
// each instance's `garp_*` keys override them (keepalived.conf(5)).

import { bool, type Check, type Fields, type MapView, num } from './reader.js';
import type { GarpConfig } from './types.js';

interface Key {
  field: keyof GarpConfig;
  /** The instance's key; the global one is `vrrp_` + it. */
  key: string;
  check: Check<number>;
  /** Seconds in the file, milliseconds in GarpConfig. */
  ms: boolean;
}

const secs = (max: number): Check<number> => num(0, max, { unit: 'seconds' });
const KEYS: readonly Key[] = [
  { field: 'count', key: 'garp_master_repeat', check: num(1, 100, { integer: true, unit: 'messages per address' }), ms: false },
  { field: 'repeatDelayMs', key: 'garp_master_delay', check: secs(1000), ms: true },
  { field: 'refreshMs', key: 'garp_master_refresh', check: secs(86400), ms: true },
  { field: 'refreshCount', key: 'garp_master_refresh_repeat', check: num(1, 100, { integer: true, unit: 'messages per address' }), ms: false },
  { field: 'lowerPrioCount', key: 'garp_lower_prio_repeat', check: num(0, 100, { integer: true, unit: 'messages per address, 0 = none' }), ms: false },
  { field: 'lowerPrioDelayMs', key: 'garp_lower_prio_delay', check: secs(1000), ms: true },
  { field: 'intervalMs', key: 'garp_interval', check: secs(1), ms: true },
  { field: 'gnaIntervalMs', key: 'gna_interval', check: secs(1), ms: true },
];

/** The instance keys this module reads (vrrp.ts allows them). */
export const GARP_KEYS: readonly string[] = KEYS.map((k) => k.key);
/** The global keys (global.ts allows them): keepalived's global_defs names. */
export const GARP_GLOBAL_KEYS: readonly string[] = [...KEYS.map((k) => `vrrp_${k.key}`), 'vrrp_min_garp'];

/** keepalived's defaults: 5 messages now and 5 more 5 s later, 1 per refresh (off); the lower-priority ones as the master ones. */
export const GARP_DEFAULTS: GarpConfig = {
  count: 5,
  intervalMs: 0,
  gnaIntervalMs: 0,
  repeatDelayMs: 5000,
  refreshMs: 0,
  refreshCount: 1,
  lowerPrioCount: 5,
  lowerPrioDelayMs: 5000,
};

/** Reads each key present (with prefix) over `base`; reports a refresh period below 1 s. */
function read(f: Fields, m: MapView, prefix: string, base: GarpConfig): { cfg: GarpConfig; set: Set<keyof GarpConfig> } {
  const cfg = { ...base };
  const set = new Set<keyof GarpConfig>();
  for (const k of KEYS) {
    const v = f.get(m, prefix + k.key, k.check);
    if (v === undefined) continue;
    cfg[k.field] = k.ms ? Math.round(v * 1000) : v;
    set.add(k.field);
  }
  const refresh = prefix + 'garp_master_refresh';
  if (cfg.refreshMs > 0 && cfg.refreshMs < 1000 && set.has('refreshMs'))
    f.r.issue(m.value(refresh) ?? m.node, m.sub(refresh), `${cfg.refreshMs / 1000} is too short; valid: 0 (off) or at least 1 second`);
  return { cfg, set };
}

/**
 * The global defaults. `vrrp_min_garp: true` (keepalived) makes the defaults one
 * message on becoming master and no second burst; keys written out still win. The
 * lower-priority defaults follow the master ones, as keepalived's do.
 */
export function garpDefaults(f: Fields, m: MapView): GarpConfig {
  const min = f.get(m, 'vrrp_min_garp', bool) ?? false;
  const { cfg, set } = read(f, m, 'vrrp_', min ? { ...GARP_DEFAULTS, count: 1, repeatDelayMs: 0 } : GARP_DEFAULTS);
  if (!set.has('lowerPrioCount')) cfg.lowerPrioCount = cfg.count;
  if (!set.has('lowerPrioDelayMs')) cfg.lowerPrioDelayMs = cfg.repeatDelayMs;
  return cfg;
}

/** An instance's settings: its own keys over the global defaults. */
export function instanceGarp(f: Fields, m: MapView, defaults: GarpConfig): GarpConfig {
  return read(f, m, '', defaults).cfg;
}
