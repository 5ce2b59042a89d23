// The metrics endpoint as an operator uses it: a real Prometheus (Debian's
// package) in the lab's client namespace scrapes both directors every second;
// PromQL over its HTTP API sees a failover (the transition counters rise, the
// state gauges swap) and a real server dying (its health series say so).
// The host kernel has no IPVS: vipd_ipvs_up is 0 here (the QEMU tier has IPVS).

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, sleep, waitFor } from './lab.js';
import { Prometheus, PROMETHEUS, value } from './prometheus.js';
import { CLIENT, directorsLab, instance, LB1, LB2 } from './topo.js';
import { VipdProc } from './vipd.js';

const RS = `${CLIENT}:8080`;
let lab: Lab;
let prom: Prometheus | undefined;
const procs: VipdProc[] = [];

/** A web server in the client namespace: the real server the directors check. */
function startWeb() {
  const child = lab.spawn('cl', process.execPath, ['-e', `require('http').createServer((q, s) => s.end('ok')).listen(8080, '${CLIENT}', () => console.log('up'))`]);
  return new Promise<typeof child>((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (c) => reject(new Error(`web server exited ${c}`)));
  });
}

function config(priority: number, listen: string) {
  return {
    metrics: { listen },
    vrrp_instances: { VI_1: instance({ priority }) },
    virtual_servers: {
      web: {
        address: '10.99.0.100',
        port: 80,
        scheduler: 'rr',
        health_check: { type: 'HTTP', delay: 0.2, timeout: 0.15, max_retries: 1, max_retries_down: 2, url_path: '/' },
        real_servers: [{ address: CLIENT, port: 8080 }],
      },
    },
  };
}

beforeAll(() => {
  lab = directorsLab('mx');
});

afterAll(async () => {
  prom?.stop();
  for (const p of procs) p.kill('SIGKILL');
  await lab?.destroy(); // kills what is left in the namespaces, removes the TSDB with the lab dir
});

describe.skipIf(!existsSync(PROMETHEUS))('metrics through a real Prometheus', () => {
  it('a failover: the transition counter rises and the state gauges swap; a real server dies: its health series say so', async () => {
    const web = await startWeb();
    const lb1 = new VipdProc(lab, 'lb1', config(150, `${LB1}:9650`));
    procs.push(lb1);
    await lb1.waitState('VI_1', 'MASTER');
    const lb2 = new VipdProc(lab, 'lb2', config(100, `${LB2}:9650`));
    procs.push(lb2);
    await lb2.waitState('VI_1', 'BACKUP');
    const t1 = `${LB1}:9650`;
    const t2 = `${LB2}:9650`;
    prom = new Prometheus(lab, 'cl', [t1, t2]);
    await prom.targetsUp(2);

    // Before: lb1 MASTER, lb2 BACKUP, in the gauges of both.
    const master = 'vipd_vrrp_state{state="MASTER",iname="VI_1",intf="eth0",vrid="51",ip_address="10.99.0.100"}';
    await prom.until(master, (r) => value(r, { instance: t1 }) === 1 && value(r, { instance: t2 }) === 0);
    expect(value(prom.query('vipd_vrrp_effective_priority'), { instance: t1 })).toBe(150);
    expect(value(prom.query('vipd_vrrp_master_info'), { instance: t2, master_address: LB1 })).toBe(1);
    expect(value(prom.query('vipd_ipvs_up'), { instance: t1 })).toBe(0); // no IPVS in this kernel
    await prom.until('rate(vipd_vrrp_advertisements_sent_total[5s])', (r) => (value(r, { instance: t1 }) ?? 0) > 5); // 0.1 s adverts
    await prom.until('vipd_real_server_healthy', (r) => value(r, { instance: t1, virtual_server: 'web', addr: RS }) === 1);
    await sleep(2000); // a sample or two of the steady state, so increase() has a base
    // The usual transitions exist at 0 before they happen, so the first failover is an increase.
    expect(value(prom.query('vipd_vrrp_transitions_total{from="BACKUP",to="MASTER",reason="master-down"}'), { instance: t2 })).toBe(0);

    // Failover: lb1's priority drops below lb2's by reload; lb2 preempts.
    lb1.write(config(50, `${LB1}:9650`));
    lb1.kill('SIGHUP');
    await lb2.waitState('VI_1', 'MASTER');
    await prom.until(master, (r) => value(r, { instance: t1 }) === 0 && value(r, { instance: t2 }) === 1);
    const backup = await prom.until('vipd_vrrp_state{state="BACKUP",iname="VI_1"}', (r) => value(r, { instance: t1 }) === 1);
    expect(value(backup, { instance: t2 })).toBe(0);
    const rise = await prom.until('increase(vipd_vrrp_transitions_total{to="MASTER"}[1m])', (r) => (value(r, { instance: t2 }) ?? 0) > 0);
    expect(rise.find((s) => s.metric.instance === t2)!.metric).toMatchObject({ from: 'BACKUP', reason: 'master-down', iname: 'VI_1' });
    const left = await prom.until('vipd_vrrp_transitions_total{from="MASTER",to="BACKUP"}', (r) => value(r, { instance: t1 }) === 1);
    expect(left[0]!.metric.reason).toBe('higher-priority');
    expect(value(prom.query('vipd_vrrp_priority'), { instance: t1 })).toBe(50);
    await prom.until('vipd_vrrp_master_info', (r) => value(r, { instance: t1, master_address: LB2 }) === 1);

    // The real server dies: both directors' checks say so.
    const failuresBefore = value(prom.query('vipd_check_results_total{result="failure"}'), { instance: t1 }) ?? 0;
    process.kill(-web.pid!, 'SIGKILL');
    const healthy = await prom.until('vipd_real_server_healthy{virtual_server="web"}', (r) => value(r, { instance: t1, addr: RS }) === 0 && value(r, { instance: t2, addr: RS }) === 0);
    expect(healthy).toHaveLength(2);
    await prom.until('vipd_real_server_status{status="ERROR"}', (r) => value(r, { instance: t1, addr: RS }) === 1);
    await prom.until('vipd_virtual_server_status{status="OFFLINE"}', (r) => value(r, { instance: t2, virtual_server: 'web' }) === 1);
    await prom.until('vipd_check_results_total{result="failure"}', (r) => (value(r, { instance: t1 }) ?? 0) >= failuresBefore + 2);
    // Check durations and the checker thread's lag, counted in that thread.
    await prom.until('vipd_check_duration_seconds_count{type="http"}', (r) => (value(r, { instance: t1 }) ?? 0) > 5);
    expect(value(prom.query('vipd_check_lag_seconds_count'), { instance: t2 })).toBeGreaterThan(5);
    expect(value(prom.query('histogram_quantile(0.99, rate(vipd_check_lag_seconds_bucket[30s]))'), { instance: t1 })).toBeLessThan(1);
    // The standard Node process metrics are there.
    expect(value(prom.query('nodejs_eventloop_lag_seconds'), { instance: t1 })).toBeGreaterThanOrEqual(0);
    expect(value(prom.query('nodejs_heap_size_used_bytes'), { instance: t2 })).toBeGreaterThan(0);
    prom.stop();
    for (const v of [lb1, lb2]) v.kill('SIGTERM');
    expect(await lb1.wait()).toBe(0);
    expect(await lb2.wait()).toBe(0);
  }, 90_000);
});

