// Netlink message framing (netlink(7)): headers, attributes, requests, dumps,
// ACKs and errors. Pure encode/decode plus a small synchronous request client
// over the native socket.

import { constants as osConstants } from 'node:os';
import { native } from './native.js';

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The payload after the 16-byte header. */
  payload: Buffer;
}

export const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute: type + value, value padded to 4 bytes on the wire. */
export interface Attr {
  type: number;
  value: Buffer;
}

export function encodeAttr(type: number, value: Buffer): Buffer {
  const len = NLA_HDRLEN + value.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, NLA_HDRLEN);
  return out;
}

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  return Buffer.concat(attrs.map((a) => encodeAttr(a.type, a.value)));
}

export const attrU8 = (type: number, v: number): Attr => ({ type, value: Buffer.of(v & 0xff) });
export function attrU16(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return { type, value: b };
}
export function attrU32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, value: b };
}
/** NUL-terminated string attribute. */
export const attrStr = (type: number, s: string): Attr => ({ type, value: Buffer.concat([Buffer.from(s), Buffer.of(0)]) });
export const attrNested = (type: number, attrs: readonly Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: encodeAttrs(attrs) });

/** Parses attributes; the last one of a type wins. Malformed tails are ignored. */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + NLA_HDRLEN, off + len));
    off += align4(len);
  }
  return out;
}

/**
 * Attributes indexed in place: value offsets by type, no copies. The decoder for big
 * dumps (10,000 real servers): a Map of subarrays per message cost more than the
 * kernel's own work. Types above `maxType` are skipped; the last one of a type wins;
 * a malformed tail is ignored. Readers return 0 / undefined for an absent or short value.
 */
export class AttrView {
  /** Per type: value offset + 1 (0 = absent), then value length. */
  private readonly at: number[];

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
    maxType = 31,
  ) {
    const at: number[] = (this.at = new Array<number>((maxType + 1) * 2).fill(0));
    let off = start;
    while (off + NLA_HDRLEN <= end) {
      const len = buf[off]! | (buf[off + 1]! << 8);
      if (len < NLA_HDRLEN || off + len > end) break;
      const type = (buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK;
      if (type <= maxType) {
        at[type * 2] = off + NLA_HDRLEN + 1;
        at[type * 2 + 1] = len - NLA_HDRLEN;
      }
      off += align4(len);
    }
  }

  has(type: number): boolean {
    return this.at[type * 2]! > 0;
  }
  /** Offset of the value in `buf`, or -1. */
  offset(type: number): number {
    return (this.at[type * 2] ?? 0) - 1;
  }
  length(type: number): number {
    return this.has(type) ? this.at[type * 2 + 1]! : 0;
  }
  u8(type: number): number {
    return this.length(type) >= 1 ? this.buf[this.offset(type)]! : 0;
  }
  u16(type: number): number {
    return this.length(type) >= 2 ? this.buf.readUInt16LE(this.offset(type)) : 0;
  }
  /** A 16-bit value in network order (ports). */
  be16(type: number): number {
    return this.length(type) >= 2 ? this.buf.readUInt16BE(this.offset(type)) : 0;
  }
  u32(type: number): number {
    return this.length(type) >= 4 ? this.buf.readUInt32LE(this.offset(type)) : 0;
  }
  /** A 64-bit counter as a number (exact below 2^53); a 32-bit value is accepted too. */
  u64(type: number): number {
    if (this.length(type) < 8) return this.u32(type);
    const o = this.offset(type);
    return this.buf.readUInt32LE(o) + this.buf.readUInt32LE(o + 4) * 0x1_0000_0000;
  }
  bytes(type: number): Buffer | undefined {
    const o = this.offset(type);
    return o < 0 ? undefined : this.buf.subarray(o, o + this.at[type * 2 + 1]!);
  }
  /** A NUL-terminated string value. */
  string(type: number): string | undefined {
    const o = this.offset(type);
    if (o < 0) return undefined;
    const end = o + this.at[type * 2 + 1]!;
    const nul = this.buf.indexOf(0, o);
    return this.buf.toString('utf8', o, nul < 0 || nul > end ? end : nul);
  }
  nested(type: number, maxType = 31): AttrView | undefined {
    const o = this.offset(type);
    return o < 0 ? undefined : new AttrView(this.buf, o, o + this.at[type * 2 + 1]!, maxType);
  }
}

