import { describe, expect, it } from 'vitest';
import { garpFrame } from '../../src/net/garp.js';
import { parseIpv4 } from '../../src/vrrp/ipv4.js';
import { authDataFromPassword, decodeAdvert, encodeAdvert, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { arpFrames, ipv4Packets } from './pcap.js';

const V2 = new URL('../vectors/vrrp-v2-keepalived.pcap', import.meta.url);
const V3 = new URL('../vectors/vrrp-v3-keepalived.pcap', import.meta.url);

function vrrpOf(file: URL) {
  return ipv4Packets(file)
    .map((p) => parseIpv4(p.packet))
    .filter((r): r is Extract<ReturnType<typeof parseIpv4>, { ok: true }> => r.ok && r.header.protocol === 112);
}

describe('golden vectors from keepalived 2.2.7', () => {
  for (const [name, file, version] of [
    ['v2', V2, 2],
    ['v3', V3, 3],
  ] as const) {
    it(`${name}: every advert decodes to the expected fields and re-encodes to the same bytes`, () => {
      const pkts = vrrpOf(file);
      expect(pkts.length).toBeGreaterThan(5);
      const prios = new Set<string>();
      for (const { header, payload } of pkts) {
        expect(header.ttl).toBe(255);
        expect(header.tos).toBe(0xc0);
        expect(header.dst).toBe('224.0.0.18');
        const d = decodeAdvert(payload, header.src, header.dst);
        expect(d.ok).toBe(true);
        if (!d.ok) continue;
        const a = d.advert;
        expect(a.version).toBe(version);
        expect(a.vrid).toBe(51);
        expect(a.addresses).toEqual(['10.77.0.100']);
        expect(a.intervalCs).toBe(100);
        expect([150, 100, 0]).toContain(a.priority);
        prios.add(`${header.src}/${a.priority}`);
        if (version === 2) {
          expect(a.authType).toBe(1);
          expect(a.authData.toString('latin1')).toBe('secret12');
          expect(d.checksum).toBe('message');
        } else {
          expect(d.checksum).toBe('pseudo-header'); // keepalived's form
        }
        const again = encodeAdvert(a, { src: header.src, dst: header.dst, checksum: d.checksum });
        expect(again.toString('hex')).toBe(payload.toString('hex'));
      }
      // The capture holds lb1 at 150, its priority-0 resignation, lb2 at 100 and its resignation.
      expect([...prios].sort()).toEqual(['10.77.0.11/0', '10.77.0.11/150', '10.77.0.12/0', '10.77.0.12/100']);
    });
  }

  it('the hex messages listed in vectors/README.md encode byte for byte', () => {
    const base = { vrid: 51, intervalCs: 100, addresses: ['10.77.0.100'] };
    const v2 = (priority: number): VrrpAdvert => ({ ...base, version: 2, priority, authType: 1, authData: authDataFromPassword('secret12') });
    const v3 = (priority: number): VrrpAdvert => ({ ...base, version: 3, priority, authType: 0, authData: Buffer.alloc(8) });
    const at = (src: string) => ({ src, dst: '224.0.0.18' });
    expect(encodeAdvert(v2(150), at('10.77.0.11')).toString('hex')).toBe('213396010101cf9a0a4d00647365637265743132');
    expect(encodeAdvert(v2(0), at('10.77.0.11')).toString('hex')).toBe('213300010101659b0a4d00647365637265743132');
    expect(encodeAdvert(v2(100), at('10.77.0.12')).toString('hex')).toBe('213364010101019b0a4d00647365637265743132');
    expect(encodeAdvert(v3(150), at('10.77.0.11')).toString('hex')).toBe('31339601006442cf0a4d0064');
    expect(encodeAdvert(v3(0), at('10.77.0.11')).toString('hex')).toBe('313300010064d8cf0a4d0064');
    expect(encodeAdvert(v3(100), at('10.77.0.12')).toString('hex')).toBe('31336401006474ce0a4d0064');
    expect(encodeAdvert(v3(0), at('10.77.0.12')).toString('hex')).toBe('313300010064d8ce0a4d0064');
  });

  it('our gratuitous ARP frames are the ones keepalived sends (broadcast request, sender = target = VIP)', () => {
    for (const file of [V2, V3]) {
      const frames = arpFrames(file);
      expect(frames.length).toBeGreaterThanOrEqual(5);
      for (const f of frames) {
        const mac = [...f.subarray(6, 12)].map((x) => x.toString(16).padStart(2, '0')).join(':');
        expect(garpFrame(mac, '10.77.0.100').toString('hex')).toBe(f.subarray(0, 42).toString('hex'));
      }
    }
  });
});

describe('v3 checksum forms', () => {
  const adv: VrrpAdvert = { version: 3, vrid: 7, priority: 120, intervalCs: 10, addresses: ['192.0.2.1', '192.0.2.2'], authType: 0, authData: Buffer.alloc(8) };
  const ip = { src: '192.0.2.11', dst: '224.0.0.18' };

  it('RFC 9568 message-only form is sent on request and accepted, reported as such', () => {
    const m = encodeAdvert(adv, { ...ip, checksum: 'message' });
    const p = encodeAdvert(adv, { ...ip, checksum: 'pseudo-header' });
    expect(m.readUInt16BE(6)).not.toBe(p.readUInt16BE(6));
    const dm = decodeAdvert(m, ip.src, ip.dst);
    const dp = decodeAdvert(p, ip.src, ip.dst);
    expect(dm.ok && dm.checksum).toBe('message');
    expect(dp.ok && dp.checksum).toBe('pseudo-header');
    if (dm.ok) expect(dm.advert).toMatchObject({ vrid: 7, priority: 120, intervalCs: 10, addresses: ['192.0.2.1', '192.0.2.2'] });
  });

  it('a pseudo-header checksum from another source address fails (the pseudo-header binds the IP addresses)', () => {
    const p = encodeAdvert(adv, { ...ip, checksum: 'pseudo-header' });
    expect(decodeAdvert(p, '192.0.2.99', ip.dst)).toMatchObject({ ok: false, reason: 'bad-checksum' });
  });

  it('any flipped bit is a bad checksum', () => {
    const p = encodeAdvert(adv, ip);
    for (let bit = 0; bit < p.length * 8; bit++) {
      const c = Buffer.from(p);
      c[bit >> 3]! ^= 1 << (bit & 7);
      const d = decodeAdvert(c, ip.src, ip.dst);
      expect(d.ok, `bit ${bit}`).toBe(false);
    }
  });
});

describe('malformed input is refused with a reason, never thrown', () => {
  const v2 = encodeAdvert(
    { version: 2, vrid: 1, priority: 100, intervalCs: 100, addresses: ['10.0.0.1'], authType: 1, authData: authDataFromPassword('pw') },
    { src: '10.0.0.2', dst: '224.0.0.18' },
  );
  const v3 = encodeAdvert({ version: 3, vrid: 1, priority: 100, intervalCs: 100, addresses: ['10.0.0.1'], authType: 0, authData: Buffer.alloc(8) }, { src: '10.0.0.2', dst: '224.0.0.18' });

  it('every truncation of a valid message', () => {
    for (const m of [v2, v3])
      for (let len = 0; len < m.length; len++) {
        const d = decodeAdvert(m.subarray(0, len), '10.0.0.2', '224.0.0.18');
        expect(d.ok).toBe(false);
        if (!d.ok) expect(d.reason).toBe('truncated');
      }
  });

  it('wrong version, wrong type, address count 0', () => {
    const bad = (mut: (b: Buffer) => void) => {
      const b = Buffer.from(v3);
      mut(b);
      return decodeAdvert(b, '10.0.0.2', '224.0.0.18');
    };
    expect(bad((b) => (b[0] = 0x41))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(bad((b) => (b[0] = 0x11))).toMatchObject({ ok: false, reason: 'bad-version' });
    expect(bad((b) => (b[0] = 0x32))).toMatchObject({ ok: false, reason: 'bad-type' });
    expect(bad((b) => (b[3] = 0))).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(bad((b) => (b[3] = 2))).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('IPv4 headers: short, wrong version, IHL below 5, total length beyond the buffer', () => {
    const ipHdr = Buffer.from('45c00020000000000fff0000c0a80001e0000012', 'hex');
    const pkt = Buffer.concat([ipHdr, v3]);
    pkt.writeUInt16BE(pkt.length, 2);
    const ok = parseIpv4(pkt);
    expect(ok.ok && ok.header).toMatchObject({ ttl: 0x0f, tos: 0xc0, protocol: 0xff, src: '192.168.0.1', dst: '224.0.0.18' });
    expect(parseIpv4(pkt.subarray(0, 19))).toEqual({ ok: false, reason: 'truncated' });
    const v6 = Buffer.from(pkt);
    v6[0] = 0x65;
    expect(parseIpv4(v6)).toEqual({ ok: false, reason: 'bad-ip-header' });
    const ihl = Buffer.from(pkt);
    ihl[0] = 0x44;
    expect(parseIpv4(ihl)).toEqual({ ok: false, reason: 'bad-ip-header' });
    const long = Buffer.from(pkt);
    long.writeUInt16BE(pkt.length + 1, 2);
    expect(parseIpv4(long)).toEqual({ ok: false, reason: 'truncated' });
  });

  it('10,000 random buffers and 10,000 mutated adverts never throw', () => {
    let seed = 0x12345678;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const b = Buffer.alloc(Math.floor(rnd() * 80));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      const ip = parseIpv4(b);
      if (ip.ok) decodeAdvert(ip.payload, ip.header.src, ip.header.dst);
      decodeAdvert(b, '10.0.0.2', '224.0.0.18');
      const m = Buffer.from(rnd() < 0.5 ? v2 : v3);
      m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      if (decodeAdvert(m, '10.0.0.2', '224.0.0.18').ok) accepted++;
    }
    // A one-byte change passes the checksum only if it did not change the byte.
    expect(accepted).toBeLessThan(200);
  });
});

describe('encode refuses what cannot go on the wire', () => {
  const base: VrrpAdvert = { version: 3, vrid: 1, priority: 1, intervalCs: 100, addresses: ['10.0.0.1'], authType: 0, authData: Buffer.alloc(8) };
  it('v3 interval outside 1..4095 cs, v2 interval not whole seconds, more than 255 addresses', () => {
    const at = { src: '10.0.0.2', dst: '224.0.0.18' };
    expect(() => encodeAdvert({ ...base, intervalCs: 0 }, at)).toThrow(RangeError);
    expect(() => encodeAdvert({ ...base, intervalCs: 4096 }, at)).toThrow(RangeError);
    expect(() => encodeAdvert({ ...base, version: 2, intervalCs: 50 }, at)).toThrow(/whole seconds/);
    expect(() => encodeAdvert({ ...base, addresses: Array(256).fill('10.0.0.1') }, at)).toThrow(RangeError);
    expect(encodeAdvert({ ...base, intervalCs: 4095 }, at).readUInt16BE(4)).toBe(4095);
  });
});
