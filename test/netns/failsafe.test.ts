// Fail safe, on real kernels: an instance that cannot do its job (no
// capabilities, a VIP the kernel refuses, adverts the kernel will not send)
// never claims MASTER — FAULT with the reason in `vipd status`, no VIP on the
// interface, the peer takes over — and recovers by itself when the cause goes.

import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../../src/vrrp/instance.js';
import { type Lab, sh, sleep, waitFor } from './lab.js';
import { directorsLab, holders, single, VIP } from './topo.js';
import { Daemons, VIPD_BIN, type VipdProc } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);
/** No capabilities at all: CapEff 0 (root's uid stays, so its own files are still its own). */
const NO_CAPS = ['setpriv', '--inh-caps=-all', '--bounding-set=-all'];
/** A subnet no director has an address in: the VIP of the scope test. */
const VIP_S = '10.97.0.100';
/** Twelve VIPs: a VRRPv3 advert of 20 + 8 + 48 = 76 bytes, more than an MTU of 68. */
const MANY = Array.from({ length: 12 }, (_, i) => `10.99.0.${100 + i}`);

async function vi1(p: VipdProc): Promise<InstanceStatus> {
  const st = (await p.status()).vrrp.instances.find((i) => i.name === 'VI_1');
  if (!st) throw new Error(`${p.host} has no VI_1`);
  return st as InstanceStatus;
}

const errorLines = (p: VipdProc) => p.logs.filter((l) => l.level >= 50).map((l) => l.msg);

beforeAll(() => {
  lab = directorsLab('fs');
});

