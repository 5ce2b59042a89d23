import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/reader.js';
import { parseConfig } from '../../src/config/parse.js';
import { wantedChecks } from '../../src/director/desired.js';
import { firstRunOffset, HealthMonitor } from '../../src/health/monitor.js';
import type { CheckSpec } from '../../src/health/types.js';
import { decodeIcmp, encodeEcho } from '../../src/health/ping.js';
import { checkKey, parseExpectedCodes, RiseFall } from '../../src/health/types.js';
import { webService as VS } from './fixtures.js';

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

  it('keepalived\'s warmup: each first run at a random time up to warmup (0: at once), not spread over the 60 s interval', async () => {
    const first = new Map<string, number>();
    const t0 = performance.now();
    const m = new HealthMonitor(() => {}, {
      runner: async (s) => {
        if (!first.has(s.address)) first.set(s.address, performance.now() - t0);
        return { ok: true, reason: 'ok', ms: 0 };
      },
    });
    const spec = (address: string, warmupMs?: number): CheckSpec => ({ type: 'tcp', address, port: 80, intervalMs: 60_000, timeoutMs: 1000, rise: 1, fall: 1, ...(warmupMs !== undefined ? { warmupMs } : {}) });
    const wanted = new Map<string, { spec: CheckSpec; alpha: boolean }>();
    for (let i = 0; i < 20; i++) wanted.set(`w${i}`, { spec: spec(`10.0.0.${i}`, 300), alpha: false });
    wanted.set('zero', { spec: spec('10.0.1.0', 0), alpha: false });
    m.set(wanted);
    for (let i = 0; i < 50 && first.size < 21; i++) await new Promise((r) => setTimeout(r, 100));
    m.stop();
    const warm = [...first].filter(([a]) => a.startsWith('10.0.0.')).map(([, t]) => t);
    expect(warm).toHaveLength(20);
    // Within the 300 ms (plus a loaded machine's timer lag), where the spread over 60 s would put most beyond seconds.
    expect(Math.max(...warm)).toBeLessThan(1000);
    expect(Math.max(...warm) - Math.min(...warm)).toBeGreaterThan(20); // random, not all at once
    expect(first.get('10.0.1.0')).toBeLessThan(250);
  });

  it('a check handed over from another thread carries on: its verdict, its run of failures, its counts, no warmup', async () => {
    const changes: string[] = [];
    let runs = 0;
    const m = new HealthMonitor((s, prev) => changes.push(`${prev}->${s.verdict} after ${s.checks}`), {
      runner: async () => (runs++, { ok: false, reason: 'refused', ms: 1 }),
    });
    // Up, two failures into a fall of 3, 40 checks so far (5 failed); a 60 s warmup that must not apply.
    const spec: CheckSpec = { type: 'tcp', address: '10.0.0.1', port: 80, intervalMs: 50, timeoutMs: 40, rise: 2, fall: 3, warmupMs: 60_000 };
    const state = { key: 'k', verdict: 'up' as const, run: 2, checks: 40, failures: 5, last: { ok: false, reason: 'refused', ms: 1, at: Date.now() } };
    m.set(new Map([['k', { spec, alpha: true, state }]]));
    expect(m.get('k')).toMatchObject({ verdict: 'up', run: 2, checks: 40, failures: 5 });
    for (let i = 0; i < 40 && runs < 1; i++) await new Promise((r) => setTimeout(r, 10));
    m.stop();
    expect(runs).toBeGreaterThanOrEqual(1);
    // The third failure in a row takes it down — one run, not three (nor alpha's initial down).
    expect(changes[0]).toBe('up->down after 41');
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

describe('health_check config', () => {
  it('reads Octavia keys into a check per real server; one check is shared by virtual servers checking the same way', () => {
    const cfg = parseConfig(VS(), 'f.yaml');
    expect(cfg.virtualServers[0]!.healthChecks[0]).toMatchObject({ type: 'http', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3, path: '/health', expectedCodes: '200-204', method: 'GET' });
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
