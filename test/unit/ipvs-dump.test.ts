// The addon's readers of IPVS dumps (native/ipvs_dump.cc) against answers
// built byte for byte as the kernel sends them — no kernel needed (the QEMU
// tier reads real ones).

import { describe, expect, it } from 'vitest';
import { serviceAttrs } from '../../src/ipvs/codec.js';
import { destSlices, LEAN_STRIDE, SERVICE_LEAN_STRIDE, SERVICE_STRIDE, serviceRecords, STRIDE } from '../../src/ipvs/dump-records.js';
import type { Dest, DestEntry, Service } from '../../src/ipvs/types.js';
import { inetAddrBytes } from '../../src/net/inet.js';
import { native } from '../../src/net/native.js';
import { type Attr, encodeAttrs } from '../../src/net/netlink.js';
import { destReply, done, kernelDestAttrs, nlError, serviceReply, servicesOf, slicesOf } from './ipvs-kernel.js';

const u32 = (t: number, v: number): Attr => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return { type: t, value: b };
};
const u64 = (t: number, v: bigint): Attr => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return { type: t, value: b };
};
const addr = (ip: string): Attr => ({ type: 1, value: inetAddrBytes(ip) });
const port = (p: number): Attr => ({ type: 2, value: Buffer.from([p >> 8, p & 0xff]) });
const u16 = (t: number, v: number): Attr => ({ type: t, value: Buffer.from([v & 0xff, v >> 8]) });
const entry = (address: string, o: Partial<DestEntry> = {}): DestEntry => ({
  key: { address, port: 80 },
  forwarding: 'nat',
  weight: 0,
  upperThreshold: 0,
  lowerThreshold: 0,
  activeConns: 0,
  inactiveConns: 0,
  persistentConns: 0,
  ...o,
});

