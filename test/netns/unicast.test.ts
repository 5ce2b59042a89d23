// Unicast VRRP across subnets: lb1 (10.61.1.0/24) and lb2 (10.61.2.0/24) are
// unicast peers with a router namespace between them, as in cloud zones or an
// L3 fabric. Adverts arrive with the TTL the router left them (254, or
// unicast_ttl - 1): a unicast instance takes any TTL (keepalived 2.2), a
// multicast instance still requires 255, and an instance takes adverts of its
// own mode only. keepalived 2.2.7 as the routed peer too.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { vrrpIpHeader } from '../../src/vrrp/transport.js';
import { KeepalivedProc } from './keepalived.js';
import { Lab, sleep, waitFor } from './lab.js';
import { instance } from './topo.js';
import { VipdProc } from './vipd.js';

const LB1 = '10.61.1.11';
const LB2 = '10.61.2.12';
const VIP = '10.61.9.100';
const VIP_M = '10.61.2.100';

let lab: Lab;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  lab = new Lab('uc');
  lab.addHost('rt', [
    { ifname: 'eth0', bridge: 'bra', cidr: '10.61.1.1/24' },
    { ifname: 'eth1', bridge: 'brb', cidr: '10.61.2.1/24' },
  ]);
  lab.exec('rt', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  lab.addHost('lb1', [{ ifname: 'eth0', bridge: 'bra', cidr: `${LB1}/24` }]);
  lab.addHost('lb2', [{ ifname: 'eth0', bridge: 'brb', cidr: `${LB2}/24` }]);
  lab.ip('lb1', ['route', 'add', '10.61.2.0/24', 'via', '10.61.1.1']);
  lab.ip('lb2', ['route', 'add', '10.61.1.0/24', 'via', '10.61.2.1']);
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop().catch(() => undefined);
  for (const h of ['lb1', 'lb2']) for (const v of [VIP, VIP_M]) lab.ip(h, ['addr', 'del', `${v}/32`, 'dev', 'eth0'], true);
});

afterAll(async () => {
  await lab?.destroy();
});

function vipd(host: 'lb1' | 'lb2', priority: number, over: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): VipdProc {
  const [src, peer] = host === 'lb1' ? [LB1, LB2] : [LB2, LB1];
  const p = new VipdProc(lab, host, {
    vrrp_instances: {
      VI_U: instance({ priority, unicast_src_ip: src, unicast_peer: [peer], virtual_ipaddress: [`${VIP}/32`], ...over }),
      ...extra,
    },
  });
  stops.push(async () => {
    p.kill('SIGKILL');
    await p.wait();
  });
  return p;
}

/** The TTLs of the VRRP packets from `src` that `host` sees on eth0 (tcpdump, a few of them). */
function ttlsSeen(host: string, src: string, count = 3): number[] {
  const out = lab.exec(host, 'timeout', ['6', 'tcpdump', '-ni', 'eth0', '-c', String(count), '-v', `ip proto 112 and src ${src}`], true);
  return [...out.matchAll(/ttl (\d+)/g)].map((m) => Number(m[1]));
}

/** A VRRPv3 advert with its IPv4 header (TTL as given), hex, for inject.mjs. */
function advert(src: string, dst: string, vrid: number, priority: number, ttl: number, vip: string): string {
  const payload = encodeAdvert({ version: 3, vrid, priority, intervalCs: 10, addresses: [vip], authType: 0, authData: Buffer.alloc(8) }, { src, dst });
  return Buffer.concat([vrrpIpHeader(src, dst, payload.length, ttl), payload]).toString('hex');
}

/** Sends hand-made packets from the router onto lb2's LAN (its eth1). */
const inject = (packets: string[]) => lab.exec('rt', process.execPath, [fileURLToPath(new URL('./inject.mjs', import.meta.url)), 'eth1', ...packets]);

const dropped = async (p: VipdProc, name: string) => (await p.status()).vrrp.instances.find((i) => i.name === name)!.counters.dropped;

