// keepalived's DNS_CHECK: one query over UDP (recursion desired, class IN, the
// configured type and name; keepalived's defaults SOA and "."). The server passes
// when a response with our ID comes back with RCODE 0 (NOERROR), as keepalived
// judges it; vipd's `dns_answer` additionally wants that address among the
// answer's A/AAAA records.

import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { udpExchange } from './connect.js';
import { type CheckResult, type CheckSpec, settleCheck } from './types.js';

const TYPES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** A query message: header (RD set, one question), then QNAME, QTYPE, QCLASS IN. Pure. */
export function encodeQuery(id: number, name: string, type: string): Buffer {
  const labels = name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const q = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
  const b = Buffer.alloc(12 + q.length + 4);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x0100, 2); // RD
  b.writeUInt16BE(1, 4);
  q.copy(b, 12);
  b.writeUInt16BE(TYPES[type] ?? 6, 12 + q.length);
  b.writeUInt16BE(1, 14 + q.length);
  return b;
}

/** Skips a (possibly compressed) name at `off`; returns the offset after it, or -1. */
function skipName(b: Buffer, off: number): number {
  for (let i = 0; i < 128 && off < b.length; i++) {
    const len = b[off]!;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  return -1;
}

export type DnsAnswer = { kind: 'ignore'; why: string } | { kind: 'response'; rcode: number; addresses: string[] };

/** What a datagram says to a query with this id: not ours, or a response with its RCODE and A/AAAA addresses. Pure. */
export function decodeResponse(b: Buffer, id: number): DnsAnswer {
  if (b.length < 12) return { kind: 'ignore', why: 'too short' };
  if (b.readUInt16BE(0) !== id) return { kind: 'ignore', why: 'another ID' };
  const flags = b.readUInt16BE(2);
  if (!(flags & 0x8000)) return { kind: 'ignore', why: 'a query, not a response' };
  const addresses: string[] = [];
  let off = 12;
  for (let i = 0, qd = b.readUInt16BE(4); i < qd && off >= 0; i++) off = skipName(b, off) + 4;
  for (let i = 0, an = b.readUInt16BE(6); i < an && off >= 0 && off < b.length; i++) {
    off = skipName(b, off);
    if (off < 0 || off + 10 > b.length) break;
    const type = b.readUInt16BE(off);
    const len = b.readUInt16BE(off + 8);
    const data = b.subarray(off + 10, off + 10 + len);
    if (type === 1 && len === 4) addresses.push([...data].join('.'));
    if (type === 28 && len === 16) addresses.push(canonical6(data));
    off += 10 + len;
  }
  return { kind: 'response', rcode: flags & 0xf, addresses };
}

function canonical6(d: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => d.readUInt16BE(i * 2).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}
const canonical = (a: string): string => (isIPv6(a) ? new URL(`http://[${a}]`).hostname.slice(1, -1) : a);

export function checkDns(s: CheckSpec): Promise<CheckResult> {
  const id = randomInt(0, 0x10000);
  const type = s.dnsType ?? 'SOA';
  const name = s.dnsName ?? '.';
  const query = encodeQuery(id, name, type);
  return settleCheck(
    s.timeoutMs,
    () => `no DNS answer to ${type} ${name} within ${s.timeoutMs} ms`,
    (done) =>
      udpExchange(
        s,
        query,
        (msg: Buffer) => {
          const r = decodeResponse(msg, id);
          if (r.kind === 'ignore') return; // keepalived waits on for its answer
          if (r.rcode !== 0) return done(false, `DNS ${type} ${name}: ${RCODES[r.rcode] ?? `RCODE ${r.rcode}`}`);
          if (s.dnsAnswer !== undefined && !r.addresses.includes(canonical(s.dnsAnswer)))
            return done(false, `DNS ${type} ${name}: the answer [${r.addresses.join(', ')}] lacks ${s.dnsAnswer}`);
          done(true, `DNS ${type} ${name}: NOERROR${r.addresses.length ? ` [${r.addresses.join(', ')}]` : ''}`);
        },
        (code, sending) => done(false, sending ? `DNS send failed: ${code}` : `DNS: ${code === 'ECONNREFUSED' ? 'ICMP port unreachable (ECONNREFUSED)' : code}`),
      ),
  );
}
