// keepalived's virtual_routes / virtual_rules lines: parsed as ip-route / ip-rule
// words, encoded as rtnetlink messages; a bad word is reported at its column.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { parseRouteLine, parseRuleLine } from '../../src/config/routes.js';
import { encodeRoute, encodeRule, routeText, ruleText } from '../../src/net/rtroute.js';
import { configIssues } from './fixtures.js';

const routeOf = (line: string) => {
  const r = parseRouteLine(line);
  if (!r.ok) throw new Error(r.why);
  return r;
};
const ruleOf = (line: string) => {
  const r = parseRuleLine(line);
  if (!r.ok) throw new Error(r.why);
  return r;
};

describe('virtual_routes lines', () => {
  it("keepalived.conf(5)'s examples parse to what ip route would add", () => {
    expect(routeOf('src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1').spec).toEqual({
      family: 'inet', type: 'unicast', to: { address: '192.168.109.0', prefix: 24 }, src: '192.168.100.1', via: '192.168.200.254', dev: 'eth1', table: 254,
    });
    expect(routeOf('192.168.111.0/24 dev eth2 no_track')).toMatchObject({ noTrack: true, spec: { dev: 'eth2', to: { prefix: 24 } } });
    expect(routeOf('blackhole 192.168.114.0/24').spec).toMatchObject({ type: 'blackhole', table: 254 });
    expect(routeOf('0.0.0.0/0 gw 192.168.0.1 table 100').spec).toMatchObject({ to: { address: '0.0.0.0', prefix: 0 }, via: '192.168.0.1', table: 100 });
    expect(routeOf('2001:db8::/32 via fe80::1 dev eth0 metric 10').spec).toMatchObject({ family: 'inet6', metric: 10 });
    expect(routeText(routeOf('192.0.2.0/24 via 10.0.0.1 table main').spec)).toBe('192.0.2.0/24 via 10.0.0.1');
  });

  it('what is wrong, at which word', () => {
    const bad = (line: string) => {
      const r = parseRouteLine(line);
      return r.ok ? 'ok' : `${r.offset}: ${r.why}`;
    };
    expect(bad('192.0.2.0/24 via 10.0.0.1 or 10.0.0.2')).toBe('26: multipath routes ("or") are not supported; valid: one gateway per route');
    expect(bad('192.0.2.0/24 via 10.0.0.300')).toBe('17: "10.0.0.300" is not an IP address');
    expect(bad('192.0.2.0/24 dev eth0 scope galaxy')).toBe('28: "galaxy" is not a scope; valid: global | site | link | host | nowhere');
    expect(bad('192.0.2.0/24 via 10.0.0.1 weight 3')).toMatch(/^26: unknown word "weight"; valid: to, via\|gw, dev/);
    expect(bad('192.0.2.0/24')).toMatch(/^0: a route needs "via ADDRESS" or "dev INTERFACE"/);
    expect(bad('192.0.2.0/24 via 2001:db8::1')).toBe('0: 2001:db8::1 is not of the destination\'s family (192.0.2.0)');
    expect(bad('192.0.2.0/24 via 10.0.0.1 table 0')).toMatch(/^32: "0" is not a table/);
  });

  it('rtnetlink: rtmsg with the table, type and scope as ip route sends them', () => {
    const b = encodeRoute(routeOf('192.0.2.0/24 dev eth1 table 100').spec, 7);
    expect([...b.subarray(0, 8)]).toEqual([2, 24, 0, 0, 100, 3, 253, 1]); // inet, /24, table 100, proto boot, scope link, unicast
    const bh = encodeRoute(routeOf('blackhole 198.51.100.0/24 table 1000').spec, undefined);
    expect([bh[4], bh[6], bh[7]]).toEqual([252, 0, 6]); // RT_TABLE_COMPAT (the id in RTA_TABLE), universe, blackhole
  });
});

describe('virtual_rules lines', () => {
  it('parse and encode as ip rule would', () => {
    const r = ruleOf('from 192.168.2.0/24 table 1 priority 100');
    expect(r.spec).toEqual({ family: 'inet', action: 'table', table: 1, from: { address: '192.168.2.0', prefix: 24 }, priority: 100 });
    expect(ruleText(r.spec)).toBe('from 192.168.2.0/24 table 1 priority 100');
    expect(ruleOf('to 192.168.2.0/24 table 1 no_track').noTrack).toBe(true);
    const p = ruleOf('to 198.51.100.7 fwmark 0x10/0xff prohibit');
    expect(p.spec).toMatchObject({ action: 'prohibit', fwmark: 16, fwmask: 255 });
    expect([...encodeRule(p.spec).subarray(0, 8)]).toEqual([2, 32, 0, 0, 0, 0, 0, 8]); // dst_len 32, FR_ACT_PROHIBIT at byte 7
    const bad = parseRuleLine('from 192.0.2.0/24 goto 5');
    expect(bad).toEqual({ ok: false, offset: 18, why: expect.stringMatching(/^unknown word "goto"/) });
    expect(parseRuleLine('from 192.0.2.0/24')).toMatchObject({ ok: false, why: expect.stringMatching(/^no action/) });
  });
});

describe('in the config', () => {
  const cfg = (routes: string) => `vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress: [192.0.2.100/24]
    virtual_routes:
      - ${routes}
    virtual_rules: ["from 192.0.2.100 table 100"]
`;

  it('a valid instance carries them, with their lines', () => {
    const c = parseConfig(cfg('192.0.2.0/25 via 192.0.2.1 table 100'), 'f.yaml');
    expect(c.instances[0]!.virtualRoutes).toEqual([{ text: '192.0.2.0/25 via 192.0.2.1 table 100', noTrack: false, spec: expect.objectContaining({ table: 100 }) }]);
    expect(c.instances[0]!.virtualRules.map((r) => r.text)).toEqual(['from 192.0.2.100 table 100']);
  });

  it('a bad word is reported at its own line and column, quoted or not', () => {
    expect(configIssues(cfg('192.0.2.0/25 via 192.0.2.1 tabel 100'))).toEqual([
      expect.stringMatching(/^7:36 vrrp_instances\.VI_1\.virtual_routes\[0\]: unknown word "tabel"; valid: .*; e\.g\. "192\.0\.2\.0\/24 via 10\.0\.0\.1 dev eth1"$/),
    ]);
    expect(configIssues(cfg('"192.0.2.0/25 via 192.0.2.1 tabel 100"'))[0]).toMatch(/^7:37 /); // col 9 is the value, "tabel" its 28th character
  });
});
