// VRRPv3 over IPv6 against the real kernel: two vipd daemons (and keepalived
// 2.2.7) on one bridge with a client. Adverts from the link-local address to
// ff02::12 with hop limit 255, IPv6 VIPs (nodad) moving on kill -9 and on
// priority 0, unsolicited neighbour advertisements updating the client's
// neighbour cache, hop limit != 255 dropped and counted, IPv6 unicast peers,
// and an IPv4 instance moving an IPv6 address (virtual_ipaddress_excluded).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeepalivedProc } from './keepalived.js';
import { Lab, sleep, waitFor } from './lab.js';
import { VipdProc } from './vipd.js';

const VIP6 = 'fd00:99::100';
const VIP6B = 'fd00:99::200';
const VIP4 = '10.99.0.100';
const LB1 = 'fd00:99::11';
const LB2 = 'fd00:99::12';
const ADVERT = 0.1;
const masterDownMs = (prio: number) => 3 * ADVERT * 1000 + ((256 - prio) * ADVERT * 1000) / 256;
/** A crash costs the backup (priority 100) Master_Down_Interval from the last advert it heard: at least that minus one interval (and 20 ms of timer slack). */
const earliestTakeoverMs = masterDownMs(100) - ADVERT * 1000 - 20;

let lab: Lab;
const procs: { kill(): void; wait(): Promise<unknown> }[] = [];

function has6(host: string, ip: string): boolean {
  return lab.ip(host, ['-6', '-o', 'addr', 'show', 'dev', 'eth0'], true).split('\n').some((l) => l.includes(` ${ip}/`));
}

function neighbourMac6(host: string, ip: string): string | undefined {
  return /lladdr ([0-9a-f:]{17})/.exec(lab.ip(host, ['-6', 'neigh', 'show', ip, 'dev', 'eth0'], true))?.[1];
}

function ping6(host: string, ip: string): boolean {
  return lab.exec(host, 'ping', ['-6', '-n', '-q', '-c', '1', '-W', '1', ip], true) !== '';
}

function instance6(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { interface: 'eth0', vrid: 61, priority: 100, advert_int: ADVERT, virtual_ipaddress: [`${VIP6}/64`], garp_master_delay: 0, ...over };
}

function startVipd(host: string, inst: Record<string, unknown>): VipdProc {
  const p = new VipdProc(lab, host, { vrrp_instances: { VI_6: inst } });
  procs.push({ kill: () => p.kill('SIGKILL'), wait: () => p.wait() });
  return p;
}

/** Sends one VRRPv3 advert for VRID 61 from `host`'s link-local address with `hopLimit`; the kernel computes the checksum (IPV6_CHECKSUM at offset 6). */
function inject(host: string, priority: number, hopLimit: number, badChecksum = false): void {
  const py = `
import socket, sys
prio, hops, bad = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == '1'
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
if not bad: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 6)
msg = bytes([0x31, 61, prio, 1, 0, 10, 0xde if bad else 0, 0xad if bad else 0]) + socket.inet_pton(socket.AF_INET6, '${VIP6}')
s.sendto(msg, ('ff02::12', 0, 0, socket.if_nametoindex('eth0')))
`;
  lab.exec(host, 'python3', ['-c', py, String(priority), String(hopLimit), badChecksum ? '1' : '0']);
}

