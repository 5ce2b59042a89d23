// ICMP echo check over one shared raw socket per family (ICMP for IPv4, ICMPv6 for
// IPv6) — one more per keepalived bind_if / fwmark in use, set on it
// (SO_BINDTODEVICE, SO_MARK): every target's requests carry this process's
// identifier and their own sequence number, and each reply (or ICMP error quoting
// a request) is matched back to its request, whichever socket receives it.

import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import type { Socket } from 'raw-socket';
import { internetChecksum } from '../vrrp/ipv4.js';
import { type CheckResult, type CheckSpec, deadline } from './types.js';

// Loaded at the first ping, not on import: raw-socket's addon can be loaded by one
// thread of a process only, and the checker thread imports this module without pinging.
let rawModule: typeof import('raw-socket').default | undefined;
const raw = (): typeof import('raw-socket').default => (rawModule ??= createRequire(import.meta.url)('raw-socket') as typeof import('raw-socket').default);

const ECHO_REPLY = 0;
const DEST_UNREACHABLE = 3;
const ECHO_REQUEST = 8;
const TIME_EXCEEDED = 11;
const UNREACH_CODES: Record<number, string> = { 0: 'network unreachable', 1: 'host unreachable', 3: 'port unreachable', 9: 'network prohibited', 10: 'host prohibited', 13: 'administratively prohibited' };

interface Pending {
  address: string;
  t0: number;
  timer: NodeJS.Timeout;
  resolve(r: CheckResult): void;
}

/** An echo request of either ICMP (type 8) or ICMPv6 (type 128), checksum 0. */
function echo(type: number, id: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt8(type, 0);
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  payload.copy(b, 8);
  return b;
}

/** Encodes an ICMP echo request (checksum included). Pure. */
export function encodeEcho(id: number, seq: number, payload: Buffer): Buffer {
  const b = echo(ECHO_REQUEST, id, seq, payload);
  b.writeUInt16BE(internetChecksum(b), 2);
  return b;
}

/**
 * What an ICMP packet (with its IPv4 header, as a raw socket receives it) says
 * about one of our echo requests: a reply, or an error quoting it. Pure.
 */
export function decodeIcmp(packet: Buffer): { kind: 'reply' | 'error'; id: number; seq: number; reason?: string } | undefined {
  if (packet.length < 20) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  const icmp = packet.subarray(ihl);
  if (icmp.length < 8) return undefined;
  const type = icmp[0]!;
  if (type === ECHO_REPLY) return { kind: 'reply', id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) };
  if (type === DEST_UNREACHABLE || type === TIME_EXCEEDED) {
    const inner = icmp.subarray(8);
    if (inner.length < 20) return undefined;
    const innerIhl = (inner[0]! & 0x0f) * 4;
    const echo = inner.subarray(innerIhl);
    if (inner[9] !== 1 || echo.length < 8 || echo[0] !== ECHO_REQUEST) return undefined;
    const reason = type === TIME_EXCEEDED ? 'ICMP time exceeded' : `ICMP ${UNREACH_CODES[icmp[1]!] ?? `destination unreachable (code ${icmp[1]})`}`;
    return { kind: 'error', id: echo.readUInt16BE(4), seq: echo.readUInt16BE(6), reason };
  }
  return undefined;
}

const ECHO6_REQUEST = 128;
const ECHO6_REPLY = 129;
const UNREACH6_CODES: Record<number, string> = { 0: 'no route to destination', 1: 'administratively prohibited', 3: 'address unreachable', 4: 'port unreachable', 5: 'source address failed policy', 6: 'reject route' };

/** Encodes an ICMPv6 echo request; the kernel fills in the checksum (it covers the IPv6 pseudo-header). Pure. */
export function encodeEcho6(id: number, seq: number, payload: Buffer): Buffer {
  return echo(ECHO6_REQUEST, id, seq, payload);
}

/** decodeIcmp for ICMPv6 (a raw IPv6 socket receives the ICMPv6 message without the IPv6 header). Pure. */
export function decodeIcmp6(icmp: Buffer): ReturnType<typeof decodeIcmp> {
  if (icmp.length < 8) return undefined;
  const type = icmp[0]!;
  if (type === ECHO6_REPLY) return { kind: 'reply', id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) };
  if (type === 1 || type === 3) {
    const inner = icmp.subarray(8); // the offending packet: IPv6 header (40 bytes), then our echo request
    if (inner.length < 48 || inner[6] !== 58) return undefined;
    const echo = inner.subarray(40);
    if (echo[0] !== ECHO6_REQUEST) return undefined;
    const reason = type === 3 ? 'ICMPv6 time exceeded' : `ICMPv6 ${UNREACH6_CODES[icmp[1]!] ?? `destination unreachable (code ${icmp[1]})`}`;
    return { kind: 'error', id: echo.readUInt16BE(4), seq: echo.readUInt16BE(6), reason };
  }
  return undefined;
}

