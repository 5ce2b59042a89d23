// keepalived's virtual_server_group: many services — addresses, address ranges,
// ports, fwmarks — sharing one pool of real servers, one set of checks and one
// quorum. Each member is a line as keepalived writes it:
//   "192.0.2.10 80"   "192.0.2.10-20 80"   "192.0.2.250-192.0.3.10 443"
//   "192.0.2.8/29 80" "2001:db8::10-1f 80" "fwmark 7"   (no port: 0, all ports)

import { isIPv4, isIPv6 } from 'node:net';
import type { Node } from 'yaml';
import { bytesToIpv6, ipv6ToBytes } from '../net/inet.js';
import type { ServiceKey } from '../ipvs/types.js';
import { type Fields, type MapView, NAME, str } from './reader.js';
import type { GroupMember, VirtualServerConfig } from './types.js';

/** At most this many services per group: a mistyped range must not create a million. */
export const GROUP_MAX = 4096;

export interface VsGroup {
  name: string;
  members: GroupMember[];
  /** The addresses' family (undefined: fwmarks only). */
  family: 'inet' | 'inet6' | undefined;
  /** fwmark lines that said their family. */
  fwmarkFamily: 'inet' | 'inet6' | undefined;
}

const v4ToInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToV4 = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const v6ToBig = (a: string): bigint => ipv6ToBytes(a).reduce((n, b) => (n << 8n) | BigInt(b), 0n);
function bigToV6(n: bigint): string {
  const b = Buffer.alloc(16);
  for (let i = 15; i >= 0; i--) (b[i] = Number(n & 0xffn)), (n >>= 8n);
  return bytesToIpv6(b);
}

/** An address, a range or a prefix to its addresses (first to last), or why not. */
export function expandAddresses(text: string): { family: 'inet' | 'inet6'; addresses: string[] } | string {
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  const base = text.slice(0, slash >= 0 ? slash : dash >= 0 ? dash : undefined);
  const v4 = isIPv4(base);
  if (!v4 && !(isIPv6(base) && !base.includes('%'))) return `"${base}" is not an IP address`;
  const bits = v4 ? 32 : 128;
  const toBig = (a: string): bigint => (v4 ? BigInt(v4ToInt(a)) : v6ToBig(a));
  const fromBig = (n: bigint): string => (v4 ? intToV4(Number(n)) : bigToV6(n));
  const first = toBig(base);
  let last = first;
  if (slash >= 0) {
    const len = Number(text.slice(slash + 1));
    if (!/^\d{1,3}$/.test(text.slice(slash + 1)) || len < 1 || len > bits) return `"/${text.slice(slash + 1)}" is not a prefix length 1..${bits}`;
    last = first | ((1n << BigInt(bits - len)) - 1n);
  } else if (dash >= 0) {
    const end = text.slice(dash + 1);
    if (v4 ? isIPv4(end) : isIPv6(end)) last = toBig(end);
    else if (v4 && /^\d{1,3}$/.test(end) && Number(end) <= 255) last = (first & ~0xffn) | BigInt(end);
    else if (!v4 && /^[0-9a-fA-F]{1,4}$/.test(end)) last = (first & ~0xffffn) | BigInt(parseInt(end, 16));
    else return `"${end}" is not the end of a range; valid: ${v4 ? '192.0.2.10-20 or 192.0.2.250-192.0.3.10' : '2001:db8::10-1f or 2001:db8::10-2001:db8::1f'}`;
    if (last < first) return `the range ends (${fromBig(last)}) before it starts (${base})`;
  }
  if (last - first >= BigInt(GROUP_MAX)) return `${text} is ${last - first + 1n} addresses; valid: at most ${GROUP_MAX} services per group`;
  const addresses: string[] = [];
  for (let n = first; n <= last; n++) addresses.push(fromBig(n));
  return { family: v4 ? 'inet' : 'inet6', addresses };
}

