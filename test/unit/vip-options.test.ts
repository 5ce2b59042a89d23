// keepalived's virtual_ipaddress options (brd, scope, peer, home, -nodad,
// mngtmpaddr, noprefixroute, preferred_lft): what the config accepts per family
// and the rtnetlink request they become (the kernel's view is in test/netns/vip-options.test.ts).

import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/cli/summary.js';
import { parseConfig } from '../../src/config/parse.js';
import { encodeAddrRequest } from '../../src/net/rtnl.js';
import { configIssues } from './fixtures.js';

const vips = (list: string) =>
  parseConfig(`vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [${list}]}\n`, 'f.yaml').instances[0]!.virtualIps;

describe('virtual_ipaddress options', () => {
  it('IPv4: brd, scope by name or number, peer, noprefixroute', () => {
    expect(vips('{address: 10.0.0.1/24, brd: 10.0.0.255, scope: link, noprefixroute: true}, {address: 10.0.0.2, peer: 10.9.9.9/32, scope: 200}'.replace('10.9.9.9/32', '10.9.9.9'))).toEqual([
      { address: '10.0.0.1', prefix: 24, device: 'eth0', brd: '10.0.0.255', scope: 253, noprefixroute: true },
      { address: '10.0.0.2', prefix: 32, device: 'eth0', peer: '10.9.9.9', scope: 200 },
    ]);
  });

  it('IPv6: nodad by default (nodad: false is keepalived\'s -nodad), home, mngtmpaddr, preferred_lft; a /128 is deprecated unless preferred_lft says otherwise', () => {
    expect(vips('2001:db8::1/64, 2001:db8::2/128, {address: 2001:db8::3/128, preferred_lft: forever}, {address: "2001:DB8::4/64", nodad: false, home: true, mngtmpaddr: true, preferred_lft: 600, peer: "2001:db8::ff", no_track: true}')).toEqual([
      { address: '2001:db8::1', prefix: 64, device: 'eth0' },
      { address: '2001:db8::2', prefix: 128, device: 'eth0', preferredLft: 0 },
      { address: '2001:db8::3', prefix: 128, device: 'eth0' },
      { address: '2001:db8::4', prefix: 64, device: 'eth0', nodad: false, home: true, mngtmpaddr: true, preferredLft: 600, peer: '2001:db8::ff', noTrack: true },
    ]);
  });

  it('an option of the other family, a bad scope, a peer of the other family: each named with its fix', () => {
    expect(
      configIssues(
        'vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [{address: 10.0.0.1/24, home: true, preferred_lft: 0, scope: universe, peer: "2001:db8::1"}], virtual_ipaddress_excluded: [{address: "2001:db8::5/64", brd: 10.0.0.255, scope: link, preferred_lft: -1}]}\n',
      ),
    ).toEqual([
      "2:80 vrrp_instances.VI_1.virtual_ipaddress[0].home: home applies to IPv6 addresses only: a home address is Mobile IPv6; remove it",
      '2:92 vrrp_instances.VI_1.virtual_ipaddress[0].preferred_lft: preferred_lft applies to IPv6 addresses only: vipd sets lifetimes on IPv6 addresses only, as keepalived; remove it',
      '2:117 vrrp_instances.VI_1.virtual_ipaddress[0].scope: "universe" is not a scope; valid: global | site | link | host | nowhere, or a number 0..255',
      '2:133 vrrp_instances.VI_1.virtual_ipaddress[0].peer: "2001:db8::1" is not an IPv4 address (the peer is of the address\'s family); valid: an IPv4 address like 192.0.2.2',
      '2:207 vrrp_instances.VI_1.virtual_ipaddress_excluded[0].brd: brd applies to IPv4 addresses only: IPv6 has no broadcast address; remove it',
      "2:224 vrrp_instances.VI_1.virtual_ipaddress_excluded[0].scope: scope applies to IPv4 addresses only: the kernel derives an IPv6 address's scope from the address itself, and keepalived ignores it too; remove it",
      '2:252 vrrp_instances.VI_1.virtual_ipaddress_excluded[0].preferred_lft: expected forever or whole seconds 0..4294967294 (0: deprecated, never chosen as a source address), got -1',
    ]);
  });

  it("vipd check shows each VIP in ip's words", () => {
    const c = parseConfig('vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, no_accept: true, virtual_ipaddress: [{address: 10.0.0.1/24, brd: 10.0.0.255, scope: host, device: eth1, noprefixroute: true}]}\n', 'f.yaml');
    expect(summarize(c)).toContain('10.0.0.1/24 brd 10.0.0.255 scope host dev eth1 noprefixroute preempt multicast no_accept garp 5+5@5s lower-prio 5+5@5s');
  });
});

describe('the rtnetlink request (RTM_NEWADDR payload)', () => {
  const attrs = (b: Buffer): Map<number, Buffer> => {
    const m = new Map<number, Buffer>();
    for (let o = 8; o + 4 <= b.length; ) {
      const len = b.readUInt16LE(o);
      m.set(b.readUInt16LE(o + 2), b.subarray(o + 4, o + len));
      o += (len + 3) & ~3;
    }
    return m;
  };

  it('IPv4 with peer, brd, scope and noprefixroute: IFA_ADDRESS is the peer, the flag goes in IFA_FLAGS', () => {
    const b = encodeAddrRequest(7, { address: '10.0.0.1', prefix: 24, peer: '10.0.0.9', brd: '10.0.0.255', scope: 253, noprefixroute: true, label: 'eth0:v' });
    expect([...b.subarray(0, 8)]).toEqual([2, 24, 0, 253, 7, 0, 0, 0]);
    const a = attrs(b);
    expect([...a.get(2)!]).toEqual([10, 0, 0, 1]); // IFA_LOCAL
    expect([...a.get(1)!]).toEqual([10, 0, 0, 9]); // IFA_ADDRESS
    expect([...a.get(4)!]).toEqual([10, 0, 0, 255]); // IFA_BROADCAST
    expect(a.get(3)!.toString()).toBe('eth0:v\0'); // IFA_LABEL
    expect(a.get(8)!.readUInt32LE()).toBe(0x200); // IFA_FLAGS: IFA_F_NOPREFIXROUTE
  });

  it('IPv6: nodad and home in the header, mngtmpaddr in IFA_FLAGS, IFA_CACHEINFO with the preferred lifetime and a valid one of forever', () => {
    const b = encodeAddrRequest(3, { address: '2001:db8::1', prefix: 128, home: true, mngtmpaddr: true, preferredLft: 0 });
    expect([...b.subarray(0, 4)]).toEqual([10, 128, 0x12, 0]);
    const a = attrs(b);
    expect(a.get(8)!.readUInt32LE()).toBe(0x112);
    expect([a.get(6)!.readUInt32LE(0), a.get(6)!.readUInt32LE(4)]).toEqual([0, 0xffffffff]);
    const dad = encodeAddrRequest(3, { address: '2001:db8::1', prefix: 64, nodad: false });
    expect(dad[2]).toBe(0);
    expect(attrs(dad).has(6)).toBe(false);
    expect(attrs(dad).has(8)).toBe(false);
  });
});
