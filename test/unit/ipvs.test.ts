// IPVS messages byte for byte against the layouts of linux/ip_vs.h, and the
// reconcile diff — no kernel needed (the QEMU tier checks them against one).

import { describe, expect, it } from 'vitest';
import { req, serviceAttrs } from '../../src/ipvs/codec.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { type CurrentService, type DesiredService, diffTables, withServices } from '../../src/ipvs/diff.js';
import type { IpvsOp, OpResult } from '../../src/ipvs/ops.js';
import { Reconciler } from '../../src/ipvs/reconcile.js';
import { destId, serviceId } from '../../src/ipvs/types.js';
import type { Dest, Service } from '../../src/ipvs/types.js';
import { isIPv4, isIPv6 } from 'node:net';
import { bytesToIpv6, inetAddrBytes, ipv6ToBytes } from '../../src/net/inet.js';
import { AttrView, encodeAttrs, encodeBody, type Payload } from '../../src/net/netlink.js';
import { serviceReply, done, servicesOf, slicesOf } from './ipvs-kernel.js';
import { serviceRecords } from '../../src/ipvs/dump-records.js';

const hex = (b: Payload) => encodeBody(b).toString('hex');
const tcp80: Service = {
  key: { family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 80 },
  scheduler: 'rr',
  schedFlags: { fallback: false, port: false },
  persistence: 0,
  netmask: '255.255.255.255',
  onePacket: false,
};
const rs = (address: string, weight = 1, o: Partial<Dest> = {}): Dest => ({ key: { address, port: 8080 }, forwarding: 'nat', weight, upperThreshold: 0, lowerThreshold: 0, ...o });

