// keepalived's and Octavia's director vocabulary: virtual_server_group, the sorry server as
// keepalived runs it, admin_state_up, connection_limit, the Octavia protocol, algorithm and
// session_persistence forms, and the port rules ipvsadm enforces. Config and desired table, pure.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { expandAddresses } from '../../src/config/vs-group.js';
import { Director, limitConnections, wantedChecks } from '../../src/director/desired.js';
import type { Dest } from '../../src/ipvs/types.js';
import { serviceName } from '../../src/ipvs/types.js';
import { configIssues as issues, webService } from './fixtures.js';

const table = (yaml: string) => new Director().plan(parseConfig(yaml, 'f.yaml'), () => undefined).table;
const lines = (t: ReturnType<typeof table>) => t.map((s) => `${serviceName(s.key)} -> ${s.dests.map((d) => `${d.key.address}:${d.key.port} w${d.weight}${d.upperThreshold ? ` x${d.upperThreshold}` : ''}`).join(', ')}`);

describe('virtual_server_group', () => {
  it('ranges, prefixes and single addresses expand as keepalived reads them', () => {
    expect(expandAddresses('192.0.2.10-12')).toEqual({ family: 'inet', addresses: ['192.0.2.10', '192.0.2.11', '192.0.2.12'] });
    expect(expandAddresses('192.0.2.254-192.0.3.1')).toMatchObject({ addresses: ['192.0.2.254', '192.0.2.255', '192.0.3.0', '192.0.3.1'] });
    expect(expandAddresses('192.0.2.8/30')).toMatchObject({ addresses: ['192.0.2.8', '192.0.2.9', '192.0.2.10', '192.0.2.11'] });
    expect(expandAddresses('2001:db8::fe-101')).toEqual({ family: 'inet6', addresses: ['2001:db8::fe', '2001:db8::ff', '2001:db8::100', '2001:db8::101'] });
    expect(expandAddresses('192.0.2.10-5')).toBe('the range ends (192.0.2.5) before it starts (192.0.2.10)');
    expect(expandAddresses('10.0.0.0/8')).toBe('10.0.0.0/8 is 16777216 addresses; valid: at most 4096 services per group');
  });

  it('one IPVS service per member, the same real servers in each; direct routing takes each service\'s port', () => {
    const t = table(`virtual_server_groups:
  web: ["192.0.2.10-11 80", "192.0.2.20 443", "fwmark 9"]
virtual_servers:
  farm:
    group: web
    forwarding: dr
    persistence_timeout: 60
    health_check: {type: TCP, port: 80, delay: 2, timeout: 1}
    real_servers: [{address: 10.0.1.1}, {address: 10.0.1.2, weight: 2}]
`);
    expect(lines(t)).toEqual([
      'TCP 192.0.2.10:80 -> 10.0.1.1:80 w1, 10.0.1.2:80 w2',
      'TCP 192.0.2.11:80 -> 10.0.1.1:80 w1, 10.0.1.2:80 w2',
      'TCP 192.0.2.20:443 -> 10.0.1.1:443 w1, 10.0.1.2:443 w2',
      'FWM 9 -> 10.0.1.1:0 w1, 10.0.1.2:0 w2',
    ]);
    expect(t.every((s) => s.persistence === 60)).toBe(true);
  });

  it('one check per real server for the whole group, and one quorum', () => {
    const cfg = parseConfig(`virtual_server_groups:\n  g: ["192.0.2.1-4 80"]\nvirtual_servers:\n  v:\n    group: g\n    health_check: {type: TCP, delay: 2, timeout: 1}\n    real_servers: [{address: 10.0.1.1}, {address: 10.0.1.2}]\n`, 'f.yaml');
    expect([...wantedChecks(cfg).values()].map((c) => `${c.spec.address}:${c.spec.port}`)).toEqual(['10.0.1.1:80', '10.0.1.2:80']);
    const r = new Director().plan(cfg, () => undefined);
    expect([r.table.length, r.views.length]).toEqual([4, 1]);
  });

  it('errors: an unknown group, a bad line at its place, two forms at once, a clash with another virtual server, port 0 without persistence', () => {
    expect(issues(`virtual_server_groups:
  web: ["192.0.2.1-3 80", "192.0.2.9-2 80", "fwmark x", "2001:db8::1 80"]
  other: ["192.0.2.2 80"]
virtual_servers:
  a: {group: wbe, real_servers: []}
  b: {group: web, address: 192.0.2.5, port: 80, real_servers: []}
  e: {group: web, real_servers: []}
  c: {group: other, real_servers: []}
  d: {address: 192.0.2.7, port: 0, real_servers: []}
`)).toEqual([
      '2:27 virtual_server_groups.web[1]: "192.0.2.9-2 80": the range ends (192.0.2.2) before it starts (192.0.2.9); valid: ADDRESS[-END|/LEN] [PORT], or fwmark N [inet|inet6]',
      '2:45 virtual_server_groups.web[2]: "fwmark x": "x" is not a fwmark 1..4294967295; valid: ADDRESS[-END|/LEN] [PORT], or fwmark N [inet|inet6]',
      '2:57 virtual_server_groups.web[3]: "2001:db8::1 80": IPv6 beside IPv4 addresses: a group serves one family (a service and its real servers share it); put them in two groups; valid: ADDRESS[-END|/LEN] [PORT], or fwmark N [inet|inet6]',
      '5:14 virtual_servers.a.group: no virtual_server_groups entry "wbe"; did you mean "web"? valid: web, other',
      '6:7 virtual_servers.b.group: a virtual server is one of address + port, fwmark or group; it has address and group: remove one',
      "6:39 virtual_servers.b.port: the group's lines give the ports; remove port",
      '8:3 virtual_servers.c: TCP 192.0.2.2:80 is already defined by virtual server "e"; valid: each service once',
      '9:33 virtual_servers.d.port: port 0 (all ports) needs persistence: ipvsadm refuses a zero port for a service that is not persistent; valid: persistence_timeout: 360 (or session_persistence: SOURCE_IP), or a port',
    ]);
  });
});

