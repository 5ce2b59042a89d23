// The addresses and routes a VRRP instance holds, as configured: its virtual
// IPs (IPv4 or IPv6, with keepalived's options), its unicast peers' addresses,
// and its virtual_routes / virtual_rules lines.

import { isIPv6 } from 'node:net';
import { isMap, isScalar, type Node } from 'yaml';
import { bytesToIpv6, ipv6ToBytes } from '../net/inet.js';
import { bool, DOTTED_QUAD, type Fields, IFNAMSIZ, ifname, MapView, str } from './reader.js';
import type { LineResult } from './routes.js';
import type { HeldRoute, VirtualIp } from './types.js';
import { VIP_OPTION_KEYS, vipOptions } from './vip-options.js';

function vip(f: Fields, node: Node, path: string, iface: string): VirtualIp | undefined {
  let addrNode: Node = node;
  let device = iface;
  let label: string | undefined;
  let noTrack = false;
  let addrPath = path;
  let labelAt: { node: Node; path: string } = { node, path };
  let m: MapView | undefined;
  if (isMap(node)) {
    m = new MapView(f.r, node, path);
    m.allowOnly(['address', 'device', 'label', 'no_track', ...VIP_OPTION_KEYS]);
    noTrack = f.get(m, 'no_track', bool) ?? false;
    if (!m.has('address')) {
      f.r.issue(node, path, 'missing key "address"; valid: {address: 192.0.2.100/24, device: eth0, label: eth0:vip}');
      return undefined;
    }
    addrNode = m.value('address') ?? node;
    addrPath = m.sub('address');
    device = f.get(m, 'device', ifname) ?? iface;
    label = f.get(m, 'label', str('a label "<device>:<name>", at most 15 bytes'));
    labelAt = { node: m.value('label') ?? node, path: m.sub('label') };
    if (label !== undefined && (!label.startsWith(`${device}:`) || Buffer.byteLength(label) >= IFNAMSIZ)) {
      const long = Buffer.byteLength(label) >= IFNAMSIZ ? ` (it is ${Buffer.byteLength(label)})` : '';
      f.r.issue(m.value('label') ?? node, m.sub('label'), `label "${label}" must start with "${device}:" and be at most 15 bytes${long} (a Linux rule, IFNAMSIZ); valid: e.g. ${device}:vip`.slice(0, 200));
      label = undefined;
    }
  }
  const text = f.check(addrNode, addrPath, str('an address like 192.0.2.100/24 or 2001:db8::100/64'));
  if (text === undefined) return undefined;
  const addr = text.split('/')[0];
  if (addr !== undefined && addr.includes(':')) {
    if (label !== undefined) {
      f.r.issue(labelAt.node, labelAt.path, 'an IPv6 address cannot have a label (the kernel keeps labels for IPv4 only); remove label');
      return undefined;
    }
    const v = vip6(f, addrNode, addrPath, text, device);
    return v && { ...v, ...vipOptions(f, m, true, v.prefix), ...(noTrack ? { noTrack } : {}) };
  }
  const valid = 'valid: an IPv4 address with an optional prefix length 1..32, e.g. 192.0.2.100/24';
  const prefix = cidrPrefix(f, addrNode, addrPath, text, 'IPv4', 32, valid);
  if (prefix === undefined || !addr) return undefined;
  const first = Number(addr.split('.')[0]);
  if (addr === '0.0.0.0' || addr === '255.255.255.255' || (first >= 224 && first <= 239)) {
    f.r.issue(addrNode, addrPath, `${addr} cannot be a virtual IP (unspecified, broadcast or multicast); ${valid}`);
    return undefined;
  }
  return { address: addr, prefix, device, ...(label !== undefined ? { label } : {}), ...(noTrack ? { noTrack } : {}), ...vipOptions(f, m, false, prefix) };
}


