// The ECMP tier: VIPs announced to the upstream routers by a routing daemon
// (BIRD 2; FRR alike) instead of held by VRRP. vipd installs a /32 (/128)
// route per announced VIP into a kernel routing table of its own while this
// director can serve it; the daemon exports that table (README: Scaling out).
//
//   announce:                        # top level: how (defaults shown)
//     table: 200                     # the kernel table the routes go into
//     drain_delay: 2                 # SIGTERM: seconds between the withdrawal and the stop
//     track_script: [chk_host]       # host health: every VIP withdrawn while one fails
//   virtual_servers:
//     web: {address: 192.0.2.100, port: 80, announce: true, ...}   # which
//
// A VIP is either VRRP's (virtual_ipaddress of an instance) or announced, never
// both; every virtual server of an announced address announces it (the route
// is per address).

import type { Node } from 'yaml';
import { inetAddrBytes, inetAddrText, familyOf } from '../net/inet.js';
import { TABLES } from '../net/rtroute.js';
import { didYouMean, type Fields, type MapView, num, str } from './reader.js';
import type { AnnounceConfig, VrrpInstanceConfig } from './types.js';

export const ANNOUNCE_DEFAULTS: AnnounceConfig = { table: 200, drainMs: 2000, trackScripts: [] };
const RESERVED = new Map(Object.entries(TABLES).map(([name, id]) => [id, name]));

/** An address in one canonical text (IPv6 per RFC 5952), so "2001:DB8::1" and "2001:db8:0::1" are one VIP. */
export const canonicalIp = (ip: string): string => inetAddrText(inetAddrBytes(ip), familyOf(ip));

/** The top-level `announce:` section; `scripts`: the names of the vrrp_scripts defined. */
export function announce(f: Fields, node: Node | null | undefined, scripts: readonly string[]): AnnounceConfig {
  if (node === undefined || node === null) return ANNOUNCE_DEFAULTS;
  const m = f.map(node, 'announce', 'a map {table, drain_delay, track_script}');
  if (!m) return ANNOUNCE_DEFAULTS;
  m.allowOnly(['table', 'drain_delay', 'track_script']);
  const table = f.get(
    m,
    'table',
    num(1, 0xffffffff, { integer: true, unit: 'a kernel routing table of vipd\'s own, not 253 default, 254 main or 255 local' }),
  );
  if (table !== undefined && RESERVED.has(table))
    f.r.issue(m.value('table') ?? m.node, m.sub('table'), `${table} is the kernel's "${RESERVED.get(table)}" table, which the host routes by; valid: a table of vipd's own, 1..252 or 256..4294967295 (e.g. 200)`);
  const drain = f.get(m, 'drain_delay', num(0, 3600, { unit: 'seconds' }));
  const trackScripts: string[] = [];
  (f.list(m, 'track_script') ?? []).forEach((n, i) => {
    const p = `${m.sub('track_script')}[${i}]`;
    const name = f.check(n, p, str('the name of a vrrp_script'));
    if (name === undefined) return;
    if (!scripts.includes(name)) {
      const guess = didYouMean(name, scripts);
      f.r.issue(n, p, `no vrrp_script "${name}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${scripts.join(', ') || '(no vrrp_scripts defined)'}`);
      return;
    }
    if (!trackScripts.includes(name)) trackScripts.push(name);
  });
  return {
    table: table !== undefined && !RESERVED.has(table) ? table : ANNOUNCE_DEFAULTS.table,
    drainMs: drain !== undefined ? Math.round(drain * 1000) : ANNOUNCE_DEFAULTS.drainMs,
    trackScripts,
  };
}

/** VRRP's addresses (virtual_ipaddress and _excluded), canonical -> the instance that holds it. */
export function vrrpOwned(instances: readonly VrrpInstanceConfig[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of instances) for (const v of [...i.virtualIps, ...(i.excludedIps ?? [])]) out.set(canonicalIp(v.address), i.name);
  return out;
}

/**
 * One virtual server's `announce` key against the rest: not a fwmark service, not a
 * VRRP address, and the same choice as the other virtual servers of its address.
 * `byAddress` remembers the first virtual server of each address and its choice.
 */
export function checkAnnounce(
  f: Fields,
  m: MapView,
  vs: { name: string; address: string | undefined; announce: boolean },
  vrrp: ReadonlyMap<string, string>,
  byAddress: Map<string, { name: string; announce: boolean }>,
): void {
  const at = m.value('announce') ?? m.value('address') ?? m.node; // no announce key: at the address it is about
  if (vs.address === undefined) {
    if (vs.announce) f.r.issue(at, m.sub('announce'), 'a fwmark service has no address to announce; valid: announce on a virtual server with an address (announce the fwmark\'s addresses by virtual servers of their own)');
    return;
  }
  const ip = canonicalIp(vs.address);
  const owner = vrrp.get(ip);
  if (vs.announce && owner !== undefined)
    f.r.issue(at, m.sub('announce'), `${vs.address} is a virtual_ipaddress of VRRP instance "${owner}" too; a VIP is either VRRP's (held by the master) or announced (by every director of the tier): remove it from one`);
  const first = byAddress.get(ip);
  if (!first) {
    byAddress.set(ip, { name: vs.name, announce: vs.announce });
    return;
  }
  if (first.announce !== vs.announce)
    f.r.issue(at, m.sub('announce'), `${vs.address} is ${first.announce ? '' : 'not '}announced by virtual server "${first.name}"; the route is per address: valid: announce: ${first.announce} here too, or ${vs.announce} there`);
}
