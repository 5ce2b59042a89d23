// VRRP message codec, v2 (RFC 3768) and v3 (RFC 5798 / 9568) over IPv4, and
// v3 over IPv6. Pure: bytes in, values out. The IP header is the transport's
// business; the v3 checksum needs the IP source and destination for its
// pseudo-header, so encode/decode take them as arguments — and the family of
// the source decides the family of the message (4- or 16-byte addresses).

import { isIPv6 } from 'node:net';
import { bytesToIpv6, ipv6ToBytes, pseudoHeaderV6 } from '../net/inet.js';
import { bytesToIpv4, internetChecksum, ipv4ToBytes } from './ipv4.js';

export const VRRP_PROTOCOL = 112;
export const VRRP_MULTICAST_V4 = '224.0.0.18';
/** RFC 5798 5.1.2.2: the IPv6 VRRP multicast group (link-local scope). */
export const VRRP_MULTICAST_V6 = 'ff02::12';
export const VRRP_TTL = 255;
/** keepalived marks adverts as network control (DSCP CS6). */
export const VRRP_TOS = 0xc0;
export const ADVERTISEMENT = 1;
export const AUTH_NONE = 0;
export const AUTH_PASS = 1;
const HEADER_LEN = 8;
const V2_AUTH_LEN = 8;

export type ChecksumForm = 'pseudo-header' | 'message';

export interface VrrpAdvert {
  version: 2 | 3;
  vrid: number;
  priority: number;
  /**
   * v3: Max Advertise Interval (centiseconds, 12 bits).
   * v2: Advertisement Interval in whole seconds, expressed here in centiseconds (x100).
   */
  intervalCs: number;
  addresses: string[];
  /** v2 only: authentication type (0 none, 1 simple password). */
  authType: number;
  /** v2 only: the 8 bytes of authentication data (zeros when none). */
  authData: Buffer;
}

export interface EncodeOptions {
  /** IP source and destination: the v3 IPv4 pseudo-header form needs them. */
  src: string;
  dst: string;
  /** v3 over IPv4 only. Default 'pseudo-header' (keepalived, FRR). */
  checksum?: ChecksumForm;
}

/** A v2 simple password as it goes on the wire: first 8 bytes, zero padded. */
export function authDataFromPassword(password: string | undefined): Buffer {
  const b = Buffer.alloc(V2_AUTH_LEN);
  if (password !== undefined) b.write(password.slice(0, V2_AUTH_LEN), 'latin1');
  return b;
}

function pseudoHeaderV4(src: string, dst: string, length: number): Buffer {
  const ph = Buffer.alloc(12);
  ipv4ToBytes(src).copy(ph, 0);
  ipv4ToBytes(dst).copy(ph, 4);
  ph[9] = VRRP_PROTOCOL;
  ph.writeUInt16BE(length, 10);
  return ph;
}

/** 4 for an IPv4 message, 16 for IPv6: decided by the IP source address. */
const addrLen = (src: string): 4 | 16 => (isIPv6(src) ? 16 : 4);

export function encodeAdvert(a: VrrpAdvert, opts: EncodeOptions): Buffer {
  const n = a.addresses.length;
  if (n > 255) throw new RangeError('at most 255 addresses fit in one advertisement');
  const al = addrLen(opts.src);
  if (al === 16 && a.version !== 3) throw new RangeError('VRRP over IPv6 is version 3 only (RFC 5798)');
  const len = HEADER_LEN + al * n + (a.version === 2 ? V2_AUTH_LEN : 0);
  const b = Buffer.alloc(len);
  b[0] = (a.version << 4) | ADVERTISEMENT;
  b[1] = a.vrid;
  b[2] = a.priority;
  b[3] = n;
  if (a.version === 3) {
    if (!Number.isInteger(a.intervalCs) || a.intervalCs < 1 || a.intervalCs > 0xfff)
      throw new RangeError(`v3 interval ${a.intervalCs} cs is outside 1..4095`);
    b.writeUInt16BE(a.intervalCs & 0x0fff, 4);
  } else {
    const secs = a.intervalCs / 100;
    if (!Number.isInteger(secs) || secs < 1 || secs > 255)
      throw new RangeError(`v2 interval must be whole seconds 1..255, got ${secs}`);
    b[4] = a.authType;
    b[5] = secs;
  }
  a.addresses.forEach((ip, i) => (al === 16 ? ipv6ToBytes(ip) : ipv4ToBytes(ip)).copy(b, HEADER_LEN + al * i));
  if (a.version === 2) a.authData.copy(b, HEADER_LEN + 4 * n, 0, V2_AUTH_LEN);
  // Over IPv6 the pseudo-header is not optional (RFC 5798 5.2.8).
  const form = al === 16 ? 'pseudo-header' : a.version === 3 ? (opts.checksum ?? 'pseudo-header') : 'message';
  const sum = form === 'message' ? internetChecksum(b) : internetChecksum(pseudoHeader(opts.src, opts.dst, len), b);
  b.writeUInt16BE(sum, 6);
  return b;
}

