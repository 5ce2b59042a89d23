// vipd import --from octavia | senlin: an OpenStack load balancer description to vipd.yaml, each
// unit and meaning converted, what L4 cannot do reported with the nearest L4 equivalent.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/parse.js';
import { importOpenstack } from '../../src/import/openstack/index.js';
import { parseMember } from '../../src/import/openstack/senlin.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'test/import/openstack');
const rel = (lines: string[]) => lines.map((l) => l.replace(`${dir}/`, ''));
const tmp = mkdtempSync(join(tmpdir(), 'vipd-os-'));
let n = 0;
const file = (text: string) => {
  const f = join(tmp, `s${n++}.yaml`);
  writeFileSync(f, text);
  return f;
};

describe('Octavia', () => {
  const r = importOpenstack('octavia', join(dir, 'octavia-web.yaml'));
  const cfg = parse(r.yaml!) as { virtual_servers: Record<string, Record<string, unknown>> };

  it('one virtual server per listener, Octavia\'s words kept where vipd reads them, and vipd accepts the result', () => {
    expect(r.code).toBe(3);
    expect(Object.keys(cfg.virtual_servers)).toEqual(['listener_http', 'listener_dns']);
    expect(cfg.virtual_servers.listener_http).toMatchObject({
      address: '203.0.113.50', port: 80, protocol: 'HTTP', connection_limit: 5000, scheduler: 'ROUND_ROBIN',
      real_servers: [{ address: '192.0.2.11', weight: 2 }, { address: '192.0.2.12', admin_state_up: false }],
      sorry_server: { address: '192.0.2.99' },
      health_check: { type: 'HTTP', delay: 5, timeout: 3, max_retries: 3, max_retries_down: 2, url_path: '/healthcheck', expected_codes: '200', http_protocol: '1.0' },
    });
    // UDP-CONNECT is keepalived's UDP_CHECK: a datagram, passing unless an ICMP error comes back.
    expect(cfg.virtual_servers.listener_dns!.health_check).toEqual({ type: 'UDP', delay: 5, timeout: 3, max_retries: 2 });
    expect(cfg.virtual_servers.listener_dns).toMatchObject({ protocol: 'UDP', scheduler: 'SOURCE_IP_PORT', session_persistence: { type: 'SOURCE_IP', persistence_timeout: 120, persistence_granularity: '255.255.255.0' }, real_servers: [{ address: '192.0.2.21', port: 5353 }] });
    const c = parseConfig(r.yaml!, 'vipd.yaml');
    expect(c.virtualServers.map((v) => [v.name, v.protocol, v.scheduler, v.schedFlags.port, v.persistence, v.connectionLimit])).toEqual([
      ['listener_http', 'tcp', 'wrr', false, 0, 5000],
      ['listener_dns', 'udp', 'mh', true, 120, 0],
    ]);
  });

  it('what an L4 director cannot do is reported at its place, with the nearest L4 equivalent; the rest are notes', () => {
    expect(rel(r.report)).toEqual([
      "octavia-web.yaml:3:1: loadbalancer: note: the VIP is not held by this file: add a vrrp_instance with it (or import the amphora's keepalived.conf); forwarding is NAT, so the members' replies must route back through the director",
      "octavia-web.yaml:13:7: timeout_client_data: not translated: haproxy's per-listener timeout; IPVS has the kernel's connection timeouts for all services (ipvs.timeouts: tcp, tcp_fin, udp)",
      'octavia-web.yaml:18:31: type: not translated: HTTP_COOKIE persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP',
      "octavia-web.yaml:31:54: backup: note: a backup member is keepalived's sorry_server: it serves alone while no other member is healthy",
      'octavia-web.yaml:43:7: protocol: not translated: TERMINATED_HTTPS: terminating TLS needs a proxy holding the certificate; nearest L4: protocol HTTPS passed through to members that hold it',
      'octavia-web.yaml:45:7: default_tls_container_ref: not translated: HTTP / TLS processing needs a proxy; an L4 director forwards packets',
    ]);
    expect(r.yaml).toMatch(/^# NOT COMPLETE: 4 part\(s\) left out:/m);
  });

  it('an unknown key is reported; identity and state fields pass without a word; JSON reads as well', () => {
    const j = importOpenstack('octavia', file(JSON.stringify({ loadbalancer: { id: 'x', vip_address: '198.51.100.1', provisioning_status: 'ACTIVE', listeners: [{ id: 'l', protocol: 'TCP', protocol_port: 22, frobnicate: 1, default_pool: { lb_algorithm: 'LEAST_CONNECTIONS', members: [{ id: 'm', address: '10.0.0.1', protocol_port: 22 }] } }] } }, null, 1)));
    expect(j.report.filter((l) => l.includes('not translated')).map((l) => l.replace(/^.*?: /, ''))).toEqual(['frobnicate: not translated: vipd has no equivalent for the Octavia listener key "frobnicate"']);
    expect(parseConfig(j.yaml!, 'v.yaml').virtualServers[0]).toMatchObject({ name: 'listener-22', address: '198.51.100.1', port: 22, scheduler: 'wlc' });
  });

  it('not YAML, or not a load balancer: exit 2 with the place', () => {
    expect(importOpenstack('octavia', file('loadbalancer: {vip_address: [\n'))).toMatchObject({ code: 2, report: [expect.stringMatching(/s\d+\.yaml:2:1: .*\(not valid YAML or JSON\)$/)] });
    expect(importOpenstack('octavia', file('- 1\n- 2\n'))).toMatchObject({ code: 2, report: [expect.stringMatching(/not an Octavia load balancer description/)] });
  });
});

describe('Senlin', () => {
  it('milliseconds become seconds, max_retries is the failures before inactive (fall), the members come from --member', () => {
    const r = importOpenstack('senlin', join(dir, 'senlin-lb.yaml'), { members: [{ address: '10.1.0.5' }, { address: '10.1.0.6', port: 8081, weight: 2 }] });
    expect(r.code).toBe(0);
    const c = parseConfig(r.yaml!, 'vipd.yaml').virtualServers[0]!;
    expect(c).toMatchObject({ address: '203.0.113.60', port: 80, protocol: 'tcp', scheduler: 'wrr', persistence: 360, connectionLimit: 500 });
    expect(c.healthChecks[0]).toMatchObject({ type: 'http', intervalMs: 10_000, timeoutMs: 5_000, rise: 1, fall: 3, path: '/', expectedCodes: '200' });
    expect(c.realServers.map((x) => `${x.address}:${x.port} w${x.weight}`)).toEqual(['10.1.0.5:8080 w1', '10.1.0.6:8081 w2']);
    expect(rel(r.report)).toContain('senlin-lb.yaml:20:5: delay: note: Senlin counts delay and timeout in milliseconds: 10 s and 5 s; its max_retries (failures before a member is inactive) is max_retries_down, and a member is back after one pass');
  });

  it('cookie persistence names SOURCE_IP; no address is left out; not a Senlin policy is exit 2', () => {
    const r = importOpenstack('senlin', file('type: senlin.policy.loadbalance\nversion: 1.1\nproperties:\n  pool: {session_persistence: {type: APP_COOKIE, cookie_name: x}}\n  vip: {subnet: public}\n'));
    expect(r.code).toBe(3);
    expect(r.report.filter((l) => l.includes('not translated')).map((l) => l.replace(/^.*?\.yaml:/, ''))).toEqual([
      '4:32: type: not translated: APP_COOKIE persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP',
      '5:3: vip: not translated: no vip.address: Senlin lets Octavia choose one from vip.subnet, vipd needs the address',
    ]);
    expect(importOpenstack('senlin', file('type: os.nova.server\n')).code).toBe(2);
  });

  it('--member ADDRESS[:PORT][@WEIGHT]', () => {
    expect(['10.0.0.5', '10.0.0.5:8080', '10.0.0.5:8080@3', '[2001:db8::5]:80', 'x'].map(parseMember)).toEqual([
      { address: '10.0.0.5' }, { address: '10.0.0.5', port: 8080 }, { address: '10.0.0.5', port: 8080, weight: 3 }, { address: '2001:db8::5', port: 80 }, '"x" is not ADDRESS[:PORT][@WEIGHT]',
    ]);
  });

  it('the CLI: --from senlin with members, exit 0; a bad --member is exit 2', () => {
    const vipd = (...a: string[]) => spawnSync(process.execPath, [join(root, 'bin/vipd.js'), 'import', ...a], { encoding: 'utf8', cwd: dir });
    const ok = vipd('--from', 'senlin', 'senlin-lb.yaml', '--member', '10.1.0.5');
    expect([ok.status, ok.stdout]).toEqual([0, expect.stringContaining('address: 10.1.0.5')]);
    const bad = vipd('--from', 'senlin', 'senlin-lb.yaml', '--member', '10.1.0.5:x');
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('vipd: --member "10.1.0.5:x" is not ADDRESS[:PORT][@WEIGHT]')]);
  });
});