afterEach(async () => {
  await daemons.killAll();
  for (const h of ['lb1', 'lb2']) {
    for (const ip of [...MANY, VIP_S]) lab.ip(h, ['addr', 'del', `${ip}/24`, 'dev', 'eth0'], true);
    lab.ip(h, ['addr', 'del', '10.97.0.1/24', 'dev', 'eth0'], true);
    lab.ip(h, ['link', 'set', 'eth0', 'mtu', '1500']);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('fail safe: an instance that cannot do its job never claims it', () => {
  it('no capabilities: one start-up line per missing capability, FAULT with the reason in status (JSON and human), never MASTER, no VIP; the peer with capabilities is MASTER', async () => {
    const a = daemons.start('lb1', single({ priority: 150 }), {}, NO_CAPS);
    await a.ready();
    // The test is real only if the daemon really runs without capabilities.
    expect(/^CapEff:\s*(\S+)$/m.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'))?.[1]).toBe('0000000000000000');
    const b = daemons.start('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'MASTER', 5000);
    const why = 'cannot open the VRRP socket on eth0: EPERM (operation not permitted): vipd needs CAP_NET_RAW — run as root or under the shipped unit';
    const st = await vi1(a);
    expect(st).toMatchObject({ state: 'FAULT', faults: [why], lastReason: `fault at start: ${why}`, vipsHeld: false, io: { reason: why } });
    // Retried with backoff (1 s, 2 s, ...) and still failing: still FAULT, never anything else, no new line.
    await waitFor('two failed checks', async () => ((await vi1(a)).io?.attempt ?? 0) >= 3, 8000);
    expect((await vi1(a)).state).toBe('FAULT');
    expect(a.transitions('VI_1').map((l) => l.to)).toEqual(['FAULT']);
    expect(holders(lab, VIP)).toEqual(['lb2']);
    expect(await b.state('VI_1')).toBe('MASTER');
    expect(a.logs.filter((l) => l.event === 'missing-capability').map((l) => [l.level, l.msg])).toEqual([
      [40, 'vipd runs without CAP_NET_RAW: VRRP adverts, ICMP health checks and gratuitous ARP (raw and packet sockets) will fail — run as root or under the shipped unit'],
      [40, 'vipd runs without CAP_NET_ADMIN: adding VIPs and programming IPVS will fail — run as root or under the shipped unit'],
    ]);
    expect(errorLines(a)).toEqual([`VI_1: ${why}`]);
    // `vipd status --json` and the person's view say the same.
    const json = JSON.parse(lab.exec('lb1', process.execPath, [VIPD_BIN, 'status', '--json', '-s', a.socket])) as { vrrp: { instances: InstanceStatus[] } };
    expect(json.vrrp.instances).toHaveLength(1);
    expect(json.vrrp.instances[0]).toMatchObject({ name: 'VI_1', state: 'FAULT', faults: [why], vipsHeld: false, io: { reason: why } });
    const human = lab.exec('lb1', process.execPath, [VIPD_BIN, 'status', '-s', a.socket]);
    expect(human).toMatch(/^VI_1\s+eth0\s+51\s+FAULT\s/m);
    expect(human).toContain(`VI_1: FAULT: ${why}`);
    expect(human).toMatch(/VI_1: I\/O failure \d+ in a row, next check in \d+s/);
    // It started and keeps running: a clean stop still works.
    a.kill('SIGTERM');
    expect(await a.wait()).toBe(0);
  });

  it('CAP_NET_RAW but no CAP_NET_ADMIN: the takeover cannot add the VIP — FAULT, resignation, the peer is master again; the retry sees the capability missing and does not take over again', async () => {
    const b = daemons.start('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'MASTER', 5000);
    const a = daemons.start('lb1', single({ priority: 150 }), {}, ['setpriv', '--inh-caps=-all', '--bounding-set=-all,+net_raw']);
    await a.ready();
    expect(/^CapEff:\s*(\S+)$/m.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'))?.[1]).toBe('0000000000002000');
    const why = `cannot add VIP ${VIP}/24 to eth0: EPERM (operation not permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit`;
    await a.waitState('VI_1', 'FAULT', 5000);
    // lb1's takeover advert (sent before the VIP, RFC 5798 6.4.1) put lb2 in BACKUP; its
    // priority-0 advert makes lb2 master again after the skew time. Wait for both, not for a
    // MASTER that lb2 may still show from before it read them.
    const bPath = () => b.transitions('VI_1').map((l) => `${l.from}>${l.to}`);
    await waitFor('lb2 master again after lb1 resigned', () => bPath().join(' ') === 'INIT>BACKUP BACKUP>MASTER MASTER>BACKUP BACKUP>MASTER', 3000);
    const bTransitions = b.transitions('VI_1').length;
    // Checks at +1 s and +3 s: both see the capability missing.
    await waitFor('two failed checks', async () => (await vi1(a)).io?.attempt === 3, 8000);
    expect(await vi1(a)).toMatchObject({ state: 'FAULT', faults: [why], io: { reason: why, attempt: 3 }, vipsHeld: false });
    expect(a.transitions('VI_1').map((l) => `${l.from}>${l.to}`)).toEqual(['INIT>BACKUP', 'BACKUP>MASTER', 'MASTER>FAULT']);
    expect(b.transitions('VI_1')).toHaveLength(bTransitions);
    expect(await b.state('VI_1')).toBe('MASTER');
    expect(holders(lab, VIP)).toEqual(['lb2']);
    expect(a.logs.filter((l) => l.event === 'missing-capability').map((l) => l.capability)).toEqual(['CAP_NET_ADMIN']);
    expect(errorLines(a)).toEqual([`VI_1: ${why}`]);
  });

  it('a VIP the kernel refuses at takeover (an address of its subnet with another scope): FAULT, resignation, the peer takes over; the cause removed, it recovers by itself', async () => {
    const vip = `${VIP_S}/24`;
    const cfg = (priority: number) => single({ priority, virtual_ipaddress: [vip] });
    // The same add by hand fails in this kernel: the cause is real.
    lab.ip('lb1', ['addr', 'add', '10.97.0.1/24', 'dev', 'eth0', 'scope', 'host']);
    expect(() => lab.ip('lb1', ['addr', 'add', vip, 'dev', 'eth0'])).toThrow(/Invalid scope value/);
    const b = daemons.start('lb2', cfg(100));
    await b.ready();
    await b.waitState('VI_1', 'MASTER', 5000);
    const a = daemons.start('lb1', cfg(150));
    await a.ready();
    const why =
      'cannot add VIP 10.97.0.100/24 to eth0: EINVAL (invalid argument: ipv4: Invalid scope value): eth0 has another address in the same subnet with a different scope: remove it or give the VIP another prefix (ip -4 addr show dev eth0)';
    await a.waitState('VI_1', 'FAULT', 5000);
    expect(await vi1(a)).toMatchObject({ state: 'FAULT', faults: [why], io: { reason: why, attempt: 1 }, vipsHeld: false });
    expect(a.transitions('VI_1').map((l) => `${l.from}>${l.to}`)).toEqual(['INIT>BACKUP', 'BACKUP>MASTER', 'MASTER>FAULT']);
    await b.waitState('VI_1', 'MASTER', 3000); // it heard the priority-0 resignation
    expect(holders(lab, VIP_S)).toEqual(['lb2']);
    expect(errorLines(a)).toEqual([`VI_1: ${why}`]);

    // The retry after 1 s takes part in the election again and fails the same way: FAULT, attempt 2, no new line.
    await waitFor('the second failure', async () => (await vi1(a)).io?.attempt === 2, 5000);
    await a.waitState('VI_1', 'FAULT', 3000);
    await b.waitState('VI_1', 'MASTER', 3000);
    expect(holders(lab, VIP_S)).toEqual(['lb2']);
    expect(errorLines(a)).toEqual([`VI_1: ${why}`]);

    // The cause goes: within the next backoff (2 s) plus Master_Down_Interval lb1 is master with the VIP.
    lab.ip('lb1', ['addr', 'del', '10.97.0.1/24', 'dev', 'eth0']);
    const t0 = Date.now();
    await a.waitState('VI_1', 'MASTER', 6000);
    expect(Date.now() - t0).toBeLessThan(2000 + 1500);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holders(lab, VIP_S)).toEqual(['lb1']);
    const st = await vi1(a);
    expect(st.io).toBeUndefined();
    expect(st.faults).toEqual([]);
    const back = a.transitions('VI_1').slice(-2);
    expect(back.map((l) => `${l.from}>${l.to}`)).toEqual(['FAULT>BACKUP', 'BACKUP>MASTER']);
    expect(back[0]!.reason).toBe(`recovered from: ${why}`);
  });

  it('adverts the kernel will not send (EMSGSIZE: the MTU lowered below the advert): FAULT, no VIP, the peer takes over; the MTU back, it recovers', async () => {
    const cfg = (priority: number) => single({ priority, virtual_ipaddress: MANY.map((ip) => `${ip}/24`) });
    const [a, b] = await daemons.masterThenBackup(cfg(150), cfg(100));
    expect(holders(lab, MANY[0]!)).toEqual(['lb1']);

    lab.ip('lb1', ['link', 'set', 'eth0', 'mtu', '68']);
    const why = 'cannot send adverts on eth0 to 224.0.0.18: EMSGSIZE (message too long): the advert is larger than the MTU of eth0: fewer VIPs per instance or a larger MTU';
    await a.waitState('VI_1', 'FAULT', 3000);
    const st = await vi1(a);
    expect(st).toMatchObject({ state: 'FAULT', faults: [why], io: { reason: why }, vipsHeld: false });
    expect(st.counters.sendErrors).toBeGreaterThanOrEqual(1);
    // The resignation cannot go out either: the peer takes over after Master_Down_Interval.
    await b.waitState('VI_1', 'MASTER', 3000);
    for (const ip of MANY) expect(lab.hasAddress('lb1', ip)).toBe(false);
    expect(holders(lab, MANY[11]!)).toEqual(['lb2']);
    expect(errorLines(a)).toEqual([`VI_1: ${why}`]);

    lab.ip('lb1', ['link', 'set', 'eth0', 'mtu', '1500']);
    await a.waitState('VI_1', 'MASTER', 8000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holders(lab, MANY[0]!)).toEqual(['lb1']);
    expect((await vi1(a)).io).toBeUndefined();
    expect(sh('ip', ['-n', lab.ns('lb1'), '-o', '-4', 'addr', 'show', 'dev', 'eth0']).split('\n').filter((l) => l.includes('10.99.0.1')).length).toBe(13); // its own address + 12 VIPs
  });
});
