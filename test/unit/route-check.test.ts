// The route check after a full reconcile, over a faked route table: what it says
// about each real server, and what of it is logged (new problems only, at most 20).

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { newProblemLines, routeProblems, type Routes, tierSysctlAdvice } from '../../src/daemon/route-check.js';
import { RouteTable } from '../../src/net/rtnl.js';

const cfg = parseConfig(
  [
    'virtual_servers:',
    '  web:',
    '    address: 10.0.0.100',
    '    port: 80',
    '    real_servers:',
    '      - {address: 192.0.2.10, port: 80, forwarding: dr}',
    '      - {address: 198.51.100.7, port: 80, forwarding: dr}',
    '      - {address: 198.51.100.8, port: 80, forwarding: nat}',
    '      - {address: 10.9.0.1, port: 80}',
    '  api:',
    '    address: 10.0.0.101',
    '    port: 80',
    '    real_servers: [{address: 10.9.0.1, port: 80}]',
  ].join('\n'),
  '/etc/vipd/vipd.yaml',
);

describe('route check', () => {
  const routes = new RouteTable([
    { family: 'inet', dstLen: 0, table: 254, type: 'unicast', gateway: '192.0.2.1', oif: 2 },
    { family: 'inet', dst: '192.0.2.0', dstLen: 24, table: 254, type: 'unicast', oif: 2 },
    { family: 'inet', dst: '10.9.0.0', dstLen: 16, table: 254, type: 'unreachable' },
  ]);

  it('no route, and direct routing through a gateway, each said with the fix; a reachable one is fine', () => {
    expect(routeProblems(cfg, routes)).toEqual([
      'real server 198.51.100.7 of virtual server "web": direct routing needs it on a directly connected network, but the route goes via 192.0.2.1: use forwarding nat or tunnel, or connect the network',
      'real server 10.9.0.1 of virtual server "web": no route to it (unreachable); its traffic will be dropped: add a route or correct the address',
      'real server 10.9.0.1 of virtual server "api": no route to it (unreachable); its traffic will be dropped: add a route or correct the address',
    ]);
  });

  it('each address is looked up once, whatever the number of virtual servers using it', () => {
    const asked: string[] = [];
    const counting: Routes = { lookup: (a) => (asked.push(a), { type: 'unicast', oif: 1 }) };
    expect(routeProblems(cfg, counting)).toEqual([]);
    expect(asked).toEqual(['192.0.2.10', '198.51.100.7', '198.51.100.8', '10.9.0.1']);
  });

  it('only new problems are logged, at most 20, the rest as one count', () => {
    const many = Array.from({ length: 25 }, (_, i) => `problem ${i}`);
    expect(newProblemLines([], ['a', 'b'])).toEqual({ lines: ['a', 'b'] });
    expect(newProblemLines(['a'], ['a', 'b'])).toEqual({ lines: ['b'] });
    expect(newProblemLines(many, many)).toEqual({ lines: [] });
    const r = newProblemLines([], many);
    expect(r.lines).toEqual(many.slice(0, 20));
    expect(r.more).toEqual({ count: 5, line: '... and 5 more real server(s) with a route problem (vipd status --json lists them all)' });
  });
});

describe('the ECMP tier\'s sysctl advice', () => {
  const tier = parseConfig('virtual_servers:\n  web:\n    address: 192.0.2.100\n    port: 80\n    forwarding: dr\n    announce: true\n    real_servers: [{address: 10.0.0.11}]\n', 'f.yaml');
  const read = (v: string | undefined) => (name: string) => (name === 'net/ipv4/vs/sloppy_tcp' ? v : undefined);

  it('sloppy_tcp 0 with an announced service: one line naming the setting, the breakage and the fix', () => {
    const [line, ...rest] = tierSysctlAdvice(tier, read('0\n'));
    expect(rest).toEqual([]);
    expect(line).toMatch(/^net\.ipv4\.vs\.sloppy_tcp is 0: in an ECMP tier .* breaks .*set net\.ipv4\.vs\.sloppy_tcp=1 on every director in \/etc\/sysctl\.d\//);
  });

  it('nothing when it is 1, when IPVS is not loaded (no such file), or when nothing is announced', () => {
    expect(tierSysctlAdvice(tier, read('1\n'))).toEqual([]);
    expect(tierSysctlAdvice(tier, read(undefined))).toEqual([]);
    expect(tierSysctlAdvice(cfg, read('0\n'))).toEqual([]);
  });
});