describe('unicast peers in two subnets, a router between them', () => {
  it('adverts arrive routed (TTL 254, or unicast_ttl - 1) and are taken; the backup takes over when the master dies and gives back on its return', async () => {
    const a = vipd('lb1', 150, { unicast_ttl: 64 });
    await a.ready();
    await a.waitState('VI_U', 'MASTER', 5000);
    const b = vipd('lb2', 100);
    await b.ready();
    await b.waitState('VI_U', 'BACKUP', 5000);
    await sleep(500);
    expect(lab.hasAddress('lb1', VIP)).toBe(true);
    expect(lab.hasAddress('lb2', VIP)).toBe(false);

    // What arrived: lb1's adverts, sent with unicast_ttl 64, reach lb2 with 63.
    const atLb2 = ttlsSeen('lb2', LB1);
    expect(atLb2.length).toBeGreaterThan(0);
    expect(new Set(atLb2)).toEqual(new Set([63]));
    // ... and were taken: nothing dropped, lb2 knows lb1 as its master.
    expect(await dropped(b, 'VI_U')).toEqual({});
    expect((await b.status()).vrrp.instances[0]!.masterIp).toBe(LB1);
    expect(b.transitions('VI_U').map((l) => l.to)).not.toContain('MASTER');

    // The master dies: the backup takes over across the router.
    a.kill('SIGKILL');
    await a.wait();
    lab.ip('lb1', ['addr', 'del', `${VIP}/32`, 'dev', 'eth0'], true);
    await b.waitState('VI_U', 'MASTER', 3000);
    expect(lab.hasAddress('lb2', VIP)).toBe(true);
    // lb2's adverts (TTL 255) reach lb1 with 254.
    const atLb1 = ttlsSeen('lb1', LB2);
    expect(atLb1.length).toBeGreaterThan(0);
    expect(new Set(atLb1)).toEqual(new Set([254]));

    // lb1 returns with the higher priority: it takes lb2's adverts (TTL 254) and preempts; lb2 hears it (TTL 63) and gives back.
    const a2 = vipd('lb1', 150, { unicast_ttl: 64 });
    await a2.ready();
    await a2.waitState('VI_U', 'MASTER', 5000);
    expect((await a2.status()).vrrp.instances[0]!.counters.advertsReceived).toBeGreaterThan(0);
    expect(await dropped(a2, 'VI_U')).toEqual({});
    await b.waitState('VI_U', 'BACKUP', 3000);
    await waitFor('lb2 to release the VIP', () => !lab.hasAddress('lb2', VIP), 3000);
    expect(lab.hasAddress('lb1', VIP)).toBe(true);
  });

  it('a multicast advert with TTL 254 is dropped and counted; with 255 it is taken; a unicast instance takes no multicast advert', async () => {
    // lb2 runs the unicast instance and, alone on its LAN, a multicast one (vrid 52).
    const b = vipd('lb2', 100, {}, { VI_M: instance({ vrid: 52, priority: 100, virtual_ipaddress: [`${VIP_M}/32`] }) });
    await b.ready();
    await b.waitState('VI_M', 'MASTER', 5000);
    await b.waitState('VI_U', 'MASTER', 5000);

    // The router (on lb2's LAN) sends multicast adverts, priority 200, TTL 254: both instances drop them.
    inject([
      advert('10.61.2.1', '224.0.0.18', 52, 200, 254, VIP_M),
      advert('10.61.2.1', '224.0.0.18', 52, 200, 254, VIP_M),
      advert(LB1, '224.0.0.18', 51, 200, 254, VIP),
      advert(LB1, '224.0.0.18', 51, 200, 255, VIP),
    ]);
    await sleep(500);
    expect(await dropped(b, 'VI_M')).toEqual({ ttl: 2 });
    // From the peer's own address, by multicast, TTL 254 or 255: not for a unicast instance.
    expect(await dropped(b, 'VI_U')).toEqual({ 'wrong-destination': 2 });
    expect(await b.state('VI_M')).toBe('MASTER');
    expect(await b.state('VI_U')).toBe('MASTER');

    // The same multicast advert with TTL 255 is taken: the multicast instance yields to priority 200.
    inject([advert('10.61.2.1', '224.0.0.18', 52, 200, 255, VIP_M)]);
    await b.waitState('VI_M', 'BACKUP', 2000);
    // A unicast advert from the peer with TTL 254 is taken by the unicast instance.
    inject([advert(LB1, LB2, 51, 200, 254, VIP)]);
    await b.waitState('VI_U', 'BACKUP', 2000);
    expect(await dropped(b, 'VI_U')).toEqual({ 'wrong-destination': 2 });
  });

  it('keepalived 2.2.7 as the routed peer: each side takes the other\'s routed unicast adverts, failover both ways', async () => {
    const a = vipd('lb1', 150, { advert_int: 1 });
    await a.ready();
    await a.waitState('VI_U', 'MASTER', 8000);
    const k = new KeepalivedProc(lab, 'lb2', [
      { name: 'VI_U', interface: 'eth0', vrid: 51, priority: 100, advertInt: 1, version: 3, vips: [`${VIP}/32`], unicastSrc: LB2, unicastPeers: [LB1] },
    ]);
    stops.push(async () => {
      k.killHard();
      await k.waitExit();
    });
    await k.ready();
    await sleep(3000);
    expect(lab.hasAddress('lb2', VIP)).toBe(false);
    expect(k.log()).not.toMatch(/\(VI_U\) Entering MASTER STATE/);

    // vipd dies: keepalived takes over across the router.
    a.kill('SIGKILL');
    await a.wait();
    lab.ip('lb1', ['addr', 'del', `${VIP}/32`, 'dev', 'eth0'], true);
    await waitFor('keepalived to take the VIP', () => lab.hasAddress('lb2', VIP), 8000);
    expect(new Set(ttlsSeen('lb1', LB2, 2))).toEqual(new Set([254]));

    // vipd returns with 150 and keepalived's routed adverts (TTL 254) reach it: it preempts, keepalived yields.
    const a2 = vipd('lb1', 150, { advert_int: 1 });
    await a2.ready();
    await a2.waitState('VI_U', 'MASTER', 8000);
    await waitFor('keepalived to release the VIP', () => !lab.hasAddress('lb2', VIP), 5000);
    expect(await dropped(a2, 'VI_U')).toEqual({});
    expect((await a2.status()).vrrp.instances[0]!.counters.advertsReceived).toBeGreaterThan(0);
  });
});
