// ICMP echo check over one shared raw socket: every target's requests carry this
// process's identifier and their own sequence number, and each reply (or ICMP
// error quoting a request) is matched back to its request.

import { createRequire } from 'node:module';
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

/** Encodes an ICMP echo request (checksum included). Pure. */
export function encodeEcho(id: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt8(ECHO_REQUEST, 0);
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  payload.copy(b, 8);
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

export class Pinger {
  private sock: Socket | undefined;
  private readonly id = process.pid & 0xffff;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Replies that matched nothing (late, or another process's): counted, dropped. */
  unmatched = 0;

  private socket(): Socket {
    if (this.sock) return this.sock;
    const s = raw().createSocket({ protocol: raw().Protocol.ICMP });
    s.on('message', (buf: Buffer, source: string) => this.onMessage(buf, source));
    // A receive error closes raw-socket's socket: open a new one at the next check.
    s.on('error', () => {
      if (this.sock === s) this.sock = undefined;
    });
    this.sock = s;
    return s;
  }

  private onMessage(buf: Buffer, source: string): void {
    const m = decodeIcmp(buf);
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
      this.pending.set(seq, { address: s.address, t0, timer, resolve });
      const payload = Buffer.from('vipd-health-check');
      const pkt = encodeEcho(this.id, seq, payload);
      try {
        this.socket().send(pkt, 0, pkt.length, s.address, null, (err: Error | undefined) => {
          if (err) this.finish(seq, false, `ICMP send failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        });
      } catch (err) {
        this.finish(seq, false, `ICMP send failed: ${(err as Error).message}`);
      }
    });
  }

  close(): void {
    for (const seq of [...this.pending.keys()]) this.finish(seq, false, 'checker stopped');
    this.sock?.close();
    this.sock = undefined;
  }
}