beforeAll(async () => {
  lab = new Lab('v6');
  lab.addHost('lb1', [{ ifname: 'eth0', bridge: 'br0', cidr: '10.99.0.11/24' }]);
  lab.addHost('lb2', [{ ifname: 'eth0', bridge: 'br0', cidr: '10.99.0.12/24' }]);
  lab.addHost('cl', [{ ifname: 'eth0', bridge: 'br0', cidr: '10.99.0.50/24' }]);
  for (const [h, a] of [['lb1', LB1], ['lb2', LB2], ['cl', 'fd00:99::50']] as const) lab.ip(h, ['-6', 'addr', 'add', `${a}/64`, 'dev', 'eth0', 'nodad']);
  // The link-local addresses (the adverts' source) leave duplicate address detection.
  await waitFor('link-local addresses out of DAD', () => ['lb1', 'lb2', 'cl'].every((h) => lab.ip(h, ['-6', 'addr', 'show', 'dev', 'eth0', 'tentative']).trim() === ''), 10_000, 100);
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill();
    await p.wait().catch(() => undefined);
  }
  for (const h of ['lb1', 'lb2']) for (const a of [`${VIP6}/64`, `${VIP6B}/64`, `${VIP4}/24`]) lab.ip(h, ['addr', 'del', a, 'dev', 'eth0'], true);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('VRRPv3 over IPv6 between two vipd daemons', () => {
  it('elects one master, which holds the VIP (nodad); kill -9 and SIGTERM move it, and its neighbour advertisements move the client', async () => {
    const a = startVipd('lb1', instance6({ priority: 150 }));
    const b = startVipd('lb2', instance6({ priority: 100 }));
    await a.ready();
    await b.ready();
    await a.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    await b.waitState('VI_6', 'BACKUP', 3000);
    await sleep(5 * ADVERT * 1000);
    expect(await a.state('VI_6')).toBe('MASTER');
    expect(has6('lb1', VIP6)).toBe(true);
    expect(has6('lb2', VIP6)).toBe(false);
    expect(lab.ip('lb1', ['-6', 'addr', 'show', 'dev', 'eth0'])).toMatch(new RegExp(`${VIP6}/64 scope global nodad`));
    // The backup hears the master's adverts from its link-local address, none dropped.
    const st = (await b.status()).vrrp;
    const inst = st.instances[0]!;
    expect(inst.counters.advertsReceived).toBeGreaterThan(3);
    expect(inst.counters.dropped).toEqual({});
    expect(inst.localIp).toMatch(/^fe80::/);
    expect(st.interfaces[0]!.counters.dropped).toEqual({});
    expect(ping6('cl', VIP6)).toBe(true);
    expect(neighbourMac6('cl', VIP6)).toBe(lab.mac('lb1', 'eth0'));

    // kill -9: lb2 takes over after Master_Down_Interval; its NA moves the client's entry without traffic.
    let t0 = Date.now();
    a.kill('SIGKILL');
    await b.waitState('VI_6', 'MASTER', masterDownMs(100) + 3000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(earliestTakeoverMs);
    expect(took).toBeLessThan(masterDownMs(100) + 1000);
    await waitFor('lb2 to hold the VIP', () => has6('lb2', VIP6), 2000);
    await waitFor("the client's neighbour entry to move to lb2 (unsolicited NA)", () => neighbourMac6('cl', VIP6) === lab.mac('lb2', 'eth0'), 2000);
    expect((await b.status()).vrrp.instances[0]!.counters.garpsSent).toBeGreaterThanOrEqual(5);
    await a.wait();
    lab.ip('lb1', ['addr', 'del', `${VIP6}/64`, 'dev', 'eth0'], true); // a dead host's address is gone with it

    // lb1 returns and preempts; then SIGTERM: priority 0, lb2 takes over after its skew time.
    const c = startVipd('lb1', instance6({ priority: 150 }));
    await c.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    await waitFor('lb2 to release the VIP', () => !has6('lb2', VIP6), 2000);
    await waitFor("the client's neighbour entry back at lb1", () => neighbourMac6('cl', VIP6) === lab.mac('lb1', 'eth0'), 2000);
    t0 = Date.now();
    c.kill('SIGTERM');
    await b.waitState('VI_6', 'MASTER', 3000);
    expect(Date.now() - t0).toBeLessThan(masterDownMs(100) * 0.6 + 300);
    expect(await c.wait()).toBe(0);
    expect(has6('lb1', VIP6)).toBe(false);
    expect(String(b.transitions('VI_6').at(-1)!.reason)).toMatch(/priority 0/);
    expect(ping6('cl', VIP6)).toBe(true);
  });

  it('an advert with hop limit != 255 is dropped and counted; a kernel-checksummed one with 255 is accepted; a bad checksum is counted at the socket', async () => {
    const a = startVipd('lb1', instance6({ priority: 150 }));
    await a.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    // Priority 254 would take over if it were accepted.
    inject('cl', 254, 64);
    await waitFor('the hop-limit drop to be counted', async () => (await a.status()).vrrp.instances[0]!.counters.dropped.ttl === 1, 2000);
    expect(await a.state('VI_6')).toBe('MASTER');
    expect(a.logs.some((l) => l.event === 'advert-mismatch' && l.drop === 'ttl')).toBe(true);
    // Hop limit 255, checksum by the kernel's IPv6 pseudo-header rules: decoded (ours agree) and acted on.
    const before = (await a.status()).vrrp.instances[0]!.counters.advertsReceived;
    inject('cl', 1, 255);
    await waitFor('the advert to be received', async () => (await a.status()).vrrp.instances[0]!.counters.advertsReceived === before + 1, 2000);
    inject('cl', 254, 255, true);
    await waitFor('the bad checksum to be counted', async () => (await a.status()).vrrp.interfaces[0]!.counters.dropped['bad-checksum'] === 1, 2000);
    expect(await a.state('VI_6')).toBe('MASTER');
    expect((await a.status()).vrrp.instances[0]!.counters.dropped).toEqual({ ttl: 1 });
  });
});

describe('VRRPv3 over IPv6: interop with keepalived 2.2.7', () => {
  function startKeepalived(priority: number): KeepalivedProc {
    const k = new KeepalivedProc(lab, 'lb2', [{ name: 'VI_6', interface: 'eth0', vrid: 61, priority, advertInt: ADVERT, version: 3, vips: [`${VIP6}/64`] }]);
    procs.push({ kill: () => k.killHard(), wait: () => k.waitExit() });
    return k;
  }
  const kaHasVip = () => has6('lb2', VIP6);
  const kaMaster = (k: KeepalivedProc, from = 0) => /\(VI_6\) Entering MASTER STATE/.test(k.log().slice(from));

  it('vipd (150) master, keepalived (100) backup; kill -9 -> keepalived takes over; SIGTERM -> priority-0 handover', async () => {
    const p = startVipd('lb1', instance6({ priority: 150 }));
    await p.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    const k = startKeepalived(100);
    await k.ready();
    await sleep(10 * ADVERT * 1000);
    // keepalived accepts our IPv6 adverts (source, checksum, hop limit): it never takes over.
    expect(kaMaster(k)).toBe(false);
    expect(kaHasVip()).toBe(false);
    expect(has6('lb1', VIP6)).toBe(true);

    const mark = k.log().length;
    const t0 = Date.now();
    p.kill('SIGKILL');
    await waitFor('keepalived to take the IPv6 VIP', kaHasVip, masterDownMs(100) + 3000, 10);
    expect(Date.now() - t0).toBeGreaterThan(earliestTakeoverMs);
    await waitFor('keepalived to log MASTER', () => kaMaster(k, mark), 2000);
    await p.wait();
    lab.ip('lb1', ['addr', 'del', `${VIP6}/64`, 'dev', 'eth0'], true);

    const q = startVipd('lb1', instance6({ priority: 150 }));
    await q.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    await waitFor('keepalived to yield to the higher priority', () => !kaHasVip(), 3000);
    const t1 = Date.now();
    q.kill('SIGTERM');
    await waitFor('keepalived to take over on priority 0', kaHasVip, 3000, 10);
    expect(Date.now() - t1).toBeLessThan(masterDownMs(100) * 0.6 + 300);
    expect(await q.wait()).toBe(0);
  });

  it('keepalived (150) master, vipd (100) backup with nothing dropped; kill -9 -> vipd takes over; keepalived stops -> vipd on priority 0', async () => {
    const k = startKeepalived(150);
    await k.ready();
    const p = startVipd('lb1', instance6({ priority: 100 }));
    await waitFor(() => `keepalived to become master (${k.log().slice(-800)})`, kaHasVip, masterDownMs(150) + 5000);
    await p.waitState('VI_6', 'BACKUP', 3000);
    await sleep(10 * ADVERT * 1000);
    const inst = (await p.status()).vrrp.instances[0]!;
    expect(inst.state).toBe('BACKUP');
    expect(inst.counters.advertsReceived).toBeGreaterThan(5);
    expect(inst.counters.dropped).toEqual({});
    expect(has6('lb1', VIP6)).toBe(false);
    // keepalived's NA moved the client too (the entry is learnt by a ping first).
    expect(ping6('cl', VIP6)).toBe(true);
    expect(neighbourMac6('cl', VIP6)).toBe(lab.mac('lb2', 'eth0'));

    let t0 = Date.now();
    k.killHard();
    await p.waitState('VI_6', 'MASTER', masterDownMs(100) + 3000);
    expect(Date.now() - t0).toBeGreaterThan(earliestTakeoverMs);
    await waitFor("vipd's NA to move the client", () => neighbourMac6('cl', VIP6) === lab.mac('lb1', 'eth0'), 2000);
    await k.waitExit();
    lab.ip('lb2', ['addr', 'del', `${VIP6}/64`, 'dev', 'eth0'], true);

    const k2 = startKeepalived(150);
    await k2.ready();
    await p.waitState('VI_6', 'BACKUP', masterDownMs(150) + 5000);
    await waitFor('keepalived to hold the VIP', kaHasVip, 3000);
    t0 = Date.now();
    const stopping = k2.stop();
    await p.waitState('VI_6', 'MASTER', 3000);
    expect(Date.now() - t0).toBeLessThan(masterDownMs(100) * 0.6 + 300);
    await stopping;
    expect(String(p.transitions('VI_6').at(-1)!.reason)).toMatch(/priority 0/);
    expect(has6('lb1', VIP6)).toBe(true);
  });
});

describe('IPv6 unicast peers and virtual_ipaddress_excluded', () => {
  it('unicast: a pair with global unicast_src_ip / unicast_peer elects and fails over; a multicast speaker is dropped (wrong destination)', async () => {
    const uni = (src: string, peer: string, priority: number) => instance6({ priority, unicast_src_ip: src, unicast_peer: [peer] });
    const a = startVipd('lb1', uni(LB1, LB2, 150));
    const b = startVipd('lb2', uni(LB2, LB1, 100));
    await a.waitState('VI_6', 'MASTER', masterDownMs(150) + 5000);
    await b.waitState('VI_6', 'BACKUP', 3000);
    await sleep(5 * ADVERT * 1000);
    const inst = (await b.status()).vrrp.instances[0]!;
    expect(inst.localIp).toBe(LB2);
    expect(inst.counters.advertsReceived).toBeGreaterThan(3);
    expect(inst.counters.dropped).toEqual({});
    // The client, not a configured peer, claims priority 254 by multicast: a unicast instance takes
    // unicast adverts only (keepalived's rule), so it is dropped as wrong-destination.
    inject('cl', 254, 255);
    await waitFor('the rogue advert to be dropped', async () => (await a.status()).vrrp.instances[0]!.counters.dropped['wrong-destination'] === 1, 2000);
    expect(await a.state('VI_6')).toBe('MASTER');

    const t0 = Date.now();
    a.kill('SIGKILL');
    await b.waitState('VI_6', 'MASTER', masterDownMs(100) + 3000);
    expect(Date.now() - t0).toBeGreaterThan(earliestTakeoverMs);
    await waitFor('lb2 to hold the VIP', () => has6('lb2', VIP6), 2000);
  });

  it('dual stack: an IPv4 instance moves an IPv6 address with its VIP (virtual_ipaddress_excluded), advertising only the IPv4 one', async () => {
    const dual = (priority: number) => ({
      interface: 'eth0', vrid: 52, priority, advert_int: ADVERT, garp_master_delay: 0,
      virtual_ipaddress: [`${VIP4}/24`],
      virtual_ipaddress_excluded: [`${VIP6B}/64`],
    });
    const a = new VipdProc(lab, 'lb1', { vrrp_instances: { VI_D: dual(150) } });
    procs.push({ kill: () => a.kill('SIGKILL'), wait: () => a.wait() });
    const b = new VipdProc(lab, 'lb2', { vrrp_instances: { VI_D: dual(100) } });
    procs.push({ kill: () => b.kill('SIGKILL'), wait: () => b.wait() });
    await a.waitState('VI_D', 'MASTER', masterDownMs(150) + 5000);
    await b.waitState('VI_D', 'BACKUP', 3000);
    expect(lab.hasAddress('lb1', VIP4)).toBe(true);
    expect(has6('lb1', VIP6B)).toBe(true);
    expect(has6('lb2', VIP6B)).toBe(false);
    // On the wire: IPv4 VRRP carrying the IPv4 VIP alone.
    const wire = lab.exec('cl', 'timeout', ['3', 'tcpdump', '-c', '2', '-nv', '-i', 'eth0', 'ip proto 112'], true);
    expect(wire).toMatch(/addrs: 10\.99\.0\.100\b/);
    expect(wire).not.toMatch(/fd00/);
    expect(ping6('cl', VIP6B)).toBe(true);
    expect(neighbourMac6('cl', VIP6B)).toBe(lab.mac('lb1', 'eth0'));

    a.kill('SIGKILL');
    await b.waitState('VI_D', 'MASTER', masterDownMs(100) + 3000);
    expect(lab.hasAddress('lb2', VIP4)).toBe(true);
    expect(has6('lb2', VIP6B)).toBe(true);
    await waitFor("the client's entry for the excluded IPv6 address to move (NA)", () => neighbourMac6('cl', VIP6B) === lab.mac('lb2', 'eth0'), 2000);
    expect(lab.ip('lb2', ['-6', 'addr', 'show', 'dev', 'eth0'])).toMatch(new RegExp(`${VIP6B}/64 scope global nodad`));
    b.kill('SIGTERM');
    expect(await b.wait()).toBe(0);
    expect(has6('lb2', VIP6B)).toBe(false);
  });
});
