import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { configIssues as issues } from './fixtures.js';

const inst = (body: string) => `vrrp_instances:\n  VI_6:\n    interface: eth0\n    vrid: 61\n${body}`;

describe('IPv6 instances and virtual_ipaddress_excluded', () => {
  it('IPv6 virtual_ipaddress make an IPv6 instance: addresses normalised (RFC 5952), /128 by default, peers of the same family', () => {
    const c = parseConfig(
      inst('    virtual_ipaddress: [2001:DB8:0:0::100/64, {address: "fd00::1"}]\n    unicast_src_ip: fe80::0:1\n    unicast_peer: [FE80::2]\n    virtual_ipaddress_excluded: [192.0.2.1/24]\n'),
      'f.yaml',
    ).instances[0]!;
    expect(c.family).toBe('inet6');
    expect(c.version).toBe(3);
    expect(c.virtualIps).toEqual([
      { address: '2001:db8::100', prefix: 64, device: 'eth0' },
      { address: 'fd00::1', prefix: 128, device: 'eth0', preferredLft: 0 }, // keepalived deprecates a /128
    ]);
    expect(c.unicastSrcIp).toBe('fe80::1');
    expect(c.unicastPeers).toEqual(['fe80::2']);
    expect(c.excludedIps).toEqual([{ address: '192.0.2.1', prefix: 24, device: 'eth0' }]);
    // An IPv4 instance has neither field.
    const v4 = parseConfig(inst('    virtual_ipaddress: [192.0.2.100/24]\n'), 'f.yaml').instances[0]!;
    expect(v4.family).toBeUndefined();
    expect(v4.excludedIps).toBeUndefined();
  });

  it('mixed families, v2, the message-only checksum, peers of the other family and bad IPv6 addresses are rejected at their line:col', () => {
    expect(issues(inst('    virtual_ipaddress: [192.0.2.100/24, "2001:db8::1/64"]\n'))).toEqual([
      '5:41 vrrp_instances.VI_6.virtual_ipaddress[1]: 2001:db8::1 is IPv6 but this instance\'s first virtual IP is IPv4: an advert carries one family; valid: move it to virtual_ipaddress_excluded (added and removed with the VIPs, not advertised) or to an instance of its own',
    ]);
    expect(issues(inst('    virtual_ipaddress: ["2001:db8::1/64"]\n    version: 2\n'))).toEqual([
      '6:14 vrrp_instances.VI_6.version: VRRPv2 has no IPv6 (RFC 3768), and this instance is IPv6 (its virtual_ipaddress are); valid: version: 3',
    ]);
    expect(issues(inst('    virtual_ipaddress: ["2001:db8::1/64"]\n    v3_checksum: message\n'))[0]).toMatch(/^6:18 vrrp_instances.VI_6.v3_checksum: over IPv6 the checksum always covers the pseudo-header/);
    expect(issues(inst('    virtual_ipaddress: ["2001:db8::1/64"]\n    unicast_peer: [192.0.2.2]\n'))).toEqual([
      '6:20 vrrp_instances.VI_6.unicast_peer[0]: "192.0.2.2" is not an IPv6 address; valid: an IPv6 address like 2001:db8::12 or fe80::12 (this instance is IPv6: its virtual_ipaddress are)',
    ]);
    expect(issues(inst('    virtual_ipaddress: [192.0.2.1/24]\n    unicast_src_ip: "fe80::1"\n'))[0]).toMatch(/^6:21 vrrp_instances.VI_6.unicast_src_ip: "fe80::1" is not a dotted-quad IPv4 address; valid: an IPv4 address/);
    const bad = issues(inst('    virtual_ipaddress: ["2001:db8::1/129", "2001:db8::g", "ff02::1", {address: "2001:db8::5", label: "eth0:v"}]\n'));
    expect(bad).toEqual([
      expect.stringMatching(/virtual_ipaddress\[0\]: prefix length "\/129" is out of range; valid: an IPv6 address with an optional prefix length 1..128/),
      expect.stringMatching(/virtual_ipaddress\[1\]: "2001:db8::g" is not an IPv6 address/),
      expect.stringMatching(/virtual_ipaddress\[2\]: ff02::1 cannot be a virtual IP \(unspecified, loopback or multicast\)/),
      expect.stringMatching(/virtual_ipaddress\[3\].label: an IPv6 address cannot have a label/),
    ]);
  });

  it('an address listed in both virtual_ipaddress and virtual_ipaddress_excluded is listed twice', () => {
    expect(issues(inst('    virtual_ipaddress: [192.0.2.1/24]\n    virtual_ipaddress_excluded: [192.0.2.1/32]\n'))).toEqual([
      '6:34 vrrp_instances.VI_6.virtual_ipaddress_excluded[0]: 192.0.2.1 is listed twice; list each virtual IP once',
    ]);
  });
});