/** NUL-terminated string value. */
export function attrString(v: Buffer | undefined): string | undefined {
  if (!v) return undefined;
  const nul = v.indexOf(0);
  return v.subarray(0, nul < 0 ? v.length : nul).toString();
}

export function encodeMessage(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(NLMSG_HDRLEN);
  const len = NLMSG_HDRLEN + payload.length;
  head.writeUInt32LE(len, 0);
  head.writeUInt16LE(type, 4);
  head.writeUInt16LE(flags, 6);
  head.writeUInt32LE(seq >>> 0, 8);
  head.writeUInt32LE(0, 12);
  const pad = Buffer.alloc(align4(len) - len);
  return Buffer.concat([head, payload, pad]);
}

/** Splits one datagram into messages; stops at a malformed header. */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, num]) => [num, name]));

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** A kernel error answered to a netlink request. */
export class NetlinkError extends Error {
  constructor(
    readonly code: string,
    readonly errno: number,
    readonly operation: string,
    readonly extAck?: string,
  ) {
    super(`${operation}: ${code}${extAck ? ` (${extAck})` : ''}`);
    this.name = 'NetlinkError';
  }
}

const NLMSGERR_ATTR_MSG = 1;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;

/** Decodes an NLMSG_ERROR payload: errno (0 = ACK) and the extended-ack message, if any. */
export function parseError(msg: NlMessage): { errno: number; extAck?: string } {
  if (msg.payload.length < 4) return { errno: 0 };
  const errno = -msg.payload.readInt32LE(0);
  let extAck: string | undefined;
  if (msg.flags & NLM_F_ACK_TLVS) {
    // struct nlmsgerr: error + the original header (+ its payload unless capped).
    const origLen = msg.payload.length >= 20 ? msg.payload.readUInt32LE(4) : 16;
    const skip = 4 + (msg.flags & NLM_F_CAPPED ? 16 : align4(origLen));
    if (skip < msg.payload.length) extAck = attrString(parseAttrs(msg.payload.subarray(skip)).get(NLMSGERR_ATTR_MSG));
  }
  return extAck ? { errno, extAck } : { errno };
}

/** A netlink socket used for request/response (one outstanding batch at a time). */
export class NetlinkSocket {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;

  constructor(
    readonly protocol: number,
    /** Reply timeout; the kernel answers in microseconds, this only guards against a lost reply. */
    private readonly timeoutMs = 5000,
  ) {
    this.fd = native().nlOpen(protocol, 0);
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  /**
   * Sends one request and collects the answer: the data messages of a dump (until
   * NLMSG_DONE), or the reply before the ACK. A kernel error throws NetlinkError
   * naming `operation`.
   */
  request(type: number, flags: number, payload: Buffer, operation: string): NlMessage[] {
    return this.requestMany([{ type, flags, payload, operation }])[0]!;
  }

  /**
   * Runs requests one after another (a socket runs one dump at a time) in a single
   * call into the addon — a whole-table IPVS dump is a thousand dumps — and returns
   * each one's answer: its data messages. Requests that are not dumps are sent with
   * NLM_F_ACK so every answer has an end the addon can see. The first kernel error
   * throws NetlinkError naming its operation.
   */
  requestMany(reqs: readonly BatchRequest[]): NlMessage[][] {
    const index = new Map<number, number>(); // seq -> request
    const wire = Buffer.concat(
      reqs.map((r, i) => {
        const seq = this.nextSeq();
        index.set(seq, i);
        const dump = (r.flags & NLM_F_DUMP) === NLM_F_DUMP;
        return encodeMessage(r.type, r.flags | NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK), seq, r.payload);
      }),
    );
    let answers: Buffer;
    try {
      answers = native().nlRequestMany(this.fd, wire, this.timeoutMs);
    } catch (err) {
      const e = err as { code?: string; errno?: number };
      if (e.code === 'ETIMEDOUT') throw new NetlinkError('ETIMEDOUT', e.errno ?? 110, reqs.length === 1 ? reqs[0]!.operation : `${reqs.length} requests`);
      throw err;
    }
    const out = reqs.map((): NlMessage[] => []);
    for (const m of parseMessages(answers)) {
      const i = index.get(m.seq);
      if (i === undefined) continue; // a stale answer to an earlier, timed-out request
      if (m.type === NLMSG_ERROR) {
        const { errno, extAck } = parseError(m);
        if (errno !== 0) throw new NetlinkError(errnoName(errno), errno, reqs[i]!.operation, extAck);
      } else if (m.type !== NLMSG_DONE && m.type !== NLMSG_NOOP && m.type !== NLMSG_OVERRUN) out[i]!.push(m);
    }
    return out;
  }