describe('IPVS generic netlink messages', () => {
  it('NEW_SERVICE: genl header, nested IPVS_CMD_ATTR_SERVICE with AF, protocol, 16-byte address, port (network order), scheduler, flags+mask, timeout, netmask', () => {
    const want =
      '01010000' + // cmd NEW_SERVICE, version 1, reserved
      '5400' + '0180' + // nested attr len 84, type 1 | NLA_F_NESTED
      '0600' + '0100' + '0200' + '0000' + // AF = AF_INET (u16, padded)
      '0600' + '0200' + '0600' + '0000' + // PROTOCOL = 6 (TCP)
      '1400' + '0300' + '0a000001' + '000000000000000000000000' + // ADDR: union nf_inet_addr
      '0600' + '0400' + '0050' + '0000' + // PORT 80, big endian
      '0700' + '0600' + '727200' + '00' + // SCHED_NAME "rr\0" padded
      '0c00' + '0700' + '00000000' + 'ffffffff' + // FLAGS {flags 0, mask ~0}
      '0800' + '0800' + '00000000' + // TIMEOUT 0
      '0800' + '0900' + 'ffffffff'; // NETMASK 255.255.255.255
    expect(hex(req.newService(tcp80))).toBe(want);
  });

  it('fwmark and IPv6 services; persistence sets the persistent flag; sh flags', () => {
    const fw = serviceAttrs({ ...tcp80, key: { family: 'inet', fwmark: 7 }, persistence: 300, netmask: '255.255.255.0', schedFlags: { fallback: true, port: true } });
    expect(hex(encodeAttrs(fw))).toBe(
      '060001000200' + '0000' + '08000500' + '07000000' + '07000600' + '72720000' + '0c000700' + '19000000' + 'ffffffff' + '08000800' + '2c010000' + '08000900' + 'ffffff00',
    );
    const v6 = serviceAttrs({ ...tcp80, key: { family: 'inet6', protocol: 'udp', address: '2001:db8::1', port: 53 }, netmask: '128' });
    expect(hex(encodeAttrs(v6)).slice(0, 72)).toBe('06000100' + '0a000000' + '06000200' + '11000000' + '14000300' + '20010db8000000000000000000000001');
    expect(hex(encodeAttrs(v6)).endsWith('08000900' + '80000000')).toBe(true); // IPv6 netmask: the prefix length, host order (as ipvsadm)
  });

  it('NEW_DEST / SET_DEST / GET_DEST written field by field are the bytes of the generic attribute builder', () => {
    const v6svc = { family: 'inet6' as const, protocol: 'udp' as const, address: '2001:db8::1', port: 53 };
    const cases: [Service['key'], Dest][] = [
      [tcp80.key, rs('10.0.0.2', 5, { forwarding: 'dr', upperThreshold: 100, lowerThreshold: 10 })],
      [tcp80.key, rs('10.255.0.254', 65535, { forwarding: 'nat' })],
      [v6svc, { ...rs('2001:db8::99', 0), key: { address: '2001:db8::99', port: 65535 } }],
      [{ family: 'inet', fwmark: 9 }, { ...rs('10.0.0.3', 1), key: { address: '2001:db8::3', port: 0, family: 'inet6' } }],
      [tcp80.key, rs('10.0.0.4', 2, { forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'remcsum' } })],
    ];
    for (const [k, d] of cases) {
      const generic = hex(req.newDestGeneric(k, d));
      expect(hex(req.newDest(k, d))).toBe(generic);
      expect(hex(req.newDest(k, d))).toBe(generic); // the service key from its cache
      expect(hex(req.setDest(k, d))).toBe('06' + generic.slice(2));
      // GET_DEST (a dump of the service's real servers), written the same way.
      expect(hex(req.getDests(k))).toBe(hex(req.getDestsGeneric(k)));
      expect(hex(req.getDests(k)).slice(0, 8)).toBe('08010000');
    }
  });

  it('NEW_DEST carries the service and the destination; DEL_DEST only addresses and ports', () => {
    const d = req.newDest(tcp80.key, rs('10.0.0.2', 5, { forwarding: 'dr', upperThreshold: 100, lowerThreshold: 10 }));
    expect(hex(d).slice(0, 8 + 96)).toBe('05010000' + hex(req.newService(tcp80)).slice(8, 8 + 96).replace(/^5400/, '3000'));
    const destPart = hex(d).slice(8 + 96);
    expect(destPart).toBe(
      '4000' + '0280' + '1400' + '0100' + '0a000002' + '000000000000000000000000' + '0600' + '0200' + '1f90' + '0000' + '08000300' + '03000000' + '08000400' + '05000000' + '08000500' + '64000000' + '08000600' + '0a000000',
    );
    expect(hex(req.delDest(tcp80.key, { address: '10.0.0.2', port: 8080 })).endsWith('2000' + '0280' + '14000100' + '0a000002000000000000000000000000' + '06000200' + '1f900000')).toBe(true);
  });

  it('tunnels: GUE carries its port and checksum flags, IPIP only the type', () => {
    const gue = hex(req.newDest(tcp80.key, rs('10.0.0.3', 1, { forwarding: 'tunnel', tunnel: { type: 'gue', port: 6080, checksum: 'remcsum' } })));
    expect(gue.endsWith('05000d00' + '01000000' + '06000e00' + '17c00000' + '06000f00' + '02000000')).toBe(true);
    const ipip = hex(req.newDest(tcp80.key, rs('10.0.0.3', 1, { forwarding: 'tunnel', tunnel: { type: 'ipip' } })));
    expect(ipip.endsWith('05000d00' + '00000000')).toBe(true);
  });

  it('a kernel service with 64-bit stats is read back (the addon reads dumps: ipvs-dump.test.ts)', () => {
    const stats64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const attrs = [...serviceAttrs({ ...tcp80, persistence: 60 }), { type: 12 | 0x8000, value: encodeAttrs([1, 2, 3, 4, 5].map((t) => ({ type: t, value: stats64(t * 1000) }))) }];
    const s = serviceRecords(Buffer.concat([serviceReply(5, attrs), done(5)]), 5, true).services[0]!;
    expect(s).toMatchObject({ key: tcp80.key, scheduler: 'rr', persistence: 60, stats: { connections: 1000, packetsIn: 2000, packetsOut: 3000, bytesIn: 4000, bytesOut: 5000 } });
  });

  it('counters: exact above 2^32, omitted when the caller does not want them', () => {
    const big = Buffer.alloc(8);
    big.writeBigUInt64LE(0x1_2345_6789n);
    const answers = Buffer.concat([serviceReply(5, [...serviceAttrs(tcp80), { type: 12 | 0x8000, value: encodeAttrs([{ type: 4, value: big }]) }]), done(5)]);
    expect(serviceRecords(answers, 5, true).services[0]!.stats!.bytesIn).toBe(0x1_2345_6789);
    expect(serviceRecords(answers, 5, false).services[0]!.stats).toBeUndefined();
  });

  it('attributes indexed in place: last of a type wins, short values read as 0, a malformed tail is ignored', () => {
    const good = encodeAttrs([
      { type: 1, value: Buffer.from([1, 0, 0, 0]) },
      { type: 2, value: Buffer.from('rr\0junk') },
      { type: 1, value: Buffer.from([2, 0, 0, 0]) },
      { type: 3, value: Buffer.from([9]) },
      { type: 40, value: Buffer.from([5, 0, 0, 0]) },
    ]);
    const tail = Buffer.from([0xff, 0x00, 0x05, 0x00, 1, 2]); // length 255 past the end
    const a = new AttrView(Buffer.concat([good, tail]));
    expect(a.u32(1)).toBe(2);
    expect(a.string(2)).toBe('rr');
    expect(a.u32(3)).toBe(0);
    expect(a.u8(3)).toBe(9);
    expect(a.has(5)).toBe(false);
    expect(a.has(40)).toBe(false); // above maxType: skipped, not an out-of-range write
    expect(new AttrView(good, 0, good.length, 40).u32(40)).toBe(5);
    expect(a.bytes(4)).toBeUndefined();
  });

  it('IPv4 text -> bytes accepts exactly what net.isIPv4 does', () => {
    const cases = ['10.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..2.3', '1.2.3.4.', '.1.2.3', ' 1.2.3.4', '1.2.3.a', '1000.1.1.1', '', '::1', '10.0.0.01'];
    for (const c of cases) {
      let bytes: Buffer | undefined;
      try {
        bytes = inetAddrBytes(c);
      } catch {
        bytes = undefined;
      }
      if (isIPv4(c)) expect([...bytes!.subarray(0, 4)].join('.'), c).toBe(c);
      else if (isIPv6(c)) expect(bytes!.length, c).toBe(16);
      else expect(bytes, c).toBeUndefined();
    }
  });

  it('IPv6 text <-> bytes (RFC 5952 output)', () => {
    for (const [text, canon] of [
      ['2001:db8::1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
      ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
    ])
      expect(bytesToIpv6(ipv6ToBytes(text!))).toBe(canon);
  });
});