describe("the addon's reader of IPVS real-server dumps", () => {
  it('reads every field the kernel sends, drops a real server without a whole address, and keeps the records in step with the TypeScript side', () => {
    expect(native().ipvsDestStride).toBe(STRIDE);
    expect(native().ipvsDestLeanStride).toBe(LEAN_STRIDE);
    const stats64 = { type: 12 | 0x8000, value: encodeAttrs([u64(1, 5n), u64(4, 0x1_2345_6789n), u64(10, 7n)]) };
    const stats32 = { type: 10 | 0x8000, value: encodeAttrs([u32(1, 6), u32(2, 8)]) };
    const nests: Attr[][] = [
      [addr('10.0.0.2'), port(8080), u32(3, 0), u32(4, 7), u32(5, 100), u32(6, 10), u32(7, 12), u32(8, 34), u32(9, 2), stats64], // NAT, everything
      [addr('10.9.8.7'), port(1), u32(3, 3), u32(4, 0)], // DR, the rest absent
      [addr('10.0.0.3'), port(80), u16(11, 2), u32(3, 3), u32(4, 1), u32(4, 9)], // its own family (the same); the last weight wins
      [addr('2001:db8::5'), port(80), u16(11, 10), u32(3, 3), u32(4, 1), stats32], // an IPv6 real server of an IPv4 service; 32-bit counters
      [addr('10.0.0.4'), port(80), u32(3, 2), u32(4, 1), { type: 13, value: Buffer.from([1]) }, { type: 14, value: Buffer.from([6080 >> 8, 6080 & 0xff]) }, u16(15, 1)], // GUE (its UDP port in network order), checksums
      [addr('10.0.0.4'), port(81), u32(3, 2), u32(4, 1), { type: 13, value: Buffer.from([2]) }, u16(15, 2)], // GRE, remote checksum offload
      [addr('10.0.0.5'), port(80), u32(3, 2 | 0x100), u32(4, 1)], // a tunnel the kernel did not name: IPIP; flags above the method ignored
      [addr('10.0.0.5'), port(81), u32(3, 6), u32(4, 1)], // an unknown forwarding method
      [{ type: 1, value: Buffer.from([10, 0]) }, port(80), u32(3, 0)], // a short address: dropped
      [port(80), u32(3, 0)], // no address: dropped
      [addr('10.0.0.6'), { type: 2, value: Buffer.from([1]) }, u32(3, 0), { type: 4, value: Buffer.from([1, 2]) }], // short values read as 0
    ];
    const answers = Buffer.concat([...nests.map((a) => destReply(7, a)), done(7)]);
    const { slices, status } = destSlices(answers, 7, ['inet'], true);
    expect([...status]).toEqual([1]);
    const stats = (o: Partial<NonNullable<DestEntry['stats']>>) => ({ connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0, ...o });
    expect(slices[0]!.entries()).toEqual([
      { key: { address: '10.0.0.2', port: 8080 }, forwarding: 'nat', weight: 7, upperThreshold: 100, lowerThreshold: 10, activeConns: 12, inactiveConns: 34, persistentConns: 2, stats: stats({ connections: 5, bytesIn: 0x1_2345_6789, bpsOut: 7 }) },
      entry('10.9.8.7', { key: { address: '10.9.8.7', port: 1 }, forwarding: 'dr' }),
      entry('10.0.0.3', { forwarding: 'dr', weight: 9 }),
      entry('2001:db8::5', { key: { address: '2001:db8::5', port: 80, family: 'inet6' }, forwarding: 'dr', weight: 1, stats: stats({ connections: 6, packetsIn: 8 }) }),
      entry('10.0.0.4', { forwarding: 'tunnel', weight: 1, tunnel: { type: 'gue', port: 6080, checksum: 'csum' } }),
      entry('10.0.0.4', { key: { address: '10.0.0.4', port: 81 }, forwarding: 'tunnel', weight: 1, tunnel: { type: 'gre', checksum: 'remcsum' } }),
      entry('10.0.0.5', { forwarding: 'tunnel', weight: 1 }),
      entry('10.0.0.5', { key: { address: '10.0.0.5', port: 81 }, weight: 1 }),
      entry('10.0.0.6', { key: { address: '10.0.0.6', port: 0 } }),
    ]);
    // Without counters asked for, none are read: shorter records, the same entries otherwise.
    const lean = destSlices(answers, 7, ['inet'], false).slices[0]!.entries();
    expect(lean).toEqual(slices[0]!.entries().map(({ stats: _, ...d }) => d));
    // An IPv6 service's real server without a family attribute is of the service's family.
    const v6 = destSlices(Buffer.concat([destReply(1, [addr('2001:db8::7'), port(80), u32(3, 3)]), done(1)]), 1, ['inet6'], false);
    expect(v6.slices[0]!.entries()).toEqual([entry('2001:db8::7', { forwarding: 'dr' })]);
  });

  it("groups the real servers by request (sequence number), whatever order they came in; marks each request's end, error or silence", () => {
    const a = [addr('10.0.0.1'), port(80), u32(3, 0)];
    const b = [addr('10.0.0.2'), port(80), u32(3, 0)];
    const answers = Buffer.concat([
      destReply(99, a), // a stale answer to an earlier request: not one of these
      destReply(101, b),
      destReply(100, a),
      done(100),
      destReply(101, a),
      done(101),
      nlError(102, 2), // ENOENT: no such service
      // 103 never ends (a timed-out dump)
      destReply(104, b),
      nlError(104, 0), // an ACK ends a request too
      Buffer.from([0xff, 0xff, 0, 0, 1, 2]), // a malformed tail: ignored
    ]);
    const { slices, status } = destSlices(answers, 100, ['inet', 'inet', 'inet', 'inet', 'inet'], false);
    expect([...status]).toEqual([1, 1, -1, 0, 1]);
    expect(slices.map((s) => s.entries().map((d) => d.key.address))).toEqual([['10.0.0.1'], ['10.0.0.2', '10.0.0.1'], [], [], ['10.0.0.2']]);
    // Sequence numbers wrap: first near 2^32.
    const wrap = destSlices(Buffer.concat([destReply(0xffffffff, a), done(0xffffffff), destReply(0, b), done(0)]), 0xffffffff, ['inet', 'inet'], false);
    expect(wrap.slices.map((s) => s.length)).toEqual([1, 1]);
    expect([...wrap.status]).toEqual([1, 1]);
  });

  it("sameAs: the desired real servers, in the kernel's order or the reverse, with the same settings — anything else is left to the diff", () => {
    const want: Dest[] = [
      { key: { address: '10.0.0.1', port: 80 }, forwarding: 'nat', weight: 1, upperThreshold: 0, lowerThreshold: 0 },
      { key: { address: '10.0.0.2', port: 81 }, forwarding: 'dr', weight: 5, upperThreshold: 10, lowerThreshold: 2 },
      { key: { address: '10.0.0.3', port: 80 }, forwarding: 'nat', weight: 0, upperThreshold: 0, lowerThreshold: 0 },
    ];
    const kernel = (ds: readonly Dest[], family: 'inet' | 'inet6' = 'inet') => slicesOf([{ family, dests: ds.map((d) => ({ ...d, activeConns: 3, inactiveConns: 4, persistentConns: 0 })) }])[0]!;
    expect(kernel(want).sameAs(want)).toBe(true);
    expect(kernel([...want].reverse()).sameAs(want)).toBe(true); // the kernel lists them newest first
    expect(kernel([]).sameAs([])).toBe(true);
    const other = (i: number, o: Partial<Dest>) => want.map((d, j) => (j === i ? { ...d, ...o } : d));
    expect(kernel(other(1, { weight: 4 })).sameAs(want)).toBe(false);
    expect(kernel(other(1, { upperThreshold: 11 })).sameAs(want)).toBe(false);
    expect(kernel(other(2, { lowerThreshold: 1 })).sameAs(want)).toBe(false);
    expect(kernel(other(0, { forwarding: 'dr' })).sameAs(want)).toBe(false);
    expect(kernel(other(0, { key: { address: '10.0.0.9', port: 80 } })).sameAs(want)).toBe(false);
    expect(kernel(other(0, { key: { address: '10.0.0.1', port: 8080 } })).sameAs(want)).toBe(false);
    expect(kernel([want[0]!, want[2]!, want[1]!]).sameAs(want)).toBe(false); // another order: the diff pairs them
    expect(kernel(want.slice(1)).sameAs(want)).toBe(false);
    // What it does not compare: tunnels, IPv6.
    const tun: Dest[] = [{ ...want[0]!, forwarding: 'tunnel' }];
    expect(kernel(tun).sameAs(tun)).toBe(false);
    const v6: Dest[] = [{ ...want[0]!, key: { address: '2001:db8::1', port: 80 } }];
    expect(kernel(v6, 'inet6').sameAs(v6)).toBe(false);
    // A desired list is compared as it is now (nothing about it is remembered between calls).
    const mutable = want.slice();
    expect(kernel(want).sameAs(mutable)).toBe(true);
    mutable[1] = { ...want[1]!, weight: 6 };
    expect(kernel(want).sameAs(mutable)).toBe(false);
    expect(kernel(mutable).sameAs(mutable)).toBe(true);
    mutable[2] = { ...want[2]!, forwarding: 'tunnel' };
    expect(kernel(mutable).sameAs(mutable)).toBe(false);
    mutable[2] = want[2]!;
    expect(kernel(mutable).sameAs(mutable)).toBe(true);
    // The entries it gives up on are the same real servers (what the diff then reads).
    expect(kernel(want).entries().map((d) => ({ ...d, activeConns: undefined, inactiveConns: undefined, persistentConns: undefined }))).toEqual(want.map((d) => ({ ...d, activeConns: undefined, inactiveConns: undefined, persistentConns: undefined })));
  });

  it('the encoder of the kernel stand-in and the reader agree on a real server (round trip)', () => {
    const d: DestEntry = entry('192.0.2.9', { key: { address: '192.0.2.9', port: 443 }, forwarding: 'dr', weight: 65535, upperThreshold: 4000000000, lowerThreshold: 1, activeConns: 1, inactiveConns: 2, persistentConns: 3 });
    expect(slicesOf([{ family: 'inet', dests: [d] }])[0]!.entries()).toEqual([d]);
    expect(kernelDestAttrs(d).length).toBe(9);
  });
});

