// The `ip addr add` options of a virtual address, as keepalived's
// virtual_ipaddress takes them (keepalived.conf(5)): brd, scope, peer, home,
// -nodad (here `nodad: false`), mngtmpaddr, noprefixroute, preferred_lft.
// Each is checked against the address's family; what the kernel would ignore
// or refuse for that family is an error naming the fix.

import { isIPv6 } from 'node:net';
import { bytesToIpv6, ipv6ToBytes } from '../net/inet.js';
import { bool, type Check, DOTTED_QUAD, type Fields, type MapView, str } from './reader.js';
import type { VirtualIp } from './types.js';

export const VIP_OPTION_KEYS = ['brd', 'scope', 'peer', 'home', 'nodad', 'mngtmpaddr', 'noprefixroute', 'preferred_lft'] as const;

type Options = Pick<VirtualIp, 'brd' | 'scope' | 'peer' | 'home' | 'nodad' | 'mngtmpaddr' | 'noprefixroute' | 'preferredLft'>;

/** rtnetlink's scope names (ip-address(8)): global is the kernel's RT_SCOPE_UNIVERSE. */
const SCOPES: Record<string, number> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const IPV4_ONLY: Record<string, string> = {
  brd: 'IPv6 has no broadcast address',
  scope: "the kernel derives an IPv6 address's scope from the address itself, and keepalived ignores it too",
};
const IPV6_ONLY: Record<string, string> = {
  home: 'a home address is Mobile IPv6',
  nodad: 'duplicate address detection is IPv6 (ARP has none)',
  mngtmpaddr: 'temporary addresses are IPv6 privacy extensions',
  preferred_lft: 'vipd sets lifetimes on IPv6 addresses only, as keepalived',
};

const SCOPE_VALID = 'valid: global | site | link | host | nowhere, or a number 0..255';
const scope: Check<number> = (v) => {
  if (typeof v === 'string' && v in SCOPES) return { ok: true, value: SCOPES[v]! };
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) return { ok: true, value: v };
  return { ok: false, why: `${JSON.stringify(v)} is not a scope; ${SCOPE_VALID}` };
};
const lifetime: Check<number> = (v) =>
  v === 'forever'
    ? { ok: true, value: -1 }
    : typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 0xffffffff
      ? { ok: true, value: v }
      : { ok: false, why: `expected forever or whole seconds 0..4294967294 (0: deprecated, never chosen as a source address), got ${JSON.stringify(v)}` };

/** The options of a VIP (a map `m`, or undefined for the plain string form) whose address is IPv6 (`v6`) with this prefix length. */
export function vipOptions(f: Fields, m: MapView | undefined, v6: boolean, prefix: number): Options {
  // keepalived deprecates a /128 (preferred_lft 0), so health checks do not pick the VIP as their source.
  if (!m) return v6 && prefix === 128 ? { preferredLft: 0 } : {};
  for (const [key, why] of Object.entries(v6 ? IPV4_ONLY : IPV6_ONLY))
    if (m.has(key)) f.r.issue(m.keyNode(key), m.sub(key), `${key} applies to ${v6 ? 'IPv4' : 'IPv6'} addresses only: ${why}; remove it`);
  const out: Options = {};
  if (!v6) {
    const brd = f.get(m, 'brd', str('an IPv4 broadcast address like 192.0.2.255', (s) => (DOTTED_QUAD.test(s) ? undefined : `"${s}" is not a dotted-quad IPv4 address`)));
    if (brd !== undefined) out.brd = brd;
    const sc = f.get(m, 'scope', scope);
    if (sc !== undefined) out.scope = sc;
  }
  const peer = f.get(m, 'peer', str(v6 ? 'an IPv6 address like 2001:db8::2' : 'an IPv4 address like 192.0.2.2', (s) => ((v6 ? isIPv6(s) && !s.includes('%') : DOTTED_QUAD.test(s)) ? undefined : `"${s}" is not an ${v6 ? 'IPv6' : 'IPv4'} address (the peer is of the address's family)`)));
  if (peer !== undefined) out.peer = v6 ? bytesToIpv6(ipv6ToBytes(peer)) : peer;
  const noprefixroute = f.get(m, 'noprefixroute', bool);
  if (noprefixroute) out.noprefixroute = true;
  if (!v6) return out;
  for (const key of ['home', 'mngtmpaddr'] as const) if (f.get(m, key, bool)) out[key] = true;
  if (f.get(m, 'nodad', bool) === false) out.nodad = false;
  const lft = f.get(m, 'preferred_lft', lifetime) ?? (prefix === 128 ? 0 : undefined);
  if (lft !== undefined && lft >= 0) out.preferredLft = lft;
  return out;
}
