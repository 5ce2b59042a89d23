// Health checks against real servers in network namespaces: a director
// namespace runs the checks (one-shot probes, and the vipd daemon), a server
// namespace runs servers that behave well and badly. No IPVS here (the host
// kernel has none): the daemon's verdicts are read from its status and logs;
// the QEMU tier carries them into IPVS.

import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/daemon/control.js';
import { Lab, waitFor } from './lab.js';
import { VipdProc } from './vipd.js';

const SERVERS = fileURLToPath(new URL('./hc-servers.mjs', import.meta.url));
const PROBE = fileURLToPath(new URL('./health-probe.mjs', import.meta.url));
const SRV = '10.98.0.2';
let lab: Lab;

function startServers(): Promise<void> {
  const child = lab.spawn('srv', process.execPath, [SERVERS, lab.dir]);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`servers exited ${c}`)));
  });
}
const stopServers = () => lab.exec('srv', 'pkill', ['-f', SERVERS], true);

function probe(specs: object[]): { ok: boolean; reason: string; weight?: number }[] {
  return JSON.parse(lab.exec('dir', process.execPath, [PROBE, JSON.stringify(specs)]));
}

beforeAll(async () => {
  lab = new Lab('hc');
  lab.addHost('dir', [{ bridge: 'br0', ifname: 'eth0', cidr: '10.98.0.1/24' }]);
  lab.addHost('srv', [{ bridge: 'br0', ifname: 'eth0', cidr: `${SRV}/24` }]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(lab.dir, 'key.pem'), '-out', join(lab.dir, 'cert.pem'), '-days', '2', '-subj', '/CN=www.example.test', '-addext', 'subjectAltName=DNS:www.example.test'], { stdio: 'ignore' });
  await startServers();
}, 30_000);

afterAll(async () => {
  await lab?.destroy();
});