describe('metrics.listen', () => {
  it('an address this host does not have: vipd does not start, exit 1, the error names the fix', async () => {
    const v = new VipdProc(lab, 'lb1', { metrics: { listen: '10.1.2.3:9650' }, vrrp_instances: { VI_9: instance({ vrid: 9 }) } });
    procs.push(v);
    expect(await v.wait()).toBe(1);
    expect(v.stderr.join('')).toContain('metrics.listen 10.1.2.3:9650: cannot listen (EADDRNOTAVAIL): this host has no address 10.1.2.3: set metrics.listen to one of its addresses');
  }, 20_000);

  it('a reload to an address it cannot bind keeps the old endpoint and says so; a good one moves it', async () => {
    const v = new VipdProc(lab, 'lb2', { metrics: { listen: '127.0.0.1:9651' }, vrrp_instances: { VI_8: instance({ vrid: 8 }) } });
    procs.push(v);
    await v.ready();
    const get = (hp: string) => lab.exec('lb2', 'curl', ['-sS', '--max-time', '2', `http://${hp}/metrics`], true);
    await waitFor('the endpoint', () => get('127.0.0.1:9651').includes('vipd_vrrp_state{'));
    v.write({ metrics: { listen: '10.1.2.3:9651' }, vrrp_instances: { VI_8: instance({ vrid: 8 }) } });
    v.kill('SIGHUP');
    await waitFor('the rebind error', () => v.logs.some((l) => l.event === 'metrics-rebind-failed'));
    expect(v.logs.find((l) => l.event === 'metrics-rebind-failed')!.msg).toMatch(/EADDRNOTAVAIL.*; still serving on 127\.0\.0\.1:9651$/);
    expect(get('127.0.0.1:9651')).toContain('vipd_vrrp_state{');
    v.write({ metrics: { listen: `${LB2}:9652` }, vrrp_instances: { VI_8: instance({ vrid: 8 }) } });
    v.kill('SIGHUP');
    await waitFor('the new endpoint', () => get(`${LB2}:9652`).includes('vipd_vrrp_state{'));
    expect(get('127.0.0.1:9651')).toBe(''); // the old one closed
    v.kill('SIGTERM');
    expect(await v.wait()).toBe(0);
  }, 30_000);
});