/** The same address written the same way ("2001:db8::0:1" and "2001:db8::1"). */
const canonical = (a: string): string => (isIPv6(a) ? new URL(`http://[${a}]`).hostname.slice(1, -1) : a);

/** A socket option set, or an Error naming it ("SO_MARK: Operation not permitted"). */
function setOpt(set: () => void, name: string): void {
  try {
    set();
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`);
  }
}

export class Pinger {
  /** By family, bind_if and fwmark: "4||" is the plain IPv4 socket. */
  private readonly socks = new Map<string, Socket>();
  private readonly id = process.pid & 0xffff;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Replies that matched nothing (late, or another process's): counted, dropped. */
  unmatched = 0;

  private socket(family: 4 | 6, s: CheckSpec): Socket {
    const key = `${family}|${s.bindIf ?? ''}|${s.fwmark ?? ''}`;
    const have = this.socks.get(key);
    if (have) return have;
    const r = raw();
    const sock = family === 4 ? r.createSocket({ protocol: r.Protocol.ICMP }) : r.createSocket({ addressFamily: r.AddressFamily.IPv6, protocol: r.Protocol.ICMPv6 });
    try {
      // SOL_SOCKET 1: SO_MARK 36, SO_BINDTODEVICE 25 (the interface name, NUL-terminated).
      if (s.fwmark !== undefined) setOpt(() => sock.setOption(1, 36, s.fwmark!), 'SO_MARK');
      if (s.bindIf !== undefined) setOpt(() => sock.setOption(1, 25, Buffer.from(`${s.bindIf}\0`), s.bindIf!.length + 1), 'SO_BINDTODEVICE');
    } catch (err) {
      sock.close();
      throw err;
    }
    sock.on('message', (buf: Buffer, source: string) => this.onMessage(family === 4 ? decodeIcmp(buf) : decodeIcmp6(buf), canonical(source)));
    // A receive error closes raw-socket's socket: open a new one at the next check.
    sock.on('error', () => {
      if (this.socks.get(key) === sock) this.socks.delete(key);
    });
    this.socks.set(key, sock);
    return sock;
  }

  private onMessage(m: ReturnType<typeof decodeIcmp>, source: string): void {
    if (!m || m.id !== this.id) return;
    const p = this.pending.get(m.seq);
    if (!p || (m.kind === 'reply' && source !== p.address)) {
      this.unmatched++;
      return;
    }
    this.finish(m.seq, m.kind === 'reply', m.kind === 'reply' ? 'ICMP echo reply' : `${m.reason} (from ${source})`);
  }

  private finish(seq: number, ok: boolean, reason: string): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    p.resolve({ ok, reason, ms: performance.now() - p.t0 });
  }

  check(s: CheckSpec): Promise<CheckResult> {
    return new Promise((resolve) => {
      let seq = this.seq;
      // Skip sequence numbers still in flight (65,536 outstanding would be needed to wrap onto one).
      do seq = (seq + 1) & 0xffff;
      while (this.pending.has(seq));
      this.seq = seq;
      const t0 = performance.now();
      const timer = deadline(() => this.finish(seq, false, `no ICMP echo reply within ${s.timeoutMs} ms`), s.timeoutMs);
      this.pending.set(seq, { address: canonical(s.address), t0, timer, resolve });
      const payload = Buffer.from('vipd-health-check');
      const v6 = isIPv6(s.address);
      const pkt = v6 ? encodeEcho6(this.id, seq, payload) : encodeEcho(this.id, seq, payload);
      try {
        this.socket(v6 ? 6 : 4, s).send(pkt, 0, pkt.length, s.address, null, (err: Error | undefined) => {
          if (err) this.finish(seq, false, `ICMP send failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        });
      } catch (err) {
        this.finish(seq, false, `ICMP send failed: ${(err as Error).message}`);
      }
    });
  }

  close(): void {
    for (const seq of [...this.pending.keys()]) this.finish(seq, false, 'checker stopped');
    for (const sock of this.socks.values()) sock.close();
    this.socks.clear();
  }
}
