// RFC 5798 Accept_Mode (keepalived's accept / no_accept) against the real
// kernel and nftables: a no_accept master holds the VIPs but ping and TCP to
// them fail from the client, while ARP, IPv6 neighbour discovery and the
// adverts still work; accept (the default) answers; the address owner (priority
// 255) always answers; vipd's table inet vipd follows the master (gone on a
// transition to BACKUP and at stop, a killed run's removed at start) and holds
// exactly the master's VIPs.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, sleep, waitFor } from './lab.js';
import { directorsLab, instance, VIP } from './topo.js';
import { Daemons, type VipdProc } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);
const VIP6 = 'fd00:99::100';
const PORT = 8080;

const cfg = (priority: number, over: Record<string, unknown> = {}) => ({
  vrrp_instances: { VI_1: instance({ priority, virtual_ipaddress_excluded: [`${VIP6}/64`], ...over }) },
});

/** The table vipd writes on a host ('' when there is none). */
const table = (host: string): string => lab.exec(host, 'nft', ['list', 'table', 'inet', 'vipd'], true);
/** The addresses in its sets. */
const dropped = (host: string): string[] => [...table(host).matchAll(/elements = \{ ([^}]*) \}/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
const ping6 = (host: string, ip: string): boolean => lab.exec(host, 'ping', ['-6', '-n', '-q', '-c', '1', '-W', '1', ip], true) !== '';
/** A TCP connection from the client to a listener on the director (it says "hi"). */
const tcp = (ip: string): boolean => lab.exec('cl', 'timeout', ['2', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${PORT}; head -c 2 <&3`], true) === 'hi';
const mac6 = (ip: string): string | undefined => /lladdr ([0-9a-f:]{17})/.exec(lab.ip('cl', ['-6', 'neigh', 'show', ip, 'dev', 'eth0'], true))?.[1];

/** What the client gets from the VIPs: ping (IPv4, IPv6) and TCP. */
const answers = () => ({ ping: lab.ping('cl', VIP), ping6: ping6('cl', VIP6), tcp: tcp(VIP) });
const ANSWERS = { ping: true, ping6: true, tcp: true };
const SILENT = { ping: false, ping6: false, tcp: false };

beforeAll(() => {
  lab = directorsLab('vac');
  lab.ip('cl', ['addr', 'add', 'fd00:99::50/64', 'dev', 'eth0', 'nodad']);
  for (const h of ['lb1', 'lb2']) lab.spawn(h, process.execPath, ['-e', `require('net').createServer((s) => s.end('hi')).listen(${PORT}, '::')`]);
});
afterEach(async () => {
  await daemons.killAll();
  for (const h of ['lb1', 'lb2']) {
    lab.exec(h, 'nft', ['delete', 'table', 'inet', 'vipd'], true); // what a reboot does to a killed run's table
    lab.ip(h, ['addr', 'flush', 'dev', 'eth0', 'to', `${VIP}/32`], true);
    lab.ip(h, ['-6', 'addr', 'del', `${VIP6}/64`, 'dev', 'eth0'], true);
  }
  lab.ip('cl', ['neigh', 'flush', 'dev', 'eth0'], true);
});
afterAll(async () => {
  await lab?.destroy();
});

describe('no_accept (Accept_Mode off)', () => {
  it('the master holds the VIPs but drops what is sent to them; ARP, neighbour discovery and the adverts still work', async () => {
    const [a, b] = await daemons.masterThenBackup(cfg(150, { no_accept: true }), cfg(100, { no_accept: true }));
    expect(lab.hasAddress('lb1', VIP)).toBe(true);
    expect(answers()).toEqual(SILENT);
    // The client resolved both addresses to the master: ARP and IPv6 ND (NS in, NA out from the VIP) pass.
    expect(lab.neighbourMac('cl', VIP)).toBe(lab.mac('lb1', 'eth0'));
    expect(mac6(VIP6)).toBe(lab.mac('lb1', 'eth0'));
    expect(dropped('lb1').sort()).toEqual([VIP, VIP6].sort());
    expect(table('lb2')).toBe(''); // the backup holds nothing, drops nothing
    // The adverts flow both ways through the table: the backup stays BACKUP, the master MASTER.
    await sleep(1000);
    expect(await b.state('VI_1')).toBe('BACKUP');
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(b.transitions('VI_1').map((t) => t.to)).toEqual(['BACKUP']);
  });

  it('accept (the default) answers; a reload to no_accept drops in place, back to accept removes the table', async () => {
    const a = daemons.start('lb1', cfg(150));
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    expect(answers()).toEqual(ANSWERS);
    expect(table('lb1')).toBe('');
    const reload = async (over: Record<string, unknown>) => {
      const before = a.logs.filter((l) => l.event === 'reloaded').length;
      a.write(cfg(150, over));
      a.kill('SIGHUP');
      await waitFor('the reload', () => a.logs.filter((l) => l.event === 'reloaded').length > before, 3000);
    };
    await reload({ no_accept: true });
    await waitFor('the drop rules', () => dropped('lb1').length === 2, 3000);
    expect(answers()).toEqual(SILENT);
    await reload({ accept: true });
    await waitFor('the table to go', () => table('lb1') === '', 3000);
    expect(answers()).toEqual(ANSWERS);
    expect(await a.state('VI_1')).toBe('MASTER');
  });

  it('the address owner (priority 255) answers even with no_accept', async () => {
    const a = daemons.start('lb1', cfg(255, { no_accept: true }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    expect(answers()).toEqual(ANSWERS);
    expect(table('lb1')).toBe('');
  });

  it('the rules follow the master: gone on a transition to BACKUP, installed by the new master, removed at stop', async () => {
    const [a, b] = await daemons.masterThenBackup(cfg(150, { no_accept: true }), cfg(100, { no_accept: true }));
    expect(dropped('lb1').length).toBe(2);
    // lb2 outranks lb1 (reload): lb1 goes to BACKUP and takes its rules with its VIPs.
    b.write(cfg(200, { no_accept: true }));
    b.kill('SIGHUP');
    await a.waitState('VI_1', 'BACKUP');
    await b.waitState('VI_1', 'MASTER');
    expect(table('lb1')).toBe('');
    expect(dropped('lb2').sort()).toEqual([VIP, VIP6].sort());
    expect(answers()).toEqual(SILENT);
    // A graceful stop of the master: its table goes with it; lb1 takes over with its own.
    b.kill('SIGTERM');
    expect(await b.wait()).toBe(0);
    expect(table('lb2')).toBe('');
    await a.waitState('VI_1', 'MASTER');
    expect(dropped('lb1').length).toBe(2);
  });

  it("a killed run's table is removed at start: a config that accepts is not held back by it", async () => {
    const a = daemons.start('lb1', cfg(150, { no_accept: true }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    a.kill('SIGKILL');
    await a.wait();
    expect(dropped('lb1').length).toBe(2); // kill -9 leaves it
    const again: VipdProc = daemons.start('lb1', cfg(150));
    await again.ready();
    await again.waitState('VI_1', 'MASTER');
    expect(table('lb1')).toBe('');
    expect(answers()).toEqual(ANSWERS);
  });
});