describe('keepalived\'s sorry server', () => {
  const cfg = (extra: string) => parseConfig(webService(`    quorum: 4\n    sorry_server: {address: 10.0.9.9, port: 8080}\n${extra}`), 'f.yaml');
  const downAll = (c: ReturnType<typeof parseConfig>) => {
    const keys = [...wantedChecks(c).keys()];
    return (k: string) => (k === keys[1] ? ({ verdict: 'down' } as never) : ({ verdict: 'up' } as never));
  };
  const dests = (c: ReturnType<typeof parseConfig>, h: ReturnType<typeof downAll> | (() => undefined)) => new Director().plan(c, h).table[0]!.dests.map((d) => `${d.key.address}:${d.key.port} w${d.weight}`);

  it('while quorum is lost the sorry server serves alone: the healthy real servers leave', () => {
    expect(dests(cfg(''), () => undefined)).toEqual(['10.0.1.1:8080 w3', '10.0.1.2:8080 w2']);
    expect(dests(cfg(''), downAll(cfg('')))).toEqual(['10.0.9.9:8080 w1']); // 3 < 4
  });

  it('sorry_server_inhibit: in the table at weight 0 while quorum holds, weight 1 alone when lost', () => {
    const c = cfg('    sorry_server_inhibit: true\n');
    expect(dests(c, () => undefined)).toEqual(['10.0.1.1:8080 w3', '10.0.1.2:8080 w2', '10.0.9.9:8080 w0']);
    expect(dests(c, downAll(c))).toEqual(['10.0.9.9:8080 w1']);
    expect(issues(webService('    sorry_server_inhibit: true\n'))).toEqual([
      expect.stringMatching(/^7:5 virtual_servers\.web\.sorry_server_inhibit: there is no sorry_server to keep at weight 0/),
    ]);
  });
});