function pseudoHeader(src: string, dst: string, len: number): Buffer {
  return addrLen(src) === 16 ? pseudoHeaderV6(src, dst, len, VRRP_PROTOCOL) : pseudoHeaderV4(src, dst, len);
}

/** Why a message was dropped by the codec. Every reason is counted by the transport. */
export type DecodeError = 'truncated' | 'bad-version' | 'bad-type' | 'bad-length' | 'bad-checksum';

export type DecodeResult =
  | { ok: true; advert: VrrpAdvert; checksum: ChecksumForm }
  | { ok: false; reason: DecodeError; detail: string };

/**
 * Decode a VRRP message (the IP payload). `src`/`dst` are the IP header's
 * addresses, used to verify a v3 pseudo-header checksum. A v3 message is
 * accepted with either checksum form; which one matched is reported.
 */
export function decodeAdvert(msg: Buffer, src: string, dst: string): DecodeResult {
  if (msg.length < HEADER_LEN) return { ok: false, reason: 'truncated', detail: `${msg.length} bytes` };
  const version = msg[0]! >> 4;
  const type = msg[0]! & 0x0f;
  const al = addrLen(src);
  if (version !== 2 && version !== 3) return { ok: false, reason: 'bad-version', detail: `version ${version}` };
  if (version === 2 && al === 16) return { ok: false, reason: 'bad-version', detail: 'version 2 over IPv6 (v3 only)' };
  if (type !== ADVERTISEMENT) return { ok: false, reason: 'bad-type', detail: `type ${type}` };
  const n = msg[3]!;
  const need = HEADER_LEN + al * n + (version === 2 ? V2_AUTH_LEN : 0);
  // Trailing bytes beyond the declared addresses are tolerated (RFC: the length check
  // is against the count); a message shorter than its count is not.
  if (msg.length < need)
    return { ok: false, reason: 'truncated', detail: `${msg.length} bytes, count ${n} needs ${need}` };
  if (n === 0) return { ok: false, reason: 'bad-length', detail: 'address count 0' };
  const body = msg.subarray(0, need);

  let checksum: ChecksumForm;
  if (version === 2) {
    if (internetChecksum(body) !== 0) return { ok: false, reason: 'bad-checksum', detail: 'v2' };
    checksum = 'message';
  } else if (internetChecksum(pseudoHeader(src, dst, need), body) === 0) {
    checksum = 'pseudo-header';
  } else if (al === 4 && internetChecksum(body) === 0) {
    checksum = 'message';
  } else {
    return { ok: false, reason: 'bad-checksum', detail: al === 16 ? 'v3 over IPv6, pseudo-header form' : 'v3, neither pseudo-header nor message-only form' };
  }

  const addresses: string[] = [];
  for (let i = 0; i < n; i++) addresses.push(al === 16 ? bytesToIpv6(body, HEADER_LEN + 16 * i) : bytesToIpv4(body, HEADER_LEN + 4 * i));
  const advert: VrrpAdvert =
    version === 3
      ? {
          version: 3,
          vrid: body[1]!,
          priority: body[2]!,
          intervalCs: body.readUInt16BE(4) & 0x0fff,
          addresses,
          authType: AUTH_NONE,
          authData: Buffer.alloc(V2_AUTH_LEN),
        }
      : {
          version: 2,
          vrid: body[1]!,
          priority: body[2]!,
          intervalCs: body[5]! * 100,
          addresses,
          authType: body[4]!,
          authData: Buffer.from(body.subarray(HEADER_LEN + 4 * n, need)),
        };
  return { ok: true, advert, checksum };
}
