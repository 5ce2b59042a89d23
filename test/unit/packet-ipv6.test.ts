import { describe, expect, it } from 'vitest';
import { bytesToIpv6 } from '../../src/net/inet.js';
import { naFrame } from '../../src/net/na.js';
import { decodeAdvert, encodeAdvert, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { ipv6Packets } from './pcap.js';

// keepalived 2.2.7, VRRPv3 over IPv6 (see vectors/README.md): master at 150, its
// unsolicited neighbour advertisements, its priority-0 resignation.
const V6 = new URL('../vectors/vrrp-v3-ipv6-keepalived.pcap', import.meta.url);
const packets = ipv6Packets(V6).map(({ packet, frame }) => ({
  frame,
  hopLimit: packet[7]!,
  tclass: (packet.readUInt32BE(0) >>> 20) & 0xff,
  next: packet[6]!,
  src: bytesToIpv6(packet, 8),
  dst: bytesToIpv6(packet, 24),
  payload: packet.subarray(40, 40 + packet.readUInt16BE(4)),
}));
const adverts = packets.filter((p) => p.next === 112);

const v3 = (over: Partial<VrrpAdvert> = {}): VrrpAdvert => ({
  version: 3,
  vrid: 1,
  priority: 100,
  intervalCs: 100,
  addresses: ['2001:db8::1', '2001:db8::2'],
  authType: 0,
  authData: Buffer.alloc(8),
  ...over,
});

describe('VRRPv3 over IPv6: keepalived 2.2.7 capture', () => {
  it('every advert decodes (pseudo-header checksum) and re-encodes to the same bytes', () => {
    expect(adverts.length).toBeGreaterThanOrEqual(4);
    const prios = new Set<number>();
    for (const p of adverts) {
      expect(p.hopLimit).toBe(255);
      expect(p.tclass).toBe(0xc0);
      expect(p.dst).toBe('ff02::12');
      expect(p.src).toMatch(/^fe80::/);
      const d = decodeAdvert(p.payload, p.src, p.dst);
      expect(d).toMatchObject({ ok: true, checksum: 'pseudo-header', advert: { version: 3, vrid: 61, intervalCs: 100, addresses: ['fd00:99::100'] } });
      if (!d.ok) continue;
      prios.add(d.advert.priority);
      expect(encodeAdvert(d.advert, { src: p.src, dst: p.dst }).equals(p.payload)).toBe(true);
    }
    expect([...prios].sort()).toEqual([0, 150]);
  });

  it('our unsolicited neighbour advertisements are the frames keepalived sends, byte for byte', () => {
    const nas = packets.filter((p) => p.next === 58 && p.payload[0] === 136);
    expect(nas.length).toBe(5); // one burst of garp_master_repeat (5)
    for (const na of nas) {
      const mac = [...na.frame.subarray(6, 12)].map((x) => x.toString(16).padStart(2, '0')).join(':');
      expect(naFrame(mac, 'fd00:99::100', false).equals(na.frame)).toBe(true);
    }
    // The Router flag (a forwarding interface) is the only difference.
    const r = naFrame('02:00:00:00:00:01', 'fd00:99::100', true);
    expect(r.readUInt32BE(14 + 40 + 4)).toBe(0xa0000000);
  });
});

describe('VRRPv3 over IPv6: the RFC rules', () => {
  // Built by hand (an independent implementation): pseudo-header fe80::1 -> ff02::12,
  // length 40 as 32 bits, next header 112; message 3|1, vrid 1, prio 100, 2 addresses, 100 cs.
  const HAND = '31016402006410f420010db800000000000000000000000120010db8000000000000000000000002';

  it('a hand-built message encodes and decodes byte for byte', () => {
    expect(encodeAdvert(v3(), { src: 'fe80::1', dst: 'ff02::12' }).toString('hex')).toBe(HAND);
    expect(decodeAdvert(Buffer.from(HAND, 'hex'), 'fe80::1', 'ff02::12')).toMatchObject({ ok: true, checksum: 'pseudo-header', advert: v3() });
  });

  it('the pseudo-header binds source and destination; the message-only form is not accepted over IPv6', () => {
    const msg = Buffer.from(HAND, 'hex');
    expect(decodeAdvert(msg, 'fe80::2', 'ff02::12')).toMatchObject({ ok: false, reason: 'bad-checksum' });
    expect(decodeAdvert(msg, 'fe80::1', 'fe80::9')).toMatchObject({ ok: false, reason: 'bad-checksum' });
    const messageOnly = encodeAdvert(v3({ addresses: ['10.0.0.1', '10.0.0.2'] }), { src: '10.0.0.1', dst: '224.0.0.18', checksum: 'message' });
    // Same header, IPv4 addresses: refused as an IPv6 message whatever its checksum.
    expect(decodeAdvert(messageOnly, 'fe80::1', 'ff02::12').ok).toBe(false);
    // The v3_checksum option is for IPv4 only: an IPv6 message always carries the pseudo-header form.
    expect(encodeAdvert(v3(), { src: 'fe80::1', dst: 'ff02::12', checksum: 'message' }).toString('hex')).toBe(HAND);
  });

  it('malformed IPv6 messages are refused with a reason, never thrown', () => {
    const msg = Buffer.from(HAND, 'hex');
    for (let n = 0; n < msg.length; n++) expect(decodeAdvert(msg.subarray(0, n), 'fe80::1', 'ff02::12')).toMatchObject({ ok: false, reason: 'truncated' });
    const v2 = Buffer.from(msg);
    v2[0] = 0x21;
    expect(decodeAdvert(v2, 'fe80::1', 'ff02::12')).toMatchObject({ ok: false, reason: 'bad-version' });
    for (let i = 0; i < msg.length * 8; i++) {
      const b = Buffer.from(msg);
      b[i >> 3]! ^= 1 << (i & 7);
      expect(decodeAdvert(b, 'fe80::1', 'ff02::12').ok).toBe(false);
    }
    expect(() => encodeAdvert({ ...v3(), version: 2 }, { src: 'fe80::1', dst: 'ff02::12' })).toThrow(/IPv6 is version 3 only/);
  });
});
