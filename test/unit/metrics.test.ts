// The metrics: metrics.listen validated with its position and what is valid;
// transition reasons bounded; a snapshot rendered as Prometheus reads it; the
// endpoint on a real loopback socket (rebind, bind errors, one snapshot for
// concurrent scrapes).

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/log.js';
import { parseListen } from '../../src/config/metrics.js';
import { CheckTimings } from '../../src/health/timings.js';
import { type Snapshot, VipdMetrics } from '../../src/metrics/registry.js';
import type { VsView } from '../../src/director/desired.js';
import { TRANSITION_REASONS, transitionReason } from '../../src/metrics/reason.js';
import { MetricsEndpoint } from '../../src/metrics/server.js';
import { renderTable, type Sink } from '../../src/metrics/table.js';
import type { RouterStatus } from '../../src/vrrp/router.js';

const VRRP = 'vrrp_instances:\n  VI_1:\n    interface: eth0\n    vrid: 51\n    priority: 100\n    virtual_ipaddress: [10.0.0.1/24]\n';
const parse = (metrics: string) => parseConfig(`${VRRP}metrics:\n${metrics}`, '/etc/vipd/vipd.yaml');
const errorOf = (metrics: string): string => {
  try {
    parse(metrics);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('metrics.listen', () => {
  it('is off by default; IPv4 and bracketed IPv6 literals are accepted', () => {
    expect(parseConfig(VRRP, '/x.yaml').metrics).toBeUndefined();
    expect(parse('  listen: 127.0.0.1:9650').metrics).toEqual({ listen: '127.0.0.1:9650', host: '127.0.0.1', port: 9650 });
    expect(parse('  listen: "[::1]:9650"').metrics).toEqual({ listen: '[::1]:9650', host: '::1', port: 9650 });
  });

  it.each([
    ['  listen: localhost:9650', '8:11: metrics.listen: "localhost" is not an IPv4 or IPv6 address (a name is not resolved); valid: host:port'],
    ['  listen: 127.0.0.1:0', '8:11: metrics.listen: port 0 is out of range 1..65535; valid: host:port'],
    ['  listen: 127.0.0.1:70000', '8:11: metrics.listen: port 70000 is out of range 1..65535'],
    ['  listen: 127.0.0.1', '8:11: metrics.listen: "127.0.0.1" is not host:port'],
    ['  listen: "::1:9650"', '8:11: metrics.listen: "::1:9650": an IPv6 address goes in brackets'],
    ['  listen: "[10.0.0.1]:9650"', 'in brackets is not an IPv6 address'],
    ['  listen: 300.0.0.1:9650', '"300.0.0.1" is not an IPv4 or IPv6 address'],
    ['  listen: 9650', 'expected host:port with an IPv4 or IPv6 literal and a port 1..65535, e.g. 127.0.0.1:9650 or [::1]:9650, got number 9650'],
    ['  lisen: 127.0.0.1:9650', 'metrics.lisen: unknown key "lisen"; did you mean "listen"? valid keys: listen'],
    ['  {}', 'metrics: listen is missing; valid: host:port'],
  ])('%s', (text, message) => {
    expect(errorOf(text)).toContain(message);
  });

  it('parseListen', () => {
    expect(parseListen('0.0.0.0:1')).toEqual({ host: '0.0.0.0', port: 1 });
    expect(parseListen('[fe80::1]:65535')).toEqual({ host: 'fe80::1', port: 65535 });
  });
});

describe('transition reasons are a bounded set', () => {
  it.each([
    ['BACKUP', 'startup', 'startup'],
    ['MASTER', 'address owner (priority 255)', 'address-owner'],
    ['MASTER', 'no master heard for 3.6 s', 'master-down'],
    ['MASTER', 'master 10.0.0.2 silent for 3.6 s', 'master-down'],
    ['MASTER', 'master 10.0.0.2 resigned (priority 0), took over after skew 0.6 s', 'master-resigned'],
    ['MASTER', 'preempt_delay over, preempting 10.0.0.2 (priority 50)', 'preempt'],
    ['BACKUP', 'higher priority 150 from 10.0.0.2', 'higher-priority'],
    ['BACKUP', 'equal priority 100 from higher address 10.0.0.2', 'higher-priority'],
    ['BACKUP', 'sync group G: VI_2 became BACKUP', 'sync-group'],
    ['BACKUP', 'VIP 10.0.0.1/24 on eth0 deleted by someone else', 'vip-lost'],
    ['FAULT', 'interface eth0 is down', 'link-fault'],
    ['FAULT', 'fault at start: interface eth9 does not exist', 'link-fault'],
    ['FAULT', 'cannot send adverts on eth0: EPERM', 'io-fault'],
    ['BACKUP', 'fault cleared', 'fault-cleared'],
    ['INIT', 'shutdown', 'shutdown'],
    ['MASTER', 'something new', 'other'],
  ] as const)('%s: %s', (to, reason, word) => {
    expect(transitionReason(to, reason)).toBe(word);
    expect(TRANSITION_REASONS).toContain(word);
  });
});

const instance = (state: 'MASTER' | 'BACKUP', over: object = {}) => ({
  name: 'VI_1',
  interface: 'eth0',
  vrid: 51,
  version: 3 as const,
  advertIntervalCs: 100,
  vips: ['10.0.0.1/24', '10.0.0.2/24'],
  vipsHeld: state === 'MASTER',
  sinceWall: new Date(Date.now() - 5000).toISOString(),
  state,
  since: 0,
  lastReason: 'startup',
  priority: 100,
  effectivePriority: 80,
  masterIp: '10.0.0.9',
  masterAdverIntervalCs: 100,
  masterDownIntervalMs: 3600,
  faults: [],
  counters: { advertsSent: 7, advertsReceived: 9, sendErrors: 0, becameMaster: 1, dropped: { ttl: 2 }, garpsSent: 0 },
  ...over,
});

function snapshot(state: 'MASTER' | 'BACKUP', ipvs = true): Snapshot & { views: VsView[] } {
  const stats = { connections: 10, packetsIn: 100, packetsOut: 90, bytesIn: 1000, bytesOut: 900, cps: 1, ppsIn: 2, ppsOut: 3, bpsIn: 4, bpsOut: 5 };
  const key = { family: 'inet' as const, protocol: 'tcp' as const, address: '10.0.0.1', port: 80 };
  return {
    vrrp: { instances: [instance(state)], groups: [], interfaces: [{ name: 'eth0', ifindex: 2, counters: { received: 1, sent: 1, sendErrors: 0, dropped: { malformed: 3 } } }] } as unknown as RouterStatus,
    ipvsWanted: true,
    ipvs: ipvs
      ? {
          services: [
            {
              key,
              scheduler: 'rr',
              schedFlags: { fallback: false, port: false },
              persistence: 0,
              netmask: '255.255.255.255',
              onePacket: false,
              stats,
              dests: [{ key: { address: '10.0.1.1', port: 8080 }, forwarding: 'dr' as const, weight: 3, upperThreshold: 0, lowerThreshold: 0, activeConns: 4, inactiveConns: 6, persistentConns: 0, stats }],
            },
          ],
        }
      : undefined,
    names: new Map([['tcp/10.0.0.1/80', 'web']]),
    vsKeys: new Map([['web', key]]),
    views: [
      {
        name: 'web',
        status: 'DEGRADED',
        quorum: { required: 1, hysteresis: 0, healthyWeight: 3, met: true },
        sorryServerActive: false,
        realServers: [
          { address: '10.0.1.1', port: 8080, status: 'ONLINE', configWeight: 3, weight: 3, health: { verdict: 'up', run: 3, checks: 12, failures: 2, rise: 2, fall: 3 } },
          { address: '10.0.1.2', port: 8080, status: 'ERROR', configWeight: 1, health: { verdict: 'down', run: 3, checks: 5, failures: 5, rise: 2, fall: 3 } },
        ],
      },
    ],
  };
}

const line = (text: string, series: string): number | undefined => {
  const l = text.split('\n').find((x) => x.startsWith(`${series} `));
  return l === undefined ? undefined : Number(l.slice(series.length + 1));
};

describe('a snapshot as Prometheus reads it', () => {
  it('VRRP, IPVS and health series with their labels', async () => {
    let snap = snapshot('MASTER');
    const m = new VipdMetrics({ snapshot: async () => snap });
    let t = (await m.scrape()).toString();
    const l = 'iname="VI_1",intf="eth0",vrid="51"';
    expect(line(t, `vipd_vrrp_state{${l},ip_address="10.0.0.1",state="MASTER"}`)).toBe(1);
    expect(line(t, `vipd_vrrp_state{${l},ip_address="10.0.0.2",state="BACKUP"}`)).toBe(0);
    expect(line(t, `vipd_vrrp_advertisements_sent_total{${l}}`)).toBe(7);
    expect(line(t, `vipd_vrrp_advertisements_received_total{${l}}`)).toBe(9);
    expect(line(t, `vipd_vrrp_adverts_dropped_total{${l},reason="ttl"}`)).toBe(2);
    expect(line(t, 'vipd_vrrp_packets_dropped_total{intf="eth0",reason="malformed"}')).toBe(3);
    expect(line(t, `vipd_vrrp_priority{${l}}`)).toBe(100);
    expect(line(t, `vipd_vrrp_effective_priority{${l}}`)).toBe(80);
    expect(line(t, `vipd_vrrp_time_since_transition_seconds{${l}}`)).toBeGreaterThanOrEqual(5);
    expect(line(t, `vipd_vrrp_master_info{${l},master_address="10.0.0.9"}`)).toBe(1);
    expect(line(t, `vipd_vrrp_transitions_total{${l},from="BACKUP",to="MASTER",reason="master-down"}`)).toBe(0);
    expect(line(t, 'vipd_ipvs_up')).toBe(1);
    expect(line(t, 'vipd_lvs_vip_connections_total{addr="10.0.0.1:80",proto="tcp",virtual_server="web"}')).toBe(10);
    expect(line(t, 'vipd_lvs_vip_out_bytes_per_second{addr="10.0.0.1:80",proto="tcp",virtual_server="web"}')).toBe(5);
    const rs = 'addr="10.0.1.1:8080",proto="tcp",vip="10.0.0.1:80",virtual_server="web"';
    expect(line(t, `vipd_lvs_rs_active_connections{${rs}}`)).toBe(4);
    expect(line(t, `vipd_lvs_rs_inactive_connections{${rs}}`)).toBe(6);
    expect(line(t, `vipd_lvs_rs_weight{${rs}}`)).toBe(3);
    expect(line(t, `vipd_lvs_rs_in_packets_total{${rs}}`)).toBe(100);
    expect(line(t, 'vipd_real_server_healthy{virtual_server="web",addr="10.0.1.2:8080"}')).toBe(0);
    expect(line(t, 'vipd_real_server_status{virtual_server="web",addr="10.0.1.2:8080",status="ERROR"}')).toBe(1);
    expect(line(t, 'vipd_check_results_total{virtual_server="web",addr="10.0.1.1:8080",result="success"}')).toBe(10);
    expect(line(t, 'vipd_check_results_total{virtual_server="web",addr="10.0.1.1:8080",result="failure"}')).toBe(2);
    expect(line(t, 'vipd_virtual_server_status{virtual_server="web",status="DEGRADED"}')).toBe(1);
    expect(t).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(t).toMatch(/^process_cpu_seconds_total /m);

    // A transition counted as it happens, then the state swaps; IPVS gone: up 0 and no table series.
    m.transition({ name: 'VI_1', interface: 'eth0', vrid: 51 }, 'MASTER', 'BACKUP', 'higher priority 150 from 10.0.0.9');
    m.reconcile('verdict', { source: 'memory', ops: 3, applied: 2, failed: [{ operation: 'x', code: 'EEXIST', message: 'm' }], dumpMs: 0, applyMs: 2 });
    m.reconcile('resync', undefined);
    snap = snapshot('BACKUP', false);
    t = (await m.scrape()).toString();
    expect(line(t, `vipd_vrrp_transitions_total{${l},from="MASTER",to="BACKUP",reason="higher-priority"}`)).toBe(1);
    expect(line(t, `vipd_vrrp_state{${l},ip_address="10.0.0.1",state="MASTER"}`)).toBe(0);
    expect(line(t, `vipd_vrrp_state{${l},ip_address="10.0.0.1",state="BACKUP"}`)).toBe(1);
    expect(line(t, 'vipd_ipvs_up')).toBe(0);
    expect(t).not.toContain('vipd_lvs_rs_weight{');
    expect(line(t, 'vipd_ipvs_reconciles_total{kind="verdict",source="memory"}')).toBe(1);
    expect(line(t, 'vipd_ipvs_reconciles_total{kind="resync",source="error"}')).toBe(1);
    expect(line(t, 'vipd_ipvs_reconcile_operations_total{kind="verdict"}')).toBe(3);
    expect(line(t, 'vipd_ipvs_reconcile_operation_failures_total{kind="verdict"}')).toBe(1);
    expect(line(t, 'vipd_ipvs_reconcile_apply_seconds_count{kind="verdict"}')).toBe(1);
  });

  it('check durations and the checker lag as histograms counted in the checker thread', async () => {
    const t = new CheckTimings();
    t.record('http', 0.003, 0.0004);
    t.record('http', 0.2, 0.03);
    t.record('tcp', 20, 7);
    const m = new VipdMetrics({ snapshot: async () => ({ ...snapshot('MASTER'), checkTimings: t.snapshot() }) });
    const text = (await m.scrape()).toString();
    expect(line(text, 'vipd_check_duration_seconds_bucket{type="http",le="0.001"}')).toBe(0);
    expect(line(text, 'vipd_check_duration_seconds_bucket{type="http",le="0.005"}')).toBe(1);
    expect(line(text, 'vipd_check_duration_seconds_bucket{type="http",le="0.25"}')).toBe(2);
    expect(line(text, 'vipd_check_duration_seconds_bucket{type="tcp",le="10"}')).toBe(0);
    expect(line(text, 'vipd_check_duration_seconds_bucket{type="tcp",le="+Inf"}')).toBe(1);
    expect(line(text, 'vipd_check_duration_seconds_sum{type="http"}')).toBeCloseTo(0.203);
    expect(line(text, 'vipd_check_duration_seconds_count{type="http"}')).toBe(2);
    expect(line(text, 'vipd_check_lag_seconds_bucket{le="0.001"}')).toBe(1);
    expect(line(text, 'vipd_check_lag_seconds_bucket{le="0.05"}')).toBe(2);
    expect(line(text, 'vipd_check_lag_seconds_count')).toBe(3);
    expect(text).toContain('# TYPE vipd_check_lag_seconds histogram');
  });

  it('thousands of real servers are written a slice at a time: the event loop (and the adverts) get turns', async () => {
    const base = snapshot('MASTER');
    const svc = base.ipvs!.services[0]!;
    const dests = Array.from({ length: 2000 }, (_, i) => ({ ...svc.dests[0]!, key: { address: `10.2.${i >> 8}.${i & 255}`, port: 80 } }));
    const rs = base.views[0]!.realServers[0]!;
    const snap: Snapshot = { ...base, ipvs: { services: [{ ...svc, dests }] }, views: [{ ...base.views[0]!, realServers: dests.map((d) => ({ ...rs, address: d.key.address })) }] };
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const text = (await renderTable(snap, 250)).toString(); // without slicing (a huge slice) this counts 0
    running = false;
    // 4,000 real server entries (IPVS and health) / 250 = 16 turns.
    expect(turns).toBeGreaterThanOrEqual(15);
    expect(text.match(/^vipd_lvs_rs_weight\{/gm)).toHaveLength(2000);
    expect(text.match(/^vipd_real_server_status\{.*status="ONLINE"\} 1$/gm)).toHaveLength(2000);
  });

  it('concurrent scrapes share one snapshot (one IPVS dump); each writes the text to its own reader', async () => {
    let snapshots = 0;
    const m = new VipdMetrics({ snapshot: async () => (snapshots++, await new Promise((r) => setTimeout(r, 20)), snapshot('MASTER')) });
    const texts = (await Promise.all([m.scrape(), m.scrape(), m.scrape()])).map(String);
    expect(snapshots).toBe(1);
    expect(texts[0]).toContain('vipd_real_server_status{');
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    await m.scrape();
    expect(snapshots).toBe(2);
  });

  it('a slow reader holds the scrape, not the text: a chunk or two out at a time, the rest waits for it to drain', async () => {
    const base = snapshot('MASTER');
    const rs = base.views[0]!.realServers[0]!;
    const realServers = Array.from({ length: 12000 }, (_, i) => ({ ...rs, address: `10.2.${i >> 8}.${i & 255}` }));
    const m = new VipdMetrics({ snapshot: async () => ({ ...base, ipvs: undefined, views: [{ ...base.views[0]!, realServers }] }) });
    const held: (() => void)[] = [];
    let out = 0;
    let most = 0;
    const parts: Buffer[] = [];
    const sink: Sink = {
      write(chunk, written) {
        parts.push(Buffer.from(chunk));
        most = Math.max(most, ++out);
        held.push(() => (out--, written()));
        return held.length < 2; // a socket whose buffer is full after two chunks
      },
      async drained() {
        await new Promise((r) => setTimeout(r, 1));
        for (const release of held.splice(0)) release();
      },
    };
    const scraping = await m.begin();
    await scraping.write(sink);
    scraping.done();
    const text = Buffer.concat(parts).toString();
    expect(text.length).toBeGreaterThan(1_000_000);
    expect(parts.length).toBeGreaterThan(15); // in 64 KB chunks
    expect(most).toBeLessThanOrEqual(2);
    expect(text.match(/^vipd_real_server_status\{.*status="ONLINE"\} 1$/gm)).toHaveLength(12000);
    // The table is the same as written whole (prom-client's process metrics before it move on).
    const table = (t: string) => t.slice(t.indexOf('# HELP vipd_lvs_vip_connections_total'));
    expect(table(text)).toBe(table((await m.scrape()).toString()));
  });
});

describe('the endpoint on a real socket', () => {
  const log = createLogger({ level: 'fatal' });
  const freePort = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
  const cfg = (port: number, host = '127.0.0.1') => ({ listen: `${host}:${port}`, host, port });

  it('serves /metrics, 404 elsewhere; rebinds on a changed address; keeps the old one when the new cannot be bound', async () => {
    const m = new VipdMetrics({ snapshot: async () => snapshot('MASTER') });
    const e = new MetricsEndpoint(m, log);
    const p1 = await freePort();
    await e.start(cfg(p1));
    try {
      const r = await fetch(`http://127.0.0.1:${p1}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/plain');
      expect(await r.text()).toContain('vipd_vrrp_state{');
      expect((await fetch(`http://127.0.0.1:${p1}/`)).status).toBe(404);
      await e.reconfigure(cfg(p1, '192.0.2.1')); // TEST-NET-1: not this host's
      expect(e.address?.port).toBe(p1);
      expect((await fetch(`http://127.0.0.1:${p1}/metrics`)).status).toBe(200);
      const p2 = await freePort();
      await e.reconfigure(cfg(p2));
      expect(e.address?.port).toBe(p2);
      await expect(fetch(`http://127.0.0.1:${p1}/metrics`)).rejects.toThrow();
      expect((await fetch(`http://127.0.0.1:${p2}/metrics`)).status).toBe(200);
      await e.reconfigure(undefined);
      expect(e.address).toBeUndefined();
    } finally {
      await e.close();
    }
  });

  it('a reader that goes away mid-scrape costs nothing: the rest is not written, the next scrape is whole', async () => {
    const base = snapshot('MASTER');
    const rs = base.views[0]!.realServers[0]!;
    const realServers = Array.from({ length: 20000 }, (_, i) => ({ ...rs, address: `10.3.${i >> 8}.${i & 255}` }));
    const m = new VipdMetrics({ snapshot: async () => ({ ...base, views: [{ ...base.views[0]!, realServers }] }) });
    const e = new MetricsEndpoint(m, log);
    const port = await freePort();
    await e.start(cfg(port));
    try {
      // A raw client that reads the first bytes, then closes without reading the rest.
      await new Promise<void>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
        c.once('data', (d) => {
          expect(d.toString()).toMatch(/^HTTP\/1.1 200 .*\r\ntransfer-encoding: chunked\r\n/is);
          c.destroy();
          resolve();
        });
        c.on('error', reject);
      });
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await r.text();
      expect(text.match(/^vipd_real_server_status\{.*status="ONLINE"\} 1$/gm)).toHaveLength(20000);
      expect(text.endsWith('\n')).toBe(true);
      const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' });
      expect(head.status).toBe(200);
    } finally {
      await e.close();
    }
  });

  it('a port in use at start is an error naming the fix', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const e = new MetricsEndpoint(new VipdMetrics({ snapshot: async () => snapshot('MASTER') }), log);
    try {
      await expect(e.start(cfg(port))).rejects.toThrow(`metrics.listen 127.0.0.1:${port}: cannot listen (EADDRINUSE): another process listens on that port: stop it or choose another port in metrics.listen`);
    } finally {
      busy.close();
    }
  });
});