describe('reconcile diff', () => {
  const cur = (s: DesiredService): CurrentService => ({ ...s, dests: s.dests.map((d) => ({ ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 })) });
  const base = { owned: new Set<string>(), drainMs: 0, now: 1000, draining: new Map<string, number>() };
  const web: DesiredService = { ...tcp80, dests: [rs('10.0.0.2'), rs('10.0.0.3', 2)] };
  const kinds = (ops: { op: string }[]) => ops.map((o) => o.op);

  it('empty kernel: add the service, then its real servers', () => {
    expect(kinds(diffTables({ ...base, desired: [web], current: [] }).ops)).toEqual(['add-service', 'add-dest', 'add-dest']);
  });

  it('equal tables: no operation at all', () => {
    expect(diffTables({ ...base, desired: [web], current: [cur(web)] }).ops).toEqual([]);
  });

  it('changed scheduler or weight: edited in place, not re-created', () => {
    const want: DesiredService = { ...web, scheduler: 'wrr', dests: [rs('10.0.0.2', 9), rs('10.0.0.3', 2)] };
    const { ops } = diffTables({ ...base, desired: [want], current: [cur(web)] });
    expect(ops).toEqual([
      { op: 'edit-service', service: { ...tcp80, scheduler: 'wrr' } },
      { op: 'edit-dest', service: tcp80.key, dest: rs('10.0.0.2', 9) },
    ]);
  });

  it('the kernel\'s order (newest first), its reverse or any other: the same real servers are the same, a changed weight found in each', () => {
    const four: DesiredService = { ...tcp80, dests: [rs('10.0.0.2'), rs('10.0.0.3', 2), rs('10.0.0.4', 3), rs('10.0.0.5', 4)] };
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [3, 1, 2, 0]];
    for (const order of orders) {
      const kernel = { ...cur(four), dests: order.map((i) => cur(four).dests[i]!) };
      expect(diffTables({ ...base, desired: [four], current: [kernel] }).ops).toEqual([]);
      const changed = { ...four, dests: four.dests.map((d, i) => (i === 2 ? { ...d, weight: 7 } : d)) };
      expect(diffTables({ ...base, desired: [changed], current: [kernel] }).ops).toEqual([{ op: 'edit-dest', service: tcp80.key, dest: changed.dests[2] }]);
    }
    // As many real servers, one of them another: the new one added, the old one deleted.
    const swapped = { ...four, dests: [rs('10.0.0.2'), rs('10.0.0.3', 2), rs('10.0.0.4', 3), rs('10.0.0.9', 4)] };
    const kernel = { ...cur(four), dests: [...cur(four).dests].reverse() };
    expect(diffTables({ ...base, desired: [swapped], current: [kernel] }).ops).toEqual([
      { op: 'del-dest', service: tcp80.key, dest: rs('10.0.0.5').key },
      { op: 'add-dest', service: tcp80.key, dest: swapped.dests[3] },
    ]);
  });

  it('a netmask only matters for a persistent service', () => {
    expect(diffTables({ ...base, desired: [{ ...web, netmask: '255.255.255.0' }], current: [cur(web)] }).ops).toEqual([]);
  });

  it('a real server gone from the config is deleted; a foreign service is left alone; an owned one is deleted', () => {
    const foreign: CurrentService = cur({ ...web, key: { ...tcp80.key, port: 81 } as Service['key'] });
    const old: CurrentService = cur({ ...web, key: { ...tcp80.key, port: 82 } as Service['key'] });
    const { ops } = diffTables({ ...base, owned: new Set(['tcp/10.0.0.1/82']), desired: [{ ...web, dests: [rs('10.0.0.2')] }], current: [cur(web), foreign, old] });
    expect(ops).toEqual([
      { op: 'del-dest', service: tcp80.key, dest: { address: '10.0.0.3', port: 8080 } },
      { op: 'del-service', key: old.key },
    ]);
  });

  it('a verdict\'s services replace theirs in the table the manager keeps; a new one goes at the end', () => {
    const other: DesiredService = { ...tcp80, key: { family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 81 }, dests: [] };
    const third: DesiredService = { ...tcp80, key: { family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 82 }, dests: [] };
    const changed: DesiredService = { ...web, dests: [rs('10.0.0.2', 0)] };
    expect(withServices([web, other], [changed, third])).toEqual([changed, other, third]);
    expect(withServices([web, other], [])).toEqual([web, other]);
  });

  it('drain: weight 0 first, deleted once the drain time is over; a returning server stops draining', () => {
    const want: DesiredService = { ...web, dests: [rs('10.0.0.2')] };
    const a = diffTables({ ...base, drainMs: 5000, desired: [want], current: [cur(web)] });
    expect(a.ops).toEqual([{ op: 'edit-dest', service: tcp80.key, dest: rs('10.0.0.3', 0) }]);
    expect(a.nextDrainAt).toBe(6000);
    const drained = cur({ ...web, dests: [rs('10.0.0.2'), rs('10.0.0.3', 0)] });
    const b = diffTables({ ...base, drainMs: 5000, now: 3000, draining: a.draining, desired: [want], current: [drained] });
    expect(b.ops).toEqual([]);
    const c = diffTables({ ...base, drainMs: 5000, now: 6000, draining: b.draining, desired: [want], current: [drained] });
    expect(c.ops).toEqual([{ op: 'del-dest', service: tcp80.key, dest: { address: '10.0.0.3', port: 8080 } }]);
    expect(c.draining.size).toBe(0);
    const back = diffTables({ ...base, drainMs: 5000, now: 4000, draining: b.draining, desired: [web], current: [drained] });
    expect(back.ops).toEqual([{ op: 'edit-dest', service: tcp80.key, dest: rs('10.0.0.3', 2) }]);
    expect(back.draining.size).toBe(0);
  });
});

