// The ECMP tier's control plane against real kernels and a real routing daemon:
// two directors (d1, d2), each running vipd and BIRD 2, peer over BGP (+ BFD)
// with an upstream router running BIRD 2 that merges their routes into one ECMP
// route in its kernel. vipd announces the VIP through its kernel table; the
// tests read the router's own routing table. No IPVS here (the host kernel has
// none): the quorum is driven by TCP health checks of a real server namespace;
// the QEMU tier carries traffic. An IPVS VIP (a /128 in the same table) goes
// over a second BGP session between the IPv6 addresses.

import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/daemon/control.js';
import { birdArgs, directorBird, routerBird } from '../../src/lab/bird.js';
import { Lab, sleep, waitFor } from './lab.js';
import { VIPD_BIN, VipdProc } from './vipd.js';

const VIP = '192.0.2.100';
const VIP6 = '2001:db8::100';
const RTR = '10.97.0.1';
const RTR6 = 'fd97::1';
const D = { d1: '10.97.0.11', d2: '10.97.0.12' } as const;
const D6 = { d1: 'fd97::11', d2: 'fd97::12' } as const;
const SRV = '10.97.1.2';
const SRV6 = 'fd97:1::2';
const TABLE = 200;
const BFD = { intervalMs: 100, multiplier: 3 };
let lab: Lab;
const vipd: Partial<Record<keyof typeof D, VipdProc>> = {};
const hostOk = (h: string) => join(lab.dir, `${h}-healthy`);

/** The router's next hops for the VIP, sorted ([] = no route). */
function nextHops(vip = VIP): string[] {
  const out = lab.ip('rtr', [vip.includes(':') ? '-6' : '-4', 'route', 'show', `${vip}/${vip.includes(':') ? 128 : 32}`], true);
  return [...out.matchAll(/via (?:inet6 )?(\S+)/g)].map((m) => m[1]!).sort();
}

/** Polls until the router's next hops for the VIP are `want`; the milliseconds it took. */
async function hopsBecome(want: string[], timeoutMs = 15_000, vip = VIP): Promise<number> {
  const t0 = performance.now();
  await waitFor(() => `router next hops for ${vip} ${JSON.stringify(want)} (now ${JSON.stringify(nextHops(vip))}; ${Object.values(vipd).map((p) => `${p!.host}: ${p!.tail(3)}`).join(' / ')})`, () => JSON.stringify(nextHops(vip)) === JSON.stringify(want), timeoutMs, 10);
  return performance.now() - t0;
}
const hops6Become = (want: string[], timeoutMs = 15_000) => hopsBecome(want, timeoutMs, VIP6);

const vipdConfig = (host: string, announce = true) => ({
  announce: { table: TABLE, drain_delay: 1.5, track_script: ['host_ok'] },
  vrrp_scripts: { host_ok: { script: `/usr/bin/test -e ${hostOk(host)}`, interval: 0.2, rise: 1, fall: 1 } },
  virtual_servers: {
    web: {
      address: VIP,
      port: 80,
      forwarding: 'dr',
      announce,
      // Direct routing keeps the port (80); the real server's health listener is on 8080.
      real_servers: [{ address: SRV }],
      health_check: { type: 'TCP', port: 8080, delay: 0.3, timeout: 0.2, max_retries: 1, max_retries_down: 1 },
    },
    web6: {
      address: VIP6,
      port: 80,
      forwarding: 'dr',
      announce,
      real_servers: [{ address: SRV6 }],
      health_check: { type: 'TCP', port: 8080, delay: 0.3, timeout: 0.2, max_retries: 1, max_retries_down: 1 },
    },
  },
});

function startVipd(host: keyof typeof D, announce = true): VipdProc {
  const p = new VipdProc(lab, host, vipdConfig(host, announce));
  vipd[host] = p;
  return p;
}

function startBird(host: string, conf: string): void {
  const file = join(lab.dir, `${host}-bird.conf`);
  writeFileSync(file, conf);
  lab.spawn(host, 'bird', birdArgs(file, join(lab.dir, `${host}-bird.ctl`), join(lab.dir, `${host}-bird.pid`)));
}

const startServer = () => lab.spawn('srv', process.execPath, ['-e', `for (const a of ['${SRV}', '${SRV6}']) require('net').createServer((s) => s.end()).listen(8080, a)`]);
const stopServer = () => lab.exec('srv', 'pkill', ['-f', 'listen\\(8080'], true);
const vipTable = (host: string) => lab.ip(host, ['route', 'show', 'table', String(TABLE)], true).trim();

