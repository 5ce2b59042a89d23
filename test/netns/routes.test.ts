// keepalived's virtual_routes and virtual_rules against the real kernel: the
// master holds them, the backup does not; they move with a failover and with a
// graceful handover, and a reload changes them in place while master.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, waitFor } from './lab.js';
import { directorsLab, instance, VIP } from './topo.js';
import { VipdProc } from './vipd.js';

let lab: Lab;
const running: VipdProc[] = [];

const ROUTES = ['192.0.2.0/24 via 10.99.0.1 dev eth0 table 100', 'blackhole 198.51.100.0/24 table 100', '203.0.113.0/24 dev eth1 metric 7'];
const RULES = ['from 10.99.0.100/32 table 100 priority 1000', 'to 198.51.100.7 fwmark 0x10/0xff prohibit priority 1001'];

const cfg = (priority: number, routes = ROUTES) => ({
  vrrp_instances: { VI_1: instance({ priority, virtual_routes: routes, virtual_rules: RULES }) },
});

/** What `ip` shows of the instance's routes and rules on a host (empty lines dropped). */
function held(host: string): { table100: string[]; main: string[]; rules: string[] } {
  const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);
  return {
    table100: lines(lab.ip(host, ['route', 'show', 'table', '100'], true)), // a table never used does not exist: empty
    main: lines(lab.ip(host, ['route', 'show', '203.0.113.0/24'])),
    rules: lines(lab.ip(host, ['rule', 'show'])).filter((l) => /^100[01]:/.test(l)),
  };
}

const HELD = {
  table100: ['192.0.2.0/24 via 10.99.0.1 dev eth0', 'blackhole 198.51.100.0/24'],
  main: ['203.0.113.0/24 dev eth1 scope link metric 7'],
  rules: ['1000:\tfrom 10.99.0.100 lookup 100', '1001:\tfrom all to 198.51.100.7 fwmark 0x10/0xff prohibit'],
};
const NONE = { table100: [], main: [], rules: [] };