/** The prefix length of "address[/len]" (default: the full length), or undefined after an issue: not an address of `family`, or the length out of 1..max. */
function cidrPrefix(f: Fields, node: Node, path: string, text: string, family: 'IPv4' | 'IPv6', max: 32 | 128, valid: string): number | undefined {
  const [addr = '', len, extra] = text.split('/');
  const ok = family === 'IPv4' ? DOTTED_QUAD.test(addr) : isIPv6(addr) && !addr.includes('%');
  if (extra !== undefined || !ok) {
    f.r.issue(node, path, `"${text}" is not an ${family} address; ${valid}`);
    return undefined;
  }
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 1 && prefix <= max)) {
    f.r.issue(node, path, `prefix length "/${len}" is out of range; ${valid}`);
    return undefined;
  }
  return prefix;
}

/** An IPv6 virtual address (keepalived adds it with nodad; the kernel has no labels for IPv6). */
function vip6(f: Fields, node: Node, path: string, text: string, device: string): VirtualIp | undefined {
  const valid = 'valid: an IPv6 address with an optional prefix length 1..128, e.g. 2001:db8::100/64';
  const prefix = cidrPrefix(f, node, path, text, 'IPv6', 128, valid);
  if (prefix === undefined) return undefined;
  const addr = text.split('/')[0]!;
  const address = bytesToIpv6(ipv6ToBytes(addr));
  if (address === '::' || address === '::1' || address.startsWith('ff')) {
    f.r.issue(node, path, `${addr} cannot be a virtual IP (unspecified, loopback or multicast); ${valid}`);
    return undefined;
  }
  return { address, prefix, device };
}

/** A list of virtual addresses (virtual_ipaddress, virtual_ipaddress_excluded), each once across `seen`. */
export function vipList(f: Fields, m: MapView, key: string, iface: string, seen: Set<string>): { vips: VirtualIp[]; at: { node: Node; path: string }[] } {
  const out = { vips: [] as VirtualIp[], at: [] as { node: Node; path: string }[] };
  (f.list(m, key) ?? []).forEach((n, i) => {
    const path = `${m.sub(key)}[${i}]`;
    const v = vip(f, n, path, iface);
    if (!v) return;
    if (seen.has(v.address)) f.r.issue(n, path, `${v.address} is listed twice; list each virtual IP once`);
    else {
      seen.add(v.address);
      out.vips.push(v);
      out.at.push({ node: n, path });
    }
  });
  return out;
}

/** An IPv4 or IPv6 address of the instance's family (unicast_src_ip, unicast_peer), normalised. */
export function peerAddr(f: Fields, node: Node, path: string, family: 'inet' | 'inet6'): string | undefined {
  const v6 = family === 'inet6';
  const what = v6 ? 'an IPv6 address like 2001:db8::12 or fe80::12 (this instance is IPv6: its virtual_ipaddress are)' : 'an IPv4 address like 192.0.2.12 (this instance is IPv4: its virtual_ipaddress are)';
  const text = f.check(node, path, str(what, (s) => (v6 ? (isIPv6(s) && !s.includes('%') ? undefined : `"${s}" is not an IPv6 address`) : DOTTED_QUAD.test(s) ? undefined : `"${s}" is not a dotted-quad IPv4 address`)));
  return text === undefined ? undefined : v6 ? bytesToIpv6(ipv6ToBytes(text)) : text;
}


/** virtual_routes / virtual_rules: keepalived's lines, each checked word by word (an error points at the word). */
export function heldLines<T>(f: Fields, m: MapView, key: string, parse: (line: string) => LineResult<T>, example: string): HeldRoute<T>[] {
  const out: HeldRoute<T>[] = [];
  (f.list(m, key) ?? []).forEach((n, i) => {
    const path = `${m.sub(key)}[${i}]`;
    const line = f.check(n, path, str(`a line like ${example}`));
    if (line === undefined) return;
    const r = parse(line);
    if (r.ok) {
      out.push({ spec: r.spec, text: line.trim(), noTrack: r.noTrack });
      return;
    }
    const quoted = isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE') ? 1 : 0;
    f.r.issue(n, path, `${r.why}; e.g. ${example}`, n.range ? n.range[0] + quoted + r.offset : undefined);
  });
  return out;
}
