import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/reader.js';
import { parseConfig } from '../../src/config/parse.js';
import { Director, wantedChecks } from '../../src/director/desired.js';
import type { CheckState } from '../../src/health/monitor.js';
import { firstRunOffset } from '../../src/health/monitor.js';
import { decodeIcmp, encodeEcho } from '../../src/health/ping.js';
import { checkKey, parseExpectedCodes, RiseFall } from '../../src/health/types.js';

describe('rise and fall', () => {
  it('goes down after exactly `fall` consecutive failures and up after exactly `rise` passes', () => {
    const rf = new RiseFall(2, 3, false);
    expect(rf.verdict).toBe('up');
    expect([rf.record(false), rf.record(false)]).toEqual([false, false]);
    expect(rf.record(true)).toBe(false); // a pass resets the failure run
    expect([rf.record(false), rf.record(false), rf.record(false)]).toEqual([false, false, true]);
    expect(rf.verdict).toBe('down');
    expect([rf.record(true), rf.record(false), rf.record(true), rf.record(true)]).toEqual([false, false, false, true]);
    expect(rf.verdict).toBe('up');
  });

  it('alpha starts down until `rise` passes', () => {
    const rf = new RiseFall(2, 1, true);
    expect(rf.verdict).toBe('down');
    expect([rf.record(true), rf.record(true)]).toEqual([false, true]);
  });
});

describe('expected codes, as Octavia writes them', () => {
  it.each([
    ['200', 200, true],
    ['200', 201, false],
    ['200, 202', 202, true],
    ['200, 202', 201, false],
    ['200-204', 204, true],
    ['200-204', 205, false],
    ['200-204, 301', 301, true],
  ])('%s accepts %i: %s', (text, code, ok) => {
    const f = parseExpectedCodes(text);
    expect(typeof f).toBe('function');
    expect((f as (c: number) => boolean)(code)).toBe(ok);
  });
  it.each(['2xx', '200-', '204-200', '700', ''])('%s is an error', (text) => {
    expect(typeof parseExpectedCodes(text)).toBe('string');
  });
});

describe('start-up spread', () => {
  it('10,000 checks with a 1 s interval spread over the second: no 10 ms slot holds more than 3x its share', () => {
    const slots = new Array(100).fill(0);
    for (let i = 0; i < 10_000; i++) slots[Math.floor(firstRunOffset(`["tcp","10.${i >> 8}.${i & 255}.1",80]`, 1000) / 10)]++;
    expect(Math.max(...slots)).toBeLessThan(300);
    expect(Math.min(...slots)).toBeGreaterThan(30);
  });
});

describe('ICMP echo codec', () => {
  it('encodes a request with a valid checksum and matches the reply and an error quoting it', () => {
    const req = encodeEcho(0x1234, 7, Buffer.from('abc'));
    expect(req.subarray(0, 8).toString('hex')).toBe(`0800${req.subarray(2, 4).toString('hex')}12340007`);
    // Checksum: the one's complement sum over the message is 0xffff.
    let sum = 0;
    for (let i = 0; i < req.length; i += 2) sum += (req[i]! << 8) + (req[i + 1] ?? 0);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    expect(sum).toBe(0xffff);
    const ip = (proto: number, body: Buffer) => Buffer.concat([Buffer.from([0x45, 0, 0, 20 + body.length, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1]), body]);
    const reply = Buffer.from(req);
    reply[0] = 0;
    expect(decodeIcmp(ip(1, reply))).toEqual({ kind: 'reply', id: 0x1234, seq: 7 });
    const unreachable = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ip(1, req)]);
    expect(decodeIcmp(ip(1, unreachable))).toEqual({ kind: 'error', id: 0x1234, seq: 7, reason: 'ICMP host unreachable' });
    expect(decodeIcmp(Buffer.alloc(10))).toBeUndefined();
  });
});

const VS = (extra = '', hc = 'health_check: {type: HTTP, delay: 1, timeout: 0.5, max_retries: 2, max_retries_down: 3, url_path: /health, expected_codes: "200-204"}') => `virtual_servers:
  web:
    address: 10.0.0.100
    port: 80
    scheduler: rr
    ${hc}
${extra}    real_servers:
      - {address: 10.0.1.1, port: 8080, weight: 3}
      - {address: 10.0.1.2, port: 8080, weight: 2}
`;

function state(verdict: 'up' | 'down', weight?: number): CheckState {
  return { key: '', spec: {} as CheckState['spec'], verdict, run: 1, checks: 1, failures: verdict === 'down' ? 3 : 0, ...(weight !== undefined ? { weight } : {}), last: { ok: verdict === 'up', reason: verdict === 'up' ? 'HTTP 200' : 'HTTP 503 (expected 200-204)', ms: 1, at: 0 } };
}
const downFor = (cfg: ReturnType<typeof parseConfig>, addrs: string[], weight?: number) => {
  const keys = new Map([...wantedChecks(cfg)].map(([k, v]) => [v.spec.address, k]));
  const down = new Set(addrs.map((a) => keys.get(a)));
  return (k: string) => (down.has(k) ? state('down') : state('up', weight));
};

