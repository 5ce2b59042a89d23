// IPv4 helpers shared by the VRRP codec and transport: address conversion,
// the Internet checksum and a strict IPv4 header parser. Pure, no I/O.

/** Dotted quad -> unsigned 32-bit integer. Throws on anything that is not a plain dotted quad. */
export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new TypeError(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) throw new TypeError(`not an IPv4 address: ${ip}`);
    const v = Number(p);
    if (v > 255) throw new TypeError(`not an IPv4 address: ${ip}`);
    n = n * 256 + v;
  }
  return n;
}

export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function ipv4ToBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipv4ToInt(ip));
  return b;
}

export function bytesToIpv4(buf: Buffer, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** One's-complement sum of 16-bit words (not yet complemented), continuing from `sum`. */
export function onesSum(buf: Buffer, sum = 0): number {
  const end = buf.length & ~1;
  for (let i = 0; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum (RFC 1071) over the concatenation of `parts`. Each part but the last must have even length. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const p of parts) sum = onesSum(p, sum);
  return ~sum & 0xffff;
}

export interface Ipv4Header {
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  protocol: number;
  headerLength: number;
  totalLength: number;
}

export type Ipv4ParseResult =
  | { ok: true; header: Ipv4Header; payload: Buffer }
  | { ok: false; reason: 'truncated' | 'bad-ip-header' };

/**
 * Parse the IPv4 header a raw socket hands us. The payload is a view into `buf`
 * (callers that keep it must copy: raw-socket reuses its receive buffer).
 */
export function parseIpv4(buf: Buffer): Ipv4ParseResult {
  if (buf.length < 20) return { ok: false, reason: 'truncated' };
  const vihl = buf[0]!;
  if (vihl >> 4 !== 4) return { ok: false, reason: 'bad-ip-header' };
  const headerLength = (vihl & 0x0f) * 4;
  if (headerLength < 20) return { ok: false, reason: 'bad-ip-header' };
  if (buf.length < headerLength) return { ok: false, reason: 'truncated' };
  // Linux raw sockets deliver the header with tot_len in network order, as on the wire.
  const totalLength = buf.readUInt16BE(2);
  if (totalLength < headerLength) return { ok: false, reason: 'bad-ip-header' };
  if (buf.length < totalLength) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    header: {
      tos: buf[1]!,
      ttl: buf[8]!,
      protocol: buf[9]!,
      src: bytesToIpv4(buf, 12),
      dst: bytesToIpv4(buf, 16),
      headerLength,
      totalLength,
    },
    payload: buf.subarray(headerLength, totalLength),
  };
}

export function isMulticastIpv4(ip: string): boolean {
  const first = ipv4ToInt(ip) >>> 24;
  return first >= 224 && first <= 239;
}