describe("the addon's reader of IPVS service dumps", () => {
  const base: Service = { key: { family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 80 }, scheduler: 'wrr', schedFlags: { fallback: false, port: false }, persistence: 0, netmask: '255.255.255.255', onePacket: false };
  const services: Service[] = [
    base,
    { ...base, key: { family: 'inet', protocol: 'udp', address: '192.0.2.200', port: 53 }, scheduler: 'sh', schedFlags: { fallback: true, port: true }, onePacket: true },
    { ...base, key: { family: 'inet', protocol: 'sctp', address: '10.0.0.2', port: 65535 }, scheduler: 'lblcr', persistence: 300, netmask: '255.255.255.0', pe: 'sip' },
    { ...base, key: { family: 'inet', fwmark: 7 }, scheduler: 'mh', schedFlags: { fallback: false, port: true } },
    { ...base, key: { family: 'inet6', fwmark: 4000000000 }, scheduler: 'rr', netmask: '128' },
    { ...base, key: { family: 'inet6', protocol: 'tcp', address: '2001:db8::1', port: 443 }, scheduler: 'wlc', persistence: 60, netmask: '64' },
    { ...base, key: { family: 'inet', protocol: 'tcp', address: '10.0.0.3', port: 0 }, scheduler: 'a-scheduler-15c' },
    { ...base, key: { family: 'inet', protocol: 'tcp', address: '10.0.0.4', port: 80 } }, // wrr again: its name remembered
  ];

  it('reads back every setting the encoder writes, every key shape (address, fwmark; IPv4, IPv6), in the strides the TypeScript side expects', () => {
    expect(native().ipvsServiceStride).toBe(SERVICE_STRIDE);
    expect(native().ipvsServiceLeanStride).toBe(SERVICE_LEAN_STRIDE);
    expect(servicesOf(services)).toEqual(services);
    expect(servicesOf(services, true)).toEqual(services); // no counters sent: none made
  });

  it('counters from STATS64, else STATS (32-bit); a service without a whole key is dropped; errors and silence are reported per request', () => {
    const c64 = { type: 12 | 0x8000, value: encodeAttrs([u64(1, 9n), u64(5, 0x2_0000_0001n), u64(10, 3n)]) };
    const c32 = { type: 10 | 0x8000, value: encodeAttrs([u32(2, 4), u32(9, 8)]) };
    const svcPort = { type: 4, value: Buffer.from([0, 80]) };
    const zero = { connections: 0, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0 };
    const answers = Buffer.concat([
      serviceReply(3, [...serviceAttrs(base), c64]),
      serviceReply(3, [...serviceAttrs(services[1]!), c32]),
      serviceReply(3, [u16(1, 2), u16(2, 99), { type: 3, value: inetAddrBytes('10.0.0.9') }, svcPort]), // a protocol vipd does not know
      serviceReply(3, [u16(1, 2), u16(2, 6), { type: 3, value: Buffer.from([10, 0]) }, svcPort]), // a short address
      serviceReply(3, [u16(1, 10), u16(2, 6), { type: 3, value: inetAddrBytes('10.0.0.9').subarray(0, 4) }, svcPort]), // IPv6 with four bytes of address
      serviceReply(2, serviceAttrs(services[2]!)), // a stale answer to an earlier request
      done(3),
    ]);
    const full = serviceRecords(answers, 3, true);
    expect([...full.status]).toEqual([1]);
    expect(full.services).toEqual([
      { ...base, stats: { ...zero, connections: 9, bytesOut: 0x2_0000_0001, bpsOut: 3 } },
      { ...services[1]!, stats: { ...zero, packetsIn: 4, bpsIn: 8 } },
    ]);
    expect(serviceRecords(answers, 3, false).services).toEqual([base, services[1]]);
    expect([...serviceRecords(Buffer.concat([nlError(3, 1)]), 3, false).status]).toEqual([-1]);
    expect([...serviceRecords(serviceReply(3, serviceAttrs(base)), 3, false).status]).toEqual([0]);
    expect(serviceRecords(Buffer.alloc(0), 3, false).services).toEqual([]);
  });
});

