// The director: config + health verdicts + operator choices -> the desired IPVS table and
// the views `vipd status` shows (pure: no kernel, no timers).

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { Director, wantedChecks } from '../../src/director/desired.js';
import type { CheckState } from '../../src/health/monitor.js';
import { webService as VS } from './fixtures.js';

function state(verdict: 'up' | 'down', weight?: number): CheckState {
  return { key: '', spec: {} as CheckState['spec'], verdict, run: 1, checks: 1, failures: verdict === 'down' ? 3 : 0, ...(weight !== undefined ? { weight } : {}), last: { ok: verdict === 'up', reason: verdict === 'up' ? 'HTTP 200' : 'HTTP 503 (expected 200-204)', ms: 1, at: 0 } };
}
const downFor = (cfg: ReturnType<typeof parseConfig>, addrs: string[], weight?: number) => {
  const keys = new Map([...wantedChecks(cfg)].map(([k, v]) => [v.spec.address, k]));
  const down = new Set(addrs.map((a) => keys.get(a)));
  return (k: string) => (down.has(k) ? state('down') : state('up', weight));
};

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

  it('quorum with hysteresis, and the sorry server alone while it is lost (keepalived: the healthy real servers leave)', () => {
    const q = parseConfig(VS('    quorum: 3\n    hysteresis: 1\n    sorry_server: {address: 10.0.9.9, port: 8080}\n'), 'f.yaml');
    const d = new Director();
    expect(d.plan(q, downFor(q, [])).views[0]!.quorum.met).toBe(true); // 5 >= 3
    let r = d.plan(q, downFor(q, ['10.0.1.1'])); // 2: still >= 3 - 1
    expect([r.views[0]!.quorum.met, r.views[0]!.sorryServerActive]).toEqual([true, false]);
    r = d.plan(q, downFor(q, ['10.0.1.1', '10.0.1.2'])); // 0 < 2: lost
    expect([r.views[0]!.quorum.met, r.views[0]!.status, dests(r)]).toEqual([false, 'OFFLINE', ['10.0.9.9:1']]);
    r = d.plan(q, downFor(q, ['10.0.1.2'])); // 3 < 3 + 1: still lost, 10.0.1.1 is healthy but out
    expect([r.views[0]!.quorum.met, dests(r)]).toEqual([false, ['10.0.9.9:1']]);
    r = d.plan(q, downFor(q, [])); // 5 >= 4: regained, sorry server leaves
    expect([r.views[0]!.quorum.met, dests(r)]).toEqual([true, ['10.0.1.1:3', '10.0.1.2:2']]);
  });
});