describe('reconcile from memory (health verdicts: no dump of a huge table)', () => {
  // A stand-in kernel for this pure test: services and real servers by id, errors as IPVS gives them.
  class FakeKernel {
    svcs = new Map<string, CurrentService>();
    dumps = 0;
    dump() {
      this.dumps++;
      const svcs = [...this.svcs.values()];
      const slices = slicesOf(svcs.map((s) => ({ family: s.key.family, dests: s.dests.map((d) => ({ ...d, activeConns: 0, inactiveConns: 0, persistentConns: 0 })) })));
      return servicesOf(svcs).map((service, i) => ({ service, dests: slices[i]! }));
    }
    apply(ops: IpvsOp[]): OpResult[] {
      return ops.map((o) => {
        const fail = (code: string) => ({ op: o, error: Object.assign(new Error(code), { code }) });
        if (o.op === 'add-service') {
          if (this.svcs.has(serviceId(o.service.key))) return fail('EEXIST');
          this.svcs.set(serviceId(o.service.key), { ...o.service, dests: [] });
          return { op: o };
        }
        if (o.op === 'del-service') return this.svcs.delete(serviceId(o.key)) ? { op: o } : fail('ESRCH');
        const s = this.svcs.get(serviceId(o.op === 'edit-service' ? o.service.key : o.service));
        if (!s) return fail('ESRCH');
        if (o.op === 'edit-service') return Object.assign(s, o.service), { op: o };
        const id = destId(o.op === 'del-dest' ? o.dest : o.dest.key);
        const i = s.dests.findIndex((d) => destId(d.key) === id);
        if (o.op === 'add-dest') {
          if (i >= 0) return fail('EEXIST');
          s.dests.push({ ...o.dest });
        } else if (i < 0) return fail('ENOENT');
        else if (o.op === 'edit-dest') s.dests[i] = { ...s.dests[i]!, ...o.dest };
        else s.dests.splice(i, 1);
        return { op: o };
      }) as OpResult[];
    }
  }
  const web = (w2: number): DesiredService => ({ ...tcp80, dests: [rs('10.0.0.2'), rs('10.0.0.3', w2)] });

  it('after one dump, verdicts are applied from memory: the changed real server only, no dump', () => {
    const k = new FakeKernel();
    const r = new Reconciler(k as unknown as IpvsClient);
    expect(r.reconcile([web(1)], { fromMemory: true })).toMatchObject({ source: 'dump', ops: 3 }); // nothing known yet: dump
    expect(r.reconcile([web(0)], { fromMemory: true })).toMatchObject({ source: 'memory', ops: 1, failed: [] });
    expect(r.reconcile([{ ...tcp80, dests: [rs('10.0.0.2')] }], { fromMemory: true })).toMatchObject({ source: 'memory', ops: 1 });
    expect(r.reconcile([web(5)], { fromMemory: true })).toMatchObject({ source: 'memory', ops: 1 });
    expect(k.dumps).toBe(1);
    // Memory matches the kernel: a dump finds nothing to do.
    expect(r.reconcile([web(5)])).toMatchObject({ source: 'dump', ops: 0 });
    expect(k.svcs.get(serviceId(tcp80.key))!.dests.map((d) => d.weight)).toEqual([1, 5]);
  });

  it('a verdict reconciles only the services it touched: the others are neither looked at nor deleted, their drains keep running', () => {
    const k = new FakeKernel();
    const r = new Reconciler(k as unknown as IpvsClient, { drainMs: 5000, now: () => 1000 });
    const other: DesiredService = { ...tcp80, key: { ...tcp80.key, port: 81 } as typeof tcp80.key, dests: [rs('10.0.0.7'), rs('10.0.0.8')] };
    r.reconcile([web(1), other]);
    // 10.0.0.8 leaves "other": drained (weight 0), due for deletion in 5 s.
    r.reconcile([web(1), { ...other, dests: [rs('10.0.0.7')] }], { fromMemory: true });
    const only = new Set([serviceId(tcp80.key)]);
    const rep = r.reconcile([web(0)], { fromMemory: true, only });
    expect(rep).toMatchObject({ source: 'memory', ops: 1, failed: [] });
    expect(k.svcs.size).toBe(2); // "other" not deleted although absent from this desired list
    expect(k.svcs.get(serviceId(other.key))!.dests.map((d) => `${d.key.address}/${d.weight}`)).toEqual(['10.0.0.7/1', '10.0.0.8/0']);
    // The drain of "other" survived the partial reconcile: a full one later still counts from t=1000.
    expect(r.reconcile([web(0), { ...other, dests: [rs('10.0.0.7')] }], { fromMemory: true }).nextDrainAt).toBe(6000);
    // Without memory, a partial reconcile is refused (a dump with part of the table would delete the rest).
    expect(() => new Reconciler(k as unknown as IpvsClient).reconcile([web(0)], { fromMemory: true, only })).toThrow(/needs the table in memory/);
  });

  it('memory gone stale (someone deleted a real server by hand): the failed operation triggers a dump and the table converges', () => {
    const k = new FakeKernel();
    const r = new Reconciler(k as unknown as IpvsClient);
    r.reconcile([web(1)]);
    k.svcs.get(serviceId(tcp80.key))!.dests.pop(); // ipvsadm -d behind vipd's back
    const rep = r.reconcile([web(3)], { fromMemory: true });
    expect(rep).toMatchObject({ source: 'dump', ops: 1, failed: [] }); // the fresh dump's diff: add it back with weight 3
    expect(k.dumps).toBe(2);
    expect(k.svcs.get(serviceId(tcp80.key))!.dests.map((d) => `${d.key.address}/${d.weight}`)).toEqual(['10.0.0.2/1', '10.0.0.3/3']);
    // The same for a reconcile of some services: it reports the memory stale and leaves the whole-table reconcile to the caller.
    k.svcs.get(serviceId(tcp80.key))!.dests.pop();
    expect(r.reconcile([web(4)], { fromMemory: true, only: new Set([serviceId(tcp80.key)]) })).toMatchObject({ stale: true });
    expect(r.hasMemory).toBe(false);
    expect(k.dumps).toBe(2);
  });
});