describe('the readers on damaged answers', () => {
  it('cut anywhere or with bytes flipped, an answer never crashes a reader: at most a record per message, every status one of the three', () => {
    const svc: Service = { key: { family: 'inet6', protocol: 'tcp', address: '2001:db8::1', port: 443 }, scheduler: 'lblcr', schedFlags: { fallback: true, port: false }, persistence: 60, netmask: '64', onePacket: false, pe: 'sip' };
    const d = entry('2001:db8::5', { key: { address: '2001:db8::5', port: 80, family: 'inet6' }, forwarding: 'tunnel', weight: 3, tunnel: { type: 'gue', port: 6080, checksum: 'csum' } });
    const c64 = { type: 12 | 0x8000, value: encodeAttrs([u64(1, 9n), u64(10, 3n)]) };
    const answers = Buffer.concat([serviceReply(1, [...serviceAttrs(svc), c64]), destReply(1, [...kernelDestAttrs(d), c64]), destReply(2, kernelDestAttrs(d)), done(1), done(2)]);
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let round = 0; round < 3000; round++) {
      const b = Buffer.from(answers.subarray(0, rand(answers.length + 1)));
      for (let k = rand(4); k > 0 && b.length; k--) b[rand(b.length)] = rand(256);
      for (const withStats of [true, false]) {
        const dests = destSlices(b, 1, ['inet', 'inet6'], withStats);
        let total = 0;
        for (const sl of dests.slices) {
          expect(sl.length).toBeGreaterThanOrEqual(0);
          total += sl.length;
          sl.entries(); // made from whatever the records hold, without throwing
        }
        expect(total).toBeLessThanOrEqual(4); // at most one record per message (four carry data)
        expect([...dests.status].every((x) => x === -1 || x === 0 || x === 1)).toBe(true);
        expect(serviceRecords(b, 1, withStats).services.length).toBeLessThanOrEqual(4);
      }
    }
  });
});