beforeAll(() => {
  lab = directorsLab('vrt');
});

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.wait().catch(() => undefined);
  }
  // What a reboot would do to a killed daemon's leftovers.
  for (const h of ['lb1', 'lb2']) {
    lab.ip(h, ['route', 'flush', 'table', '100'], true);
    lab.ip(h, ['route', 'del', '203.0.113.0/24'], true);
    for (const pref of ['1000', '1001']) lab.ip(h, ['rule', 'del', 'pref', pref], true);
    lab.ip(h, ['addr', 'del', '10.99.0.100/24', 'dev', 'eth0'], true);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('virtual_routes and virtual_rules follow the master', () => {
  it('held by the master only; moved by a graceful stop and back by preemption; changed in place by a reload', async () => {
    const a = new VipdProc(lab, 'lb1', cfg(150));
    running.push(a);
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    const b = new VipdProc(lab, 'lb2', cfg(100));
    running.push(b);
    await b.ready();
    await b.waitState('VI_1', 'BACKUP');
    expect(held('lb1')).toEqual(HELD);
    expect(held('lb2')).toEqual(NONE);

    // A reload on the master: one route leaves, one comes; the others are untouched.
    a.write(cfg(150, [ROUTES[0]!, ROUTES[2]!, '192.0.2.128/25 via 10.99.0.2 dev eth0 table 100']));
    a.kill('SIGHUP');
    await waitFor('the reloaded routes', () => held('lb1').table100.includes('192.0.2.128/25 via 10.99.0.2 dev eth0') || undefined);
    expect(held('lb1').table100).toEqual(['192.0.2.0/24 via 10.99.0.1 dev eth0', '192.0.2.128/25 via 10.99.0.2 dev eth0']);
    a.write(cfg(150));
    a.kill('SIGHUP');
    await waitFor('the first routes back', () => (JSON.stringify(held('lb1')) === JSON.stringify(HELD) ? true : undefined));

    // Graceful stop: the master resigns and removes what it held; the backup takes it all.
    a.kill('SIGTERM');
    expect(await a.wait()).toBe(0);
    await b.waitState('VI_1', 'MASTER');
    await waitFor('lb2 holds the routes', () => (JSON.stringify(held('lb2')) === JSON.stringify(HELD) ? true : undefined));
    expect(held('lb1')).toEqual(NONE);

    // lb1 returns with the higher priority: it preempts, and the routes come back to it.
    const a2 = new VipdProc(lab, 'lb1', cfg(150));
    running.push(a2);
    await a2.ready();
    await a2.waitState('VI_1', 'MASTER');
    await b.waitState('VI_1', 'BACKUP');
    await waitFor('lb1 holds the routes again', () => (JSON.stringify(held('lb1')) === JSON.stringify(HELD) ? true : undefined));
    expect(held('lb2')).toEqual(NONE);
  });

  it('a route the kernel refuses (an unreachable gateway) is an error line naming it; the instance stays MASTER with its VIP and other routes', async () => {
    const c = new VipdProc(lab, 'lb1', cfg(150, ['192.0.2.0/24 via 172.31.0.1 table 100', ROUTES[1]!]));
    running.push(c);
    await c.ready();
    await c.waitState('VI_1', 'MASTER');
    const line = (await waitFor('the error line', () => c.logs.find((l) => l.event === 'route-failed')))!;
    expect(line.msg).toMatch(/^cannot add route 192\.0\.2\.0\/24 via 172\.31\.0\.1 table 100: .*ENETUNREACH/);
    expect(held('lb1').table100).toEqual(['blackhole 198.51.100.0/24']);
    expect(await c.state('VI_1')).toBe('MASTER');
    c.kill('SIGTERM');
    expect(await c.wait()).toBe(0);
    expect(held('lb1')).toEqual(NONE);
  });
});

describe('a VIP deleted by hand from the master (keepalived tracks its VIPs)', () => {
  it('takes the master back to BACKUP and the election runs again (lb1 master again with its VIP); with no_track it stays MASTER without it', async () => {
    const a = new VipdProc(lab, 'lb1', { vrrp_instances: { VI_1: instance({ priority: 150 }) } });
    running.push(a);
    await a.waitState('VI_1', 'MASTER');
    const b = new VipdProc(lab, 'lb2', { vrrp_instances: { VI_1: instance({ priority: 100 }) } });
    running.push(b);
    await b.waitState('VI_1', 'BACKUP');

    lab.ip('lb1', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    // lb1 leaves MASTER and the election runs again: lb2's Master_Down timer dates from lb1's last advert,
    // lb1's (BACKUP now, priority 150, shorter skew) from the deletion — whichever expires first is master
    // for a moment; lb1 ends MASTER by priority either way.
    await waitFor(() => `lb1 to leave MASTER (lb1: ${a.logs.slice(-6).map((l) => l.msg).join(' | ')})`, () => a.transitions('VI_1').some((l) => l.msg.startsWith('VI_1 MASTER -> BACKUP')) || undefined);
    const lost = a.logs.find((l) => l.event === 'vip-lost');
    expect(lost?.msg).toBe(`VI_1: VIP ${VIP}/24 on eth0 deleted by someone else: leaving MASTER (no_track on the address keeps it MASTER)`);
    await a.waitState('VI_1', 'MASTER');
    await waitFor('lb1 holds the VIP again', () => lab.hasAddress('lb1', VIP) || undefined);

    // no_track: the same deletion leaves the master alone (and without the address, as keepalived).
    a.write({ vrrp_instances: { VI_1: instance({ priority: 150, virtual_ipaddress: [{ address: `${VIP}/24`, no_track: true }] }) } });
    a.kill('SIGHUP');
    await waitFor('the reload', () => a.logs.some((l) => l.event === 'reloaded') || undefined);
    const before = a.transitions('VI_1').length;
    lab.ip('lb1', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(a.transitions('VI_1')).toHaveLength(before);
    expect(lab.hasAddress('lb1', VIP)).toBe(false);
  });
});