  /**
   * Sends many requests, several per datagram (up to `chunkBytes` and
   * `chunkMessages`: the kernel handles a datagram's messages before sendmsg
   * returns, so all their ACKs must fit the receive buffer at once — with the
   * default 208 KiB, some 270 ACKs), each with
   * NLM_F_ACK, and matches every ACK or error to its request by sequence
   * number. The kernel carries on after a failed message, so one bad operation
   * leaves the others applied. Returns, per request, undefined (done) or its error.
   */
  batch(reqs: readonly BatchRequest[], chunkBytes = 64 * 1024, chunkMessages = 128): (NetlinkError | undefined)[] {
    const results: (NetlinkError | undefined)[] = new Array(reqs.length).fill(undefined);
    let i = 0;
    while (i < reqs.length) {
      const parts: Buffer[] = [];
      const pending = new Map<number, number>(); // seq -> index
      let size = 0;
      while (i < reqs.length && (parts.length === 0 || (size < chunkBytes && parts.length < chunkMessages))) {
        const r = reqs[i]!;
        const seq = this.nextSeq();
        const msg = encodeMessage(r.type, r.flags | NLM_F_REQUEST | NLM_F_ACK, seq, r.payload);
        parts.push(msg);
        size += msg.length;
        pending.set(seq, i);
        i++;
      }
      native().nlSend(this.fd, parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      while (pending.size > 0) {
        const buf = native().nlRecv(this.fd, this.timeoutMs);
        if (!buf) {
          for (const idx of pending.values()) results[idx] = new NetlinkError('ETIMEDOUT', 110, reqs[idx]!.operation);
          break;
        }
        for (const m of parseMessages(buf)) {
          const idx = pending.get(m.seq);
          if (idx === undefined || m.type !== NLMSG_ERROR) continue;
          pending.delete(m.seq);
          const { errno, extAck } = parseError(m);
          if (errno !== 0) results[idx] = new NetlinkError(errnoName(errno), errno, reqs[idx]!.operation, extAck);
        }
      }
    }
    return results;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.fd);
  }
}

export interface BatchRequest {
  type: number;
  flags: number;
  payload: Buffer;
  /** Names the operation in its error, e.g. "add real server 10.0.0.2:80 to TCP 10.0.0.100:80". */
  operation: string;
}

/** A netlink socket subscribed to multicast groups; calls back on every readable event. */
export class NetlinkMonitor {
  private readonly fd: number;
  private readonly handle;
  private closed = false;

  constructor(protocol: number, groups: number, onMessages: (msgs: NlMessage[], overrun: boolean) => void) {
    const n = native();
    this.fd = n.nlOpen(protocol, groups);
    this.handle = n.watch(this.fd, () => {
      const msgs: NlMessage[] = [];
      let overrun = false;
      for (;;) {
        let buf: Buffer | null;
        try {
          buf = n.nlRecv(this.fd, -1);
        } catch (err) {
          // ENOBUFS: the kernel dropped events; the caller re-reads the whole state.
          if ((err as { code?: string }).code === 'ENOBUFS') {
            overrun = true;
            continue;
          }
          throw err;
        }
        if (!buf) break;
        msgs.push(...parseMessages(buf));
      }
      if (!this.closed) onMessages(msgs, overrun);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().unwatch(this.handle);
    native().close(this.fd);
  }
}
