// IPv4/IPv6 text <-> bytes, for netlink attributes that carry either; the IPv6 pseudo-header.

import { isIPv4, isIPv6 } from 'node:net';

export function ipv6ToBytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`"${ip}" is not an IPv6 address`);
  let text = ip;
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 8200 8.1: source, destination, 32-bit upper-layer length, 3 zero bytes, next header. */
export function pseudoHeaderV6(src: string, dst: string, length: number, nextHeader: number): Buffer {
  const ph = Buffer.alloc(40);
  ipv6ToBytes(src).copy(ph, 0);
  ipv6ToBytes(dst).copy(ph, 16);
  ph.writeUInt32BE(length, 32);
  ph[39] = nextHeader;
  return ph;
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as "::". */
export function bytesToIpv6(b: Buffer, off = 0): string {
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(off + i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** 16 bytes (union nf_inet_addr): IPv4 in the first 4, the rest zero. */
export function inetAddrBytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  writeInetAddr(ip, out, 0);
  return out;
}

/** The same 16 bytes written at `off` of a zero-filled buffer (netlink messages built in one pass). */
export function writeInetAddr(ip: string, out: Buffer, off: number): void {
  if (!parseIpv4(ip, out, off)) out.set(ipv6ToBytes(ip), off);
}

/**
 * Dotted-quad IPv4 into out[0..3], by hand: a table load encodes 11,000 addresses
 * and split/Number per address was most of it. Exactly what net.isIPv4 accepts
 * (four decimal parts 0..255, no leading zeros); false for anything else.
 */
function parseIpv4(ip: string, out: Buffer, off: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // a final '.'
    if (c === 46) {
      if (digits === 0 || part > 3) return false;
      out[off + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  return part === 4;
}

export function inetAddrText(b: Buffer, family: 'inet' | 'inet6'): string {
  return family === 'inet' ? [...b.subarray(0, 4)].join('.') : bytesToIpv6(b);
}

export function familyOf(ip: string): 'inet' | 'inet6' {
  if (isIPv4(ip)) return 'inet';
  if (isIPv6(ip)) return 'inet6';
  throw new Error(`"${ip}" is not an IP address`);
}