describe('Octavia\'s keys', () => {
  it('admin_state_up: false on a member takes it out, unchecked; on the pool, its service leaves the kernel', () => {
    const c = parseConfig(webService().replace('{address: 10.0.1.2, port: 8080, weight: 2}', '{address: 10.0.1.2, port: 8080, weight: 2, admin_state_up: false}'), 'f.yaml');
    const r = new Director().plan(c, () => undefined);
    expect(r.table[0]!.dests.map((d) => d.key.address)).toEqual(['10.0.1.1']);
    expect(r.views[0]!.realServers.map((x) => x.status)).toEqual(['ONLINE', 'DISABLED']);
    expect([...wantedChecks(c).values()].map((x) => x.spec.address)).toEqual(['10.0.1.1']);
    const off = parseConfig(webService('    admin_state_up: false\n'), 'f.yaml');
    const p = new Director().plan(off, () => undefined);
    expect([p.table, p.views[0]!.status, p.views[0]!.adminDown, wantedChecks(off).size]).toEqual([[], 'OFFLINE', true, 0]);
  });

  it('connection_limit: each real server in service gets its weight\'s share as its upper threshold', () => {
    const d = (address: string, weight: number, upperThreshold = 0): Dest => ({ key: { address, port: 80 }, forwarding: 'nat', weight, upperThreshold, lowerThreshold: 0 });
    const limits = (ds: Dest[], n: number) => limitConnections(ds, n).map((x) => x.upperThreshold);
    expect(limits([d('a', 3), d('b', 2)], 1000)).toEqual([600, 400]);
    expect(limits([d('a', 1), d('b', 1), d('c', 1)], 100)).toEqual([34, 33, 33]);
    expect(limits([d('a', 1), d('b', 1), d('c', 0, 7)], 10)).toEqual([5, 5, 7]); // weight 0: its own threshold only
    expect(limits([d('a', 1, 20), d('b', 1)], 100)).toEqual([20, 50]); // its own limit if lower
    expect(lines(table(webService('    connection_limit: 500\n', 'health_check: {type: TCP, delay: 2, timeout: 1}')))).toEqual(['TCP 10.0.0.100:80 -> 10.0.1.1:8080 w3 x300, 10.0.1.2:8080 w2 x200']);
  });

  it('protocols as Octavia names them (HTTP and HTTPS pass through as TCP); what needs a proxy is refused with why', () => {
    const one = (p: string) => parseConfig(`virtual_servers:\n  v: {address: 192.0.2.1, port: 443, protocol: ${p}, real_servers: []}\n`, 'f.yaml').virtualServers[0]!.protocol;
    expect(['HTTP', 'HTTPS', 'TCP', 'UDP', 'SCTP', 'udp'].map(one)).toEqual(['tcp', 'tcp', 'tcp', 'udp', 'sctp', 'udp']);
    expect(issues(`virtual_servers:\n  v: {address: 192.0.2.1, port: 443, protocol: TERMINATED_HTTPS, real_servers: []}\n`)).toEqual([
      '2:48 virtual_servers.v.protocol: TERMINATED_HTTPS cannot be served at layer 4: terminating TLS needs a proxy that holds the certificate; valid: tcp | udp | sctp (Octavia\'s TCP, UDP, SCTP, and HTTP / HTTPS as TCP passthrough)',
    ]);
  });

  it('SOURCE_IP_PORT is mh with the port hashed; session_persistence as a map; cookies are refused naming SOURCE_IP', () => {
    const v = parseConfig(`virtual_servers:
  a: {address: 192.0.2.1, port: 80, scheduler: SOURCE_IP_PORT, real_servers: []}
  b: {address: 192.0.2.2, port: 80, session_persistence: {type: SOURCE_IP, persistence_timeout: 120, persistence_granularity: 255.255.255.0}, real_servers: []}
  c: {address: 192.0.2.3, port: 80, session_persistence: {type: SOURCE_IP}, real_servers: []}
`, 'f.yaml').virtualServers;
    expect(v.map((x) => [x.scheduler, x.schedFlags.port, x.persistence, x.netmask])).toEqual([
      ['mh', true, 0, '255.255.255.255'],
      ['wlc', false, 120, '255.255.255.0'],
      ['wlc', false, 360, '255.255.255.255'],
    ]);
    expect(issues(`virtual_servers:\n  v: {address: 192.0.2.1, port: 80, session_persistence: {type: HTTP_COOKIE}, real_servers: []}\n`)).toEqual([
      '2:65 virtual_servers.v.session_persistence: HTTP_COOKIE persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP (a client\'s connections go to one real server for persistence_timeout); valid: SOURCE_IP',
    ]);
  });
});

describe('the port rules ipvsadm enforces', () => {
  it('a direct-routing or tunnelled real server cannot name another port than the service\'s: the fix names health_check.port', () => {
    expect(issues(`virtual_servers:\n  v:\n    address: 192.0.2.1\n    port: 80\n    forwarding: dr\n    real_servers: [{address: 10.0.0.1, port: 8080}, {address: 10.0.0.2, port: 80}]\n`)).toEqual([
      '6:46 virtual_servers.v.real_servers[0].port: direct routing does not change the destination port: traffic reaches this real server on port 80, not 8080; valid: remove port (or port: 80), and health_check.port: 8080 to check another port',
    ]);
    expect(issues(`virtual_servers:\n  v: {fwmark: 3, forwarding: tunnel, real_servers: [{address: 10.0.0.1, port: 53}]}\n`)).toEqual([
      '2:79 virtual_servers.v.real_servers[0].port: a tunnel does not change the destination port: traffic reaches this real server on the port each packet was sent to, not 53; valid: remove port (or port: 0), and health_check.port: 53 to check another port',
    ]);
  });
});
