// VRRP between two real vipd daemons in network namespaces: election, failover,
// graceful handover, preemption rules, split brain, link tracking, sync groups,
// unicast, reload. Timings use 0.1 s adverts: Master_Down = 0.3 s + skew.
// A pair starts as Daemons.masterThenBackup starts it: lb1 until MASTER, then lb2
// until BACKUP. No test is about two daemons starting at once; the preemption
// tests start the lower priority first on purpose, one daemon at a time.

import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authDataFromPassword, encodeAdvert, VRRP_MULTICAST_V4 } from '../../src/vrrp/packet.js';
import { vrrpIpHeader } from '../../src/vrrp/transport.js';
import { type Lab, sleep, waitFor } from './lab.js';
import { CLIENT, directorsLab, holders, instance, LB1, LB2, single, VIP, VIP2 } from './topo.js';
import { Daemons, type VipdProc } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);

/** kill -9 and what a reboot would do: the dead host's leftover VIP is gone. */
async function crash(p: VipdProc): Promise<void> {
  p.kill('SIGKILL');
  await p.wait();
  lab.ip(p.host, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
}

beforeAll(() => {
  lab = directorsLab('vr');
});

afterEach(async () => {
  await daemons.killAll();
  for (const h of ['lb1', 'lb2']) {
    lab.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
    lab.ip(h, ['addr', 'del', `${VIP2}/24`, 'dev', 'eth1'], true);
    lab.setCable(h, 'eth0', true);
    lab.setCable(h, 'eth1', true);
    lab.setIsolated(h, 'eth0', false);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('VRRP between two vipd daemons', () => {
  it('elects exactly one master, which holds the VIP; the client reaches it', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    await sleep(500); // several advert intervals: nothing moves
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(await b.state('VI_1')).toBe('BACKUP');
    expect(holders(lab)).toEqual(['lb1']);
    expect(lab.ping('cl', VIP)).toBe(true);
    expect(lab.neighbourMac('cl', VIP)).toBe(lab.mac('lb1', 'eth0'));
    // One transition each into the final state, with a reason.
    const t = a.transitions('VI_1').map((l) => l.to);
    expect(t).toEqual(['BACKUP', 'MASTER']);
    expect(a.transitions('VI_1').every((l) => typeof l.reason === 'string' && (l.reason as string).length > 0)).toBe(true);
    expect(b.transitions('VI_1').map((l) => l.to)).toEqual(['BACKUP']);
  });

  it('kill -9 of the master: the backup takes the VIP within Master_Down_Interval and the client follows its MAC', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    expect(lab.ping('cl', VIP)).toBe(true);
    await sleep(1100); // past the client's ARP locktime (1 s) since its last neighbour update
    const t0 = Date.now();
    a.kill('SIGKILL');
    await b.waitState('VI_1', 'MASTER', 5000);
    const took = Date.now() - t0;
    // Master_Down = 3 x 0.1 s + skew (0.061 s at priority 100) = 0.361 s; allow for polling.
    expect(took).toBeGreaterThan(250);
    expect(took).toBeLessThan(1000);
    expect(lab.hasAddress('lb2', VIP)).toBe(true);
    await waitFor('client neighbour entry to point at lb2', () => lab.neighbourMac('cl', VIP) === lab.mac('lb2', 'eth0'), 3000);
    expect(lab.ping('cl', VIP)).toBe(true);
    const ev = b.transitions('VI_1').at(-1)!;
    expect(ev.to).toBe('MASTER');
    expect(String(ev.reason)).toMatch(/silent|no master heard/);
  });

  it('SIGTERM: the master sends priority 0, removes its VIP and exits 0; the backup takes over in about skew time', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    const t0 = Date.now();
    a.kill('SIGTERM');
    await b.waitState('VI_1', 'MASTER', 5000);
    const took = Date.now() - t0;
    // Skew at priority 100 with 0.1 s adverts = 61 ms; well under Master_Down (361 ms).
    expect(took).toBeLessThan(300);
    expect(await a.wait()).toBe(0);
    expect(lab.hasAddress('lb1', VIP)).toBe(false);
    expect(holders(lab)).toEqual(['lb2']);
    expect(String(b.transitions('VI_1').at(-1)!.reason)).toMatch(/priority 0/);
  });

  it('a returning higher-priority director preempts; with nopreempt it does not', async () => {
    const b = daemons.start('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'MASTER');
    const a = daemons.start('lb1', single({ priority: 150 }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holders(lab)).toEqual(['lb1']);
    await crash(a);
    await b.waitState('VI_1', 'MASTER', 3000);

    const c = daemons.start('lb1', single({ priority: 150, preempt: false }));
    await c.ready();
    await c.waitState('VI_1', 'BACKUP');
    await sleep(1500); // 15 advert intervals
    expect(await c.state('VI_1')).toBe('BACKUP');
    expect(await b.state('VI_1')).toBe('MASTER');
    expect(holders(lab)).toEqual(['lb2']);
  });

  it('preempt_delay: the higher-priority director obeys the live master until the delay expires, then preempts', async () => {
    const b = daemons.start('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'MASTER');
    const a = daemons.start('lb1', single({ priority: 150, preempt_delay: 1.5 }));
    await a.ready();
    const t0 = Date.now();
    await a.waitState('VI_1', 'BACKUP');
    await sleep(1000);
    expect(await a.state('VI_1')).toBe('BACKUP');
    expect(holders(lab)).toEqual(['lb2']);
    await a.waitState('VI_1', 'MASTER', 3000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(1400);
    expect(took).toBeLessThan(2500);
    await b.waitState('VI_1', 'BACKUP', 2000);
    expect(holders(lab)).toEqual(['lb1']);
  });

  it('split brain: isolated directors both become master; reconnected, exactly one master remains within about one interval and re-announces', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    lab.setIsolated('lb1', 'eth0', true);
    lab.setIsolated('lb2', 'eth0', true);
    await b.waitState('VI_1', 'MASTER', 3000);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(holders(lab)).toEqual(['lb1', 'lb2']);
    // Both answer for the VIP now; wait out the client's ARP locktime before reconnecting.
    await sleep(1200);
    const t0 = Date.now();
    lab.setIsolated('lb1', 'eth0', false);
    lab.setIsolated('lb2', 'eth0', false);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(Date.now() - t0).toBeLessThan(600); // one interval (0.1 s) + polling slack
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(holders(lab)).toEqual(['lb1']);
    // Only lb1 answers for the VIP: a client resolving it afresh reaches lb1. (Whether a client's
    // existing entry follows the re-announcement depends on its ARP locktime and probes, not on
    // vipd; the kill -9 test checks that a client follows the new master's gratuitous ARP.)
    lab.ip('cl', ['neigh', 'flush', 'dev', 'eth0']);
    expect(lab.ping('cl', VIP)).toBe(true);
    expect(lab.neighbourMac('cl', VIP)).toBe(lab.mac('lb1', 'eth0'));
  });

  it('track_interface: a tracked link going down moves the VIP (FAULT with weight 0, lower priority with a weight)', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150, track_interface: ['eth1'] }), single({ priority: 100 }));
    lab.setCable('lb1', 'eth1', false);
    await a.waitState('VI_1', 'FAULT', 3000);
    await b.waitState('VI_1', 'MASTER', 1000); // priority 0 from the resigning master: skew time
    expect(holders(lab)).toEqual(['lb2']);
    expect(String(a.transitions('VI_1').at(-1)!.reason)).toMatch(/eth1/);
    lab.setCable('lb1', 'eth1', true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holders(lab)).toEqual(['lb1']);
    await crash(a);

    // weight -60: 150 - 60 = 90 < 100, so lb2 preempts while eth1 is down.
    const c = daemons.start('lb1', single({ priority: 150, track_interface: [{ name: 'eth1', weight: -60 }] }));
    await c.ready();
    await c.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    lab.setCable('lb1', 'eth1', false);
    await b.waitState('VI_1', 'MASTER', 3000);
    await c.waitState('VI_1', 'BACKUP', 3000);
    const st = (await c.status()).vrrp.instances[0]!;
    expect(st.effectivePriority).toBe(90);
    lab.setCable('lb1', 'eth1', true);
    await c.waitState('VI_1', 'MASTER', 3000);
  });

  it('own interface losing carrier: FAULT, VIP released; back: BACKUP then preempts', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    lab.setCable('lb1', 'eth0', false);
    await a.waitState('VI_1', 'FAULT', 3000);
    expect(lab.hasAddress('lb1', VIP)).toBe(false);
    await b.waitState('VI_1', 'MASTER', 3000);
    lab.setCable('lb1', 'eth0', true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
  });

  it('a sync group moves two VIPs on two interfaces together', async () => {
    const cfg = (prio: number) => ({
      vrrp_instances: {
        VI_1: instance({ priority: prio }),
        VI_2: instance({ priority: prio, interface: 'eth1', vrid: 52, virtual_ipaddress: [`${VIP2}/24`] }),
      },
      vrrp_sync_groups: { G1: { group: ['VI_1', 'VI_2'] } },
    });
    const [a, b] = await daemons.masterThenBackup(cfg(150), cfg(100));
    // Only eth1 fails on lb1, but both VIPs move.
    lab.setCable('lb1', 'eth1', false);
    await b.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_2', 'MASTER', 3000);
    expect(await a.state('VI_2')).toBe('FAULT');
    expect(await a.state('VI_1')).not.toBe('MASTER');
    expect(lab.hasAddress('lb2', VIP)).toBe(true);
    expect(lab.hasAddress('lb2', VIP2)).toBe(true);
    expect(lab.hasAddress('lb1', VIP)).toBe(false);
    expect(lab.hasAddress('lb1', VIP2)).toBe(false);
    expect((await b.status()).vrrp.groups[0]).toMatchObject({ name: 'G1', state: 'MASTER' });
    lab.setCable('lb1', 'eth1', true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await a.waitState('VI_2', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    await b.waitState('VI_2', 'BACKUP', 3000);
  });

  it('unicast peers: the pair works over unicast and adverts from a non-peer are ignored', async () => {
    const uni = (prio: number, src: string, peer: string) => single({ priority: prio, unicast_src_ip: src, unicast_peer: [peer] });
    const [a, b] = await daemons.masterThenBackup(uni(150, LB1, LB2), uni(100, LB2, LB1));
    // A rogue speaker with a higher priority unicasts to both directors.
    const rogue = daemons.start('cl', single({ priority: 200, unicast_src_ip: CLIENT, unicast_peer: [LB1, LB2], virtual_ipaddress: ['10.99.0.200/24'] }));
    await rogue.ready();
    await rogue.waitState('VI_1', 'MASTER');
    await sleep(800);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(await b.state('VI_1')).toBe('BACKUP');
    const drops = (s: Awaited<ReturnType<VipdProc['status']>>) => s.vrrp.instances[0]!.counters.dropped['not-a-peer'] ?? 0;
    expect(drops(await a.status())).toBeGreaterThan(0);
    expect(drops(await b.status())).toBeGreaterThan(0);
    // Failover still works over unicast.
    a.kill('SIGTERM');
    await b.waitState('VI_1', 'MASTER', 3000);
    expect(holders(lab)).toEqual(['lb2']);
  });

  it('reload: an unchanged instance does not flap, a new one starts, a bad file keeps the old config running', async () => {
    const [a] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    const before = a.transitions().length;
    a.write({
      vrrp_instances: { VI_1: instance({ priority: 150 }), VI_2: instance({ priority: 150, interface: 'eth1', vrid: 52, virtual_ipaddress: [`${VIP2}/24`] }) },
    });
    a.kill('SIGHUP');
    await a.waitState('VI_2', 'MASTER', 3000);
    expect(a.transitions('VI_1').length).toBe(before);
    expect(lab.hasAddress('lb1', VIP)).toBe(true);
    expect(lab.hasAddress('lb1', VIP2)).toBe(true);

    a.write({ vrrp_instances: { VI_1: instance({ priority: 999 }) } });
    a.kill('SIGHUP');
    await waitFor('reload-rejected log line', () => a.logs.find((l) => l.event === 'reload-rejected'), 3000);
    const rej = a.logs.find((l) => l.event === 'reload-rejected')!;
    expect(String(rej.error)).toMatch(/priority/);
    expect(String(rej.error)).toMatch(/:\d+:\d+: /);
    await sleep(300);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(await a.state('VI_2')).toBe('MASTER');
    expect(a.transitions('VI_1').length).toBe(before);
    expect(a.exitCode).toBeUndefined();
  });

  it('a reload of a big file (30,000 real servers) is parsed off the main thread: the master keeps advertising', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    const bBefore = b.transitions('VI_1').length;
    // ~1 s of YAML natively: on the main thread that silences 0.1 s adverts for longer than
    // the backup's Master_Down_Interval (~0.36 s), and the backup takes over.
    a.write(single({ priority: 150 }));
    const l = ['virtual_servers:'];
    for (let i = 0; i < 3000; i++) {
      l.push(`  s${i}:`, `    address: 10.99.${i >> 8}.${i & 255}`, '    port: 80', '    scheduler: wrr', '    real_servers:');
      for (let j = 0; j < 10; j++) l.push(`      - {address: 10.98.${j}.${(i % 250) + 1}, port: ${8000 + j}, weight: 1}`);
    }
    appendFileSync(a.configFile, l.join('\n') + '\n');
    a.kill('SIGHUP');
    await waitFor('reloaded log line', () => a.logs.find((x) => x.event === 'reloaded'), 30_000);
    // The same file with a mistake in its last line: rejected from the thread with file:line:col, nothing changes.
    a.write(single({ priority: 150 }));
    l[l.length - 1] = l[l.length - 1]!.replace('weight: 1', 'weight: -1');
    appendFileSync(a.configFile, l.join('\n') + '\n');
    const lines = readFileSync(a.configFile, 'utf8').split('\n').length - 1;
    a.kill('SIGHUP');
    const rej = (await waitFor('reload-rejected log line', () => a.logs.find((x) => x.event === 'reload-rejected'), 30_000))!;
    expect(String(rej.error)).toContain(`${a.configFile}:${lines}:`);
    expect(String(rej.error)).toMatch(/weight/);
    await sleep(500);
    expect(b.transitions('VI_1').length).toBe(bBefore);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(a.exitCode).toBeUndefined();
  });

  it('malformed and foreign packets are dropped and counted; the master is not moved and the daemon keeps running', async () => {
    const [a, b] = await daemons.masterThenBackup(single({ priority: 150 }), single({ priority: 100 }));
    // The header the daemons send adverts with (the kernel fills in the ID and checksum); `ttl` 1: routed from elsewhere.
    const ip = (payload: Buffer, ttl?: number) => {
      const h = vrrpIpHeader(CLIENT, VRRP_MULTICAST_V4, payload.length);
      if (ttl !== undefined) h[8] = ttl;
      return Buffer.concat([h, payload]).toString('hex');
    };
    const v3 = (priority: number, vrid = 51) =>
      encodeAdvert({ version: 3, vrid, priority, intervalCs: 10, addresses: [VIP], authType: 0, authData: Buffer.alloc(8) }, { src: CLIENT, dst: VRRP_MULTICAST_V4 });
    const badSum = Buffer.from(v3(254));
    badSum[7]! ^= 0xff;
    const v2 = encodeAdvert({ version: 2, vrid: 51, priority: 254, intervalCs: 100, addresses: [VIP], authType: 1, authData: authDataFromPassword('x') }, { src: CLIENT, dst: VRRP_MULTICAST_V4 });
    const packets = [
      ip(Buffer.from([0x31, 0x33])), // truncated
      ip(Buffer.from('deadbeefdeadbeefdeadbeef', 'hex')), // garbage: version 13
      ip(badSum), // priority 254 with a bad checksum
      ip(v3(254, 52)), // another virtual router
      ip(v3(254), 1), // routed from elsewhere
      ip(v2), // VRRPv2 to a v3 instance
    ];
    for (let round = 0; round < 5; round++) lab.exec('cl', process.execPath, [fileURLToPath(new URL('./inject.mjs', import.meta.url)), 'eth0', ...packets]);
    await sleep(500);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(await b.state('VI_1')).toBe('BACKUP');
    for (const p of [a, b]) {
      const s = (await p.status()).vrrp;
      const sock = s.interfaces.find((i) => i.name === 'eth0')!.counters.dropped;
      expect(sock).toMatchObject({ truncated: 5, 'bad-version': 5, 'bad-checksum': 5, 'unknown-vrid': 5 });
      expect(s.instances[0]!.counters.dropped).toMatchObject({ ttl: 5, 'version-mismatch': 5 });
      expect(p.exitCode).toBeUndefined();
    }
  });

  it("notify scripts run with keepalived's arguments, for instances and sync groups, including notify_stop", async () => {
    const out = join(lab.dir, 'notify.out');
    const script = join(lab.dir, 'notify.sh');
    writeFileSync(script, `#!/bin/sh\necho "$(basename "$0") $*" >> ${out}\n`);
    chmodSync(script, 0o755);
    const lines = () => readFileSync(out, 'utf8').trim().split('\n');
    writeFileSync(out, '');
    const a = daemons.start('lb1', {
      vrrp_instances: { VI_1: instance({ priority: 150, notify_master: `${script} own`, notify_backup: `${script} own`, notify_stop: `${script} own`, notify: script }) },
      vrrp_sync_groups: { G1: { group: ['VI_1'], notify_master: `${script} group` } },
    });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    await waitFor('notify scripts for MASTER', () => lines().includes('notify.sh INSTANCE VI_1 MASTER 150') && lines().includes('notify.sh group'), 3000);
    a.kill('SIGTERM');
    expect(await a.wait()).toBe(0);
    // Each instance's scripts run in order; a group's run on their own queue. Only `notify` gets TYPE NAME STATE PRIORITY appended.
    expect(lines().filter((l) => !l.includes('group'))).toEqual([
      'notify.sh own',
      'notify.sh INSTANCE VI_1 BACKUP 150',
      'notify.sh own',
      'notify.sh INSTANCE VI_1 MASTER 150',
      'notify.sh own',
      'notify.sh INSTANCE VI_1 STOP 150',
    ]);
    expect(lines().filter((l) => l.includes('group'))).toEqual(['notify.sh group']);
  });

  it('sd_notify: READY with a status line, WATCHDOG pings, RELOADING then READY on SIGHUP, STOPPING on SIGTERM', async () => {
    const sock = join(lab.dir, 'notify.sock');
    // A stand-in for systemd's notify socket: print every datagram on one line.
    const sd = lab.spawn('lb1', 'python3', [
      '-u',
      '-c',
      `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('bound',flush=True)\nwhile True: print(s.recv(4096).decode().replace(chr(10),' | '),flush=True)`,
      sock,
    ]);
    let got = '';
    sd.stdout!.on('data', (d: Buffer) => (got += d.toString()));
    await waitFor('notify socket', () => got.includes('bound'), 5000);
    const msgs = () => got.split('\n').filter((l) => l && l !== 'bound');
    const a = daemons.start('lb1', single({ priority: 150 }), { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' });
    await a.ready();
    await waitFor('READY=1', () => msgs().some((m) => m.startsWith('READY=1 | STATUS=')), 3000);
    await sleep(700);
    expect(msgs().filter((m) => m === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(2); // every 200 ms
    a.kill('SIGHUP');
    await waitFor('RELOADING then READY', () => msgs().some((m) => /^RELOADING=1 \| MONOTONIC_USEC=\d+$/.test(m)), 3000);
    const afterReload = msgs().slice(msgs().findIndex((m) => m.startsWith('RELOADING=1')));
    await waitFor('READY after reload', () => msgs().slice(msgs().findIndex((m) => m.startsWith('RELOADING=1'))).some((m) => m.startsWith('READY=1')), 3000);
    expect(afterReload[0]).toMatch(/^RELOADING=1/);
    a.kill('SIGTERM');
    expect(await a.wait()).toBe(0);
    expect(msgs()).toContain('STOPPING=1');
    sd.kill('SIGKILL');
  });
});