describe('health_check config', () => {
  it('reads Octavia keys into a check per real server; one check is shared by virtual servers checking the same way', () => {
    const cfg = parseConfig(VS(), 'f.yaml');
    expect(cfg.virtualServers[0]!.healthCheck).toMatchObject({ type: 'http', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3, path: '/health', expectedCodes: '200-204', method: 'GET' });
    const two = parseConfig(`${VS()}  web2:\n    address: 10.0.0.101\n    port: 80\n    health_check: {type: HTTP, delay: 1, timeout: 0.5, max_retries: 2, max_retries_down: 3, url_path: /health, expected_codes: "200-204"}\n    real_servers: [{address: 10.0.1.1, port: 8080}]\n`, 'f.yaml');
    expect(wantedChecks(two).size).toBe(2); // 10.0.1.1:8080 once, 10.0.1.2:8080
    expect(checkKey(wantedChecks(two).values().next().value!.spec)).toContain('10.0.1.1');
  });

  it('a timeout not below the delay is an error at its line:col', () => {
    try {
      parseConfig(VS('', 'health_check: {type: TCP, delay: 2, timeout: 3}'), 'f.yaml');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain('f.yaml:6:50: virtual_servers.web.health_check.timeout: timeout 3 s is not less than delay 2 s');
    }
  });

  it.each([
    ['health_check: {type: HTTPX}', 'virtual_servers.web.health_check.type: "HTTPX" is not a check type; did you mean "HTTP"?'],
    ['health_check: {type: TCP, url_path: /x}', 'url_path applies to HTTP/HTTPS checks, not TCP'],
    ['health_check: {type: HTTP, expected_codes: "2xx"}', '"2xx" is not a status code or range; valid: "200", "200, 202", "200-204"'],
    ['health_check: {type: SCRIPT, script: check.sh}', '"check.sh" must be an absolute path'],
    ['health_check: {type: HTTP, body_regex: "("}', 'not a valid regular expression'],
  ])('%s is rejected', (hc, msg) => {
    expect(() => parseConfig(VS('', hc), 'f.yaml')).toThrow(msg);
  });
});

describe('director: config + health + operator -> desired table', () => {
  const cfg = parseConfig(VS(), 'f.yaml');
  const dests = (t: ReturnType<Director['plan']>) => t.table[0]!.dests.map((d) => `${d.key.address}:${d.weight}`);

  it('all healthy: every real server with its weight, ONLINE', () => {
    const r = new Director().plan(cfg, downFor(cfg, []));
    expect(dests(r)).toEqual(['10.0.1.1:3', '10.0.1.2:2']);
    expect(r.views[0]).toMatchObject({ status: 'ONLINE', quorum: { healthyWeight: 5, met: true } });
  });

  it('a failed real server leaves the table (ERROR, DEGRADED); with inhibit_on_failure it stays at weight 0', () => {
    const r = new Director().plan(cfg, downFor(cfg, ['10.0.1.2']));
    expect(dests(r)).toEqual(['10.0.1.1:3']);
    expect(r.views[0]!.status).toBe('DEGRADED');
    expect(r.views[0]!.realServers.map((x) => x.status)).toEqual(['ONLINE', 'ERROR']);
    expect(r.views[0]!.realServers[1]!.health?.reason).toBe('HTTP 503 (expected 200-204)');
    const inhibit = parseConfig(VS('    inhibit_on_failure: true\n'), 'f.yaml');
    expect(dests(new Director().plan(inhibit, downFor(inhibit, ['10.0.1.2'])))).toEqual(['10.0.1.1:3', '10.0.1.2:0']);
  });

  it('operator: disable takes a server out (DISABLED), drain keeps it at weight 0 (DRAINING); neither degrades the service', () => {
    const admin = new Map([['web/10.0.1.1:8080', 'disabled' as const], ['web/10.0.1.2:8080', 'drain' as const]]);
    const r = new Director().plan(cfg, downFor(cfg, []), admin);
    expect(dests(r)).toEqual(['10.0.1.2:0']);
    expect(r.views[0]!.realServers.map((x) => x.status)).toEqual(['DISABLED', 'DRAINING']);
  });

  it('a script check weight (exit 2..255) replaces the configured weight', () => {
    expect(dests(new Director().plan(cfg, downFor(cfg, [], 7)))).toEqual(['10.0.1.1:7', '10.0.1.2:7']);
  });

  it('alpha: a real server with no result yet is down', () => {
    const alpha = parseConfig(VS('    alpha: true\n'), 'f.yaml');
    const r = new Director().plan(alpha, () => undefined);
    expect(dests(r)).toEqual([]);
    expect(r.views[0]!.status).toBe('OFFLINE');
    expect(dests(new Director().plan(cfg, () => undefined))).toEqual(['10.0.1.1:3', '10.0.1.2:2']);
  });

  it('quorum with hysteresis, and the sorry server while it is lost', () => {
    const q = parseConfig(VS('    quorum: 3\n    hysteresis: 1\n    sorry_server: {address: 10.0.9.9, port: 8080}\n'), 'f.yaml');
    const d = new Director();
    expect(d.plan(q, downFor(q, [])).views[0]!.quorum.met).toBe(true); // 5 >= 3
    let r = d.plan(q, downFor(q, ['10.0.1.1'])); // 2: still >= 3 - 1
    expect([r.views[0]!.quorum.met, r.views[0]!.sorryServerActive]).toEqual([true, false]);
    r = d.plan(q, downFor(q, ['10.0.1.1', '10.0.1.2'])); // 0 < 2: lost
    expect([r.views[0]!.quorum.met, r.views[0]!.status, dests(r)]).toEqual([false, 'OFFLINE', ['10.0.9.9:1']]);
    r = d.plan(q, downFor(q, ['10.0.1.2'])); // 3 < 3 + 1: still lost
    expect([r.views[0]!.quorum.met, dests(r)]).toEqual([false, ['10.0.1.1:3', '10.0.9.9:1']]);
    r = d.plan(q, downFor(q, [])); // 5 >= 4: regained, sorry server leaves
    expect([r.views[0]!.quorum.met, dests(r)]).toEqual([true, ['10.0.1.1:3', '10.0.1.2:2']]);
  });
});