beforeAll(async () => {
  lab = new Lab('ann');
  lab.addHost('rtr', [{ ifname: 'eth0', bridge: 'br0', cidr: `${RTR}/24` }]);
  for (const [h, a] of Object.entries(D)) {
    lab.addHost(h, [
      { ifname: 'eth0', bridge: 'br0', cidr: `${a}/24` },
      { ifname: 'eth1', bridge: 'br1', cidr: `10.97.1.${a.split('.')[3]}/24` },
    ]);
    const n = a.split('.')[3];
    lab.ip(h, ['addr', 'add', `${D6[h as keyof typeof D6]}/64`, 'dev', 'eth0', 'nodad']);
    lab.ip(h, ['addr', 'add', `fd97:1::${n}/64`, 'dev', 'eth1', 'nodad']);
    writeFileSync(hostOk(h), '');
    startBird(h, directorBird({ routerId: a, iface: 'eth0', localAs: 65010, upstream: { address: RTR, as: 65000 }, upstream6: RTR6, table: TABLE, bfd: BFD }));
  }
  lab.ip('rtr', ['addr', 'add', `${RTR6}/64`, 'dev', 'eth0', 'nodad']);
  lab.addHost('srv', [{ ifname: 'eth0', bridge: 'br1', cidr: `${SRV}/24` }]);
  lab.ip('srv', ['addr', 'add', `${SRV6}/64`, 'dev', 'eth0', 'nodad']);
  startBird('rtr', routerBird({ routerId: RTR, iface: 'eth0', localAs: 65000, peers: Object.entries(D).map(([name, address]) => ({ name, address, address6: D6[name as keyof typeof D6], as: 65010 })), bfd: BFD }));
  startServer();
  for (const h of ['d1', 'd2'] as const) await startVipd(h).ready();
}, 60_000);

afterAll(async () => {
  for (const p of Object.values(vipd)) p?.kill('SIGKILL');
  await lab?.destroy();
});