function group(f: Fields, name: string, keyNode: Node, m: MapView): VsGroup | undefined {
  const path = `virtual_server_groups.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `group name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const lines = f.list(m, name);
  if (!lines) return undefined;
  if (lines.length === 0) f.r.issue(m.value(name) ?? keyNode, path, 'the group is empty; valid: lines like "192.0.2.10-20 80" or "fwmark 7"');
  const g: VsGroup = { name, members: [], family: undefined, fwmarkFamily: undefined };
  const seen = new Set<string>();
  lines.forEach((n, i) => {
    const p = `${path}[${i}]`;
    const line = f.check(n, p, str('a line like "192.0.2.10-20 80" or "fwmark 7"'));
    if (line === undefined) return;
    const words = line.trim().split(/\s+/);
    const bad = (why: string) => f.r.issue(n, p, `"${line}": ${why}; valid: ADDRESS[-END|/LEN] [PORT], or fwmark N [inet|inet6]`);
    let add: GroupMember[];
    if (words[0] === 'fwmark') {
      const mark = Number(words[1]);
      if (!/^\d+$/.test(words[1] ?? '') || mark < 1 || mark > 0xffffffff) return bad(`"${words[1] ?? ''}" is not a fwmark 1..4294967295`);
      if (words[2] !== undefined && words[2] !== 'inet' && words[2] !== 'inet6') return bad(`"${words[2]}" is not inet or inet6`);
      if (words.length > 3) return bad(`"${words[3]}" is one word too many`);
      if (words[2]) g.fwmarkFamily = words[2] as 'inet' | 'inet6';
      add = [{ fwmark: mark }];
    } else {
      if (words.length > 2) return bad(`"${words[2]}" is one word too many`);
      const port = words[1] === undefined ? 0 : Number(words[1]);
      if (words[1] !== undefined && (!/^\d+$/.test(words[1]) || port > 65535)) return bad(`"${words[1]}" is not a port 0..65535`);
      const r = expandAddresses(words[0]!);
      if (typeof r === 'string') return bad(r);
      if (g.family && g.family !== r.family) return bad(`${r.family === 'inet6' ? 'IPv6' : 'IPv4'} beside ${g.family === 'inet6' ? 'IPv6' : 'IPv4'} addresses: a group serves one family (a service and its real servers share it); put them in two groups`);
      g.family = r.family;
      add = r.addresses.map((address) => ({ address, port }));
    }
    for (const a of add) {
      const id = a.fwmark !== undefined ? `fwmark ${a.fwmark}` : `${a.address} ${a.port}`;
      if (seen.has(id)) return bad(`${id} is already in this group`);
      seen.add(id);
    }
    if (g.members.length + add.length > GROUP_MAX) return bad(`the group would have ${g.members.length + add.length} services; valid: at most ${GROUP_MAX}`);
    g.members.push(...add);
  });
  if (g.family && g.fwmarkFamily && g.family !== g.fwmarkFamily) f.r.issue(m.value(name) ?? keyNode, path, `its fwmarks are ${g.fwmarkFamily} but its addresses ${g.family}; a group serves one family`);
  return g;
}

/** `virtual_server_groups`: name -> its lines. */
export function vsGroups(f: Fields, top: MapView): Map<string, VsGroup> {
  const out = new Map<string, VsGroup>();
  if (!top.has('virtual_server_groups')) return out;
  const m = f.map(top.value('virtual_server_groups') ?? top.keyNode('virtual_server_groups'), 'virtual_server_groups', 'a map of group name -> lines like "192.0.2.10-20 80" or "fwmark 7"');
  for (const name of m?.keys() ?? []) {
    const g = group(f, name, m!.keyNode(name)!, m!);
    if (g) out.set(name, g);
  }
  return out;
}

/** The IPVS services of a virtual server: its one service, or one per group member. */
export function serviceKeysOf(v: VirtualServerConfig): ServiceKey[] {
  if (v.group) return v.group.members.map((m) => (m.fwmark !== undefined ? { family: v.family, fwmark: m.fwmark } : { family: v.family, protocol: v.protocol!, address: m.address, port: m.port }));
  return [v.fwmark !== undefined ? { family: v.family, fwmark: v.fwmark } : { family: v.family, protocol: v.protocol!, address: v.address!, port: v.port! }];
}