describe('each misbehaviour is a failure with its reason, within the timeout', () => {
  const http = (port: number, o: object = {}) => ({ type: 'http', address: SRV, port, ...o });
  it.each([
    ['HTTP 200', http(8001), true, /^HTTP 200$/],
    ['wrong code', http(8002, { expectedCodes: '200-204' }), false, /^HTTP 503 \(expected 200-204\)$/],
    ['503 accepted when listed', http(8002, { expectedCodes: '200, 503' }), true, /^HTTP 503$/],
    ['garbage instead of HTTP', http(8003), false, /^not HTTP: /],
    ['an answer that never ends', http(8004), false, /^no complete HTTP answer within 1000 ms$/],
    ['a reset', http(8005), false, /^connection reset by the server$/],
    ['no answer at all', http(8006), false, /^no complete HTTP answer within 1000 ms$/],
    ['nothing listening', http(8099), false, /^TCP ECONNREFUSED \(connection refused\)$/],
    ['body regex matches', http(8001, { bodyRegex: 'status: ok' }), true, /^HTTP 200$/],
    ['body regex fails', http(8001, { bodyRegex: '^down' }), false, /body does not match \/\^down\//],
    ['HTTPS, no verification (Octavia default)', { type: 'https', address: SRV, port: 8443 }, true, /^HTTP 200$/],
    ['HTTPS with the CA and the right SNI', { type: 'https', address: SRV, port: 8443, host: 'www.example.test', verify: true, caFile: 'CA' }, true, /^HTTP 200$/],
    ['HTTPS with the CA and a wrong name', { type: 'https', address: SRV, port: 8443, host: 'other.test', verify: true, caFile: 'CA' }, false, /^TLS: .*(altnames|Hostname)/],
    ['HTTPS, self-signed, verification on without the CA', { type: 'https', address: SRV, port: 8443, host: 'www.example.test', verify: true }, false, /^TLS: .*SELF_SIGNED|^TLS: .*self.signed/],
    ['HTTPS against plain HTTP', { type: 'https', address: SRV, port: 8001 }, false, /^TLS: /],
    ['TCP connect', { type: 'tcp', address: SRV, port: 8006 }, true, /^TCP connect ok$/],
    ['TCP refused', { type: 'tcp', address: SRV, port: 8099 }, false, /ECONNREFUSED/],
    ['TCP send/expect', { type: 'tcp', address: SRV, port: 8007, send: 'HELO\n', expect: '220 ready' }, true, /contains "220 ready"/],
    ['TCP expect not met', { type: 'tcp', address: SRV, port: 8006, send: 'HELO\n', expect: '220' }, false, /no expected answer within 1000 ms/],
    ['ping', { type: 'ping', address: SRV }, true, /^ICMP echo reply$/],
  ])('%s', (_name, spec, ok, reason) => {
    const s = JSON.parse(JSON.stringify(spec).replace('"CA"', JSON.stringify(join(lab.dir, 'cert.pem'))));
    const t0 = Date.now();
    const [r] = probe([s]);
    expect(r, JSON.stringify(r)).toMatchObject({ ok });
    expect(r!.reason).toMatch(reason);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('HTTPS sends the SNI asked for', () => {
    // The server answers its SNI in the body: check it with a body regex.
    expect(probe([{ type: 'https', address: SRV, port: 8443, host: 'www.example.test', bodyRegex: 'sni=www\\.example\\.test' }])[0]).toMatchObject({ ok: true });
    expect(probe([{ type: 'https', address: SRV, port: 8443, host: 'www.example.test', sni: 'api.example.test', bodyRegex: 'sni=api\\.example\\.test' }])[0]).toMatchObject({ ok: true });
  });

  it('scripts: exit 0 up, 1 down, 2..255 up with weight code - 2, a hung script is killed at the timeout', () => {
    const script = join(lab.dir, 'check.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = hang ] && sleep 30\necho "checked $2"\nexit "$1"\n');
    chmodSync(script, 0o755);
    const run = (code: string) => ({ type: 'script', address: SRV, port: 80, command: [script, code, '{address}'] });
    const r = probe([run('0'), run('1'), run('12'), run('hang')]);
    expect(r[0]).toEqual({ ok: true, reason: `script exit 0: checked ${SRV}` });
    expect(r[1]).toEqual({ ok: false, reason: `script exit 1: checked ${SRV}` });
    expect(r[2]).toEqual({ ok: true, weight: 10, reason: `script exit 12: weight 10: checked ${SRV}` });
    expect(r[3]).toMatchObject({ ok: false, reason: expect.stringMatching(/did not finish within 1000 ms \(killed\)/) });
  });

  it('ping: many targets share one socket; a host whose link is down fails with a reason', () => {
    const r = probe([{ type: 'ping', address: SRV }, { type: 'ping', address: '10.98.0.1' }, { type: 'ping', address: SRV }]);
    expect(r.map((x) => x.ok)).toEqual([true, true, true]);
    lab.setCable('srv', 'eth0', false);
    try {
      expect(probe([{ type: 'ping', address: SRV, timeoutMs: 500 }])[0]).toEqual({ ok: false, reason: 'no ICMP echo reply within 500 ms' });
      lab.ip('dir', ['link', 'set', 'eth0', 'down']);
      expect(probe([{ type: 'ping', address: SRV, timeoutMs: 500 }])[0]).toMatchObject({ ok: false, reason: expect.stringMatching(/^ICMP send failed: /) });
    } finally {
      lab.ip('dir', ['link', 'set', 'eth0', 'up']);
      lab.setCable('srv', 'eth0', true);
    }
  });
});

describe('the daemon: down after exactly `fall` failures, up after `rise` passes, operators see it', () => {
  it('kill the server -> DOWN at the 3rd failure with a log line; start it -> UP after 2 passes; vipd rs disable/enable', async () => {
    const vs = (name: string, port: number) => ({
      address: '10.98.0.100',
      port,
      scheduler: 'rr',
      health_check: { type: 'HTTP', delay: 0.2, timeout: 0.15, max_retries: 2, max_retries_down: 3, url_path: '/', expected_codes: '200' },
      real_servers: [{ address: SRV, port: 8001 }],
    });
    // Two virtual servers with the same real server and check: one check serves both.
    const v = new VipdProc(lab, 'dir', { virtual_servers: { web: vs('web', 80), web2: vs('web2', 81) } });
    try {
      await waitFor('vipd to answer', async () => (await v.status()) !== undefined, 10_000);
      type Views = { name: string; status: string; realServers: { status: string; health?: { checks: number; failures: number; reason?: string } }[] }[];
      const views = async () => (await v.status()).virtualServers as Views;
      await waitFor('checks to pass', async () => ((await views())[0]!.realServers[0]!.health?.checks ?? 0) >= 2);
      stopServers();
      await waitFor('DOWN', async () => (await views())[0]!.realServers[0]!.status === 'ERROR', 5000);
      const down = (await views())[0]!;
      expect(down.status).toBe('OFFLINE');
      expect(down.realServers[0]!.health).toMatchObject({ failures: 3, reason: 'TCP ECONNREFUSED (connection refused)' });
      const lines = v.logs.filter((l) => l.event === 'rs-health').map((l) => l.msg);
      expect(lines).toEqual([
        `RS ${SRV}:8001 of 10.98.0.100:80 DOWN: TCP ECONNREFUSED (connection refused), 3/3 failures`,
        `RS ${SRV}:8001 of 10.98.0.100:81 DOWN: TCP ECONNREFUSED (connection refused), 3/3 failures`,
      ]);
      const checksAtDown = down.realServers[0]!.health!.checks;
      expect((await views())[1]!.realServers[0]!.health!.checks).toBe(checksAtDown); // one shared check
      await startServers();
      await waitFor('UP', async () => (await views())[0]!.realServers[0]!.status === 'ONLINE', 5000);
      expect(v.logs.filter((l) => l.event === 'rs-health').at(-1)!.msg).toBe(`RS ${SRV}:8001 of 10.98.0.100:81 UP: HTTP 200, 2/2 passes`);
      // Operator: disable, then the choice survives a reload; enable.
      expect(await request(v.socket, { cmd: 'rs', action: 'disable', vs: 'web', rs: SRV })).toBe(`RS ${SRV}:8001 of virtual server web: DISABLED by the operator`);
      expect((await views())[0]!.realServers[0]!.status).toBe('DISABLED');
      await request(v.socket, { cmd: 'reload' });
      expect((await views())[0]!.realServers[0]!.status).toBe('DISABLED');
      await expect(request(v.socket, { cmd: 'rs', action: 'drain', vs: 'web', rs: '10.9.9.9' })).rejects.toThrow(`virtual server "web" has no real server "10.9.9.9"; valid: ${SRV}:8001`);
      await request(v.socket, { cmd: 'rs', action: 'enable', vs: 'web', rs: `${SRV}:8001` });
      expect((await views())[0]!.realServers[0]!.status).toBe('ONLINE');
      // The table an operator reads.
      const text = execFileSync(process.execPath, [fileURLToPath(new URL('../../bin/vipd.js', import.meta.url)), 'status', '-s', v.socket], { encoding: 'utf8' });
      expect(text).toMatch(new RegExp(`^web +\\(not in the kernel\\) +ONLINE +${SRV.replaceAll('.', '\\.')}:8001 +ONLINE .*HTTP 200 \\(\\d+ passes in a row, \\d+s ago\\)$`, 'm'));
    } finally {
      v.kill('SIGTERM');
      await v.wait().catch(() => undefined);
    }
  }, 30_000);
});