describe('announced VIPs over BGP (BIRD 2) with ECMP at the router', () => {
  it('both directors announce: the router holds one route with both as next hops, for the IPv4 and the IPv6 VIP; status shows the routes and one tier hash', async () => {
    await hopsBecome([D.d1, D.d2], 30_000);
    await hops6Become([D6.d1, D6.d2], 30_000);
    expect(lab.ip('rtr', ['-6', 'route', 'show', `${VIP6}/128`])).toMatch(/proto bird/);
    expect(lab.ip('d1', ['-6', 'route', 'show', 'table', String(TABLE)]).trim()).toBe(`blackhole ${VIP6} dev lo proto 86 metric 1024 pref medium`);
    expect(lab.ip('rtr', ['route', 'show', `${VIP}/32`])).toMatch(/proto bird/);
    expect(vipTable('d1')).toBe(`blackhole ${VIP} proto 86`);
    const st = await Promise.all([vipd.d1!.status(), vipd.d2!.status()]);
    const ann = st.map((s) => s.announce as { tierHash: string; vips: { address: string; announced: boolean; inKernel: boolean; reason: string }[] });
    expect(ann[0]!.vips).toEqual([
      { address: VIP, family: 'inet', announced: true, inKernel: true, reason: 'announced: web has quorum', virtualServers: ['web'] },
      { address: VIP6, family: 'inet6', announced: true, inKernel: true, reason: 'announced: web6 has quorum', virtualServers: ['web6'] },
    ]);
    expect(ann[0]!.tierHash).toMatch(/^[0-9a-f]{16}$/);
    expect(ann[1]!.tierHash).toBe(ann[0]!.tierHash);
    expect(vipd.d1!.logs.find((l) => l.event === 'vip-announced')?.msg).toBe(`VIP ${VIP} ANNOUNCED (route blackhole ${VIP}/32 table ${TABLE} proto 86): web has quorum`);
  });

  it('the real server dies: both directors lose quorum and withdraw, the router has no route; it returns: both next hops again', async () => {
    stopServer();
    const gone = await hopsBecome([]);
    await hops6Become([]);
    expect(vipTable('d1') + vipTable('d2')).toBe('');
    // The route is deleted before the log line reaches us through the pipe.
    await waitFor(() => `d1's withdrawal line (${vipd.d1!.logs.filter((l) => l.event === 'vip-withdrawn').map((l) => String(l.reason)).join(' | ')})`, () => vipd.d1!.logs.some((l) => l.event === 'vip-withdrawn' && l.reason === 'withdrawn: web (TCP 192.0.2.100:80) has lost quorum') || undefined, 3000);
    startServer();
    const back = await hopsBecome([D.d1, D.d2]);
    await hops6Become([D6.d1, D6.d2]);
    console.log(`real server down -> route gone at the router in ${gone.toFixed(0)} ms (check every 0.3 s, fall 1); back in ${back.toFixed(0)} ms`);
    expect(gone).toBeLessThan(2000);
  });

  it('vipd rs disable takes the last real server out of d1: d1 withdraws, d2 carries on; enable: back', async () => {
    await request(vipd.d1!.socket, { cmd: 'rs', vs: 'web', rs: `${SRV}:80`, action: 'disable' }, 2000);
    const t = await hopsBecome([D.d2]);
    expect(t).toBeLessThan(1000);
    await request(vipd.d1!.socket, { cmd: 'rs', vs: 'web', rs: `${SRV}:80`, action: 'enable' }, 2000);
    await hopsBecome([D.d1, D.d2]);
  });

  it('a failing host health script (announce.track_script) withdraws d2; passing again, it announces', async () => {
    rmSync(hostOk('d2'));
    await hopsBecome([D.d1]);
    const st = (await vipd.d2!.status()).announce as { vips: { reason: string }[] };
    expect(st.vips[0]!.reason).toBe('withdrawn: host health script host_ok failing');
    writeFileSync(hostOk('d2'), '');
    await hopsBecome([D.d1, D.d2]);
  });

  it('SIGTERM: withdrawn first (both families) — the router drops d1 while d1 still runs for drain_delay — then it exits 0', async () => {
    const p = vipd.d1!;
    const t0 = performance.now();
    p.kill('SIGTERM');
    const dropped = await hopsBecome([D.d2], 5000);
    await hops6Become([D6.d2], 5000);
    expect(p.exitCode).toBeUndefined(); // still serving: the drain
    expect(await p.wait()).toBe(0);
    const exited = performance.now() - t0;
    const after = p.logs.slice(p.logs.findIndex((l) => l.event === 'stopping'));
    const events = after.map((l) => l.event).filter((e) => ['stopping', 'vip-withdrawn', 'announce-drain', 'stopped'].includes(e as string));
    expect(events).toEqual(['stopping', 'vip-withdrawn', 'vip-withdrawn', 'announce-drain', 'stopped']); // both VIPs, then the drain
    console.log(`SIGTERM -> d1 out of the router's next hops in ${dropped.toFixed(0)} ms; vipd exited after ${exited.toFixed(0)} ms (drain_delay 1.5 s)`);
    expect(exited).toBeGreaterThanOrEqual(1500);
    expect(vipTable('d1')).toBe('');
  });

  it('a director dies (kill -9, cable pulled): BFD takes its next hop out within a second', async () => {
    await startVipd('d1').ready();
    await hopsBecome([D.d1, D.d2]);
    const t0 = performance.now();
    vipd.d2!.kill('SIGKILL');
    lab.setCable('d2', 'eth0', false);
    await hopsBecome([D.d1], 5000);
    const ms = performance.now() - t0;
    await hops6Become([D6.d1], 5000); // the IPv6 session has its own BFD session
    console.log(`kill -9 + link down -> next hop dropped by the router in ${ms.toFixed(0)} ms (BFD ${BFD.intervalMs} ms x ${BFD.multiplier})`);
    expect(ms).toBeLessThan(1000);
  });

  it('a restarted vipd adopts the route its killed predecessor left, and deletes it when the VIP is no longer announced', async () => {
    // kill -9 leaves the route: only the routing daemon's timers (or the host's death) withdraw it.
    expect(vipTable('d2')).toBe(`blackhole ${VIP} proto 86`);
    lab.setCable('d2', 'eth0', true);
    await hopsBecome([D.d1, D.d2]); // BIRD still exports the route vipd left
    const p = startVipd('d2', false);
    await p.ready();
    await hopsBecome([D.d1]);
    expect(vipTable('d2')).toBe('');
    expect(p.logs.find((l) => l.event === 'vip-withdrawn')?.reason).toBe('withdrawn: no virtual server announces it any more');
    await sleep(500);
    expect(nextHops()).toEqual([D.d1]);
  });

  it("only vipd dies (kill -9; host and BIRD alive): `vipd withdraw`, the unit's ExecStopPost, deletes its route and the router drops the next hop", async () => {
    const withdraw = (...extra: string[]) => spawnSync('ip', ['netns', 'exec', lab.ns('d1'), process.execPath, VIPD_BIN, 'withdraw', '-c', vipd.d1!.configFile, ...extra], { encoding: 'utf8' });
    expect(vipTable('d1')).toBe(`blackhole ${VIP} proto 86`);
    // Refused while the daemon runs: it would not know its route is gone.
    const running = withdraw();
    expect(running.status).toBe(1);
    expect(running.stderr).toMatch(/a vipd is running \(it answers on .*\): it withdraws its own routes when it stops/);
    expect(vipTable('d1')).toBe(`blackhole ${VIP} proto 86`);
    vipd.d1!.kill('SIGKILL');
    await sleep(1000);
    expect(nextHops()).toEqual([D.d1]); // nothing else would withdraw it: BFD is up, BIRD runs
    const t0 = performance.now();
    const out = withdraw();
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(`VIP ${VIP} WITHDRAWN (route blackhole ${VIP}/32 table ${TABLE} proto 86 deleted): vipd is not running\nVIP ${VIP6} WITHDRAWN (route blackhole ${VIP6}/128 table ${TABLE} proto 86 deleted): vipd is not running\n`);
    await hopsBecome([], 5000);
    await hops6Become([], 5000);
    console.log(`vipd withdraw after kill -9 -> the router dropped the route in ${(performance.now() - t0).toFixed(0)} ms (node start included)`);
    expect(vipTable('d1')).toBe('');
    expect(withdraw().stdout).toBe('nothing to withdraw\n');
    // A successor adopts nothing and announces afresh.
    await startVipd('d1').ready();
    await hopsBecome([D.d1]);
    await hops6Become([D6.d1]);
  });
});
