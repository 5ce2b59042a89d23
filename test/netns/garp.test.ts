// keepalived's GARP settings against the real kernel, seen on the wire at the
// client (tcpdump): garp_master_repeat spaced by garp_interval and the second
// burst after garp_master_delay; a lower-priority advert answered with
// garp_lower_prio_repeat and again after garp_lower_prio_delay (0: none, the
// advert answer regardless); global vrrp_min_garp; gna_interval spacing the
// unsolicited neighbour advertisements of an IPv6 address.

import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeAdvert, VRRP_MULTICAST_V4 } from '../../src/vrrp/packet.js';
import { vrrpIpHeader } from '../../src/vrrp/transport.js';
import { type Lab, sleep } from './lab.js';
import { CLIENT, directorsLab, instance, VIP } from './topo.js';
import { Daemons } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);
const VIP6 = 'fd00:99::100';

beforeAll(() => {
  lab = directorsLab('vgp');
});
afterEach(async () => {
  await daemons.killAll();
  for (const h of ['lb1', 'lb2']) lab.ip(h, ['addr', 'flush', 'dev', 'eth0', 'to', `${VIP}/32`], true);
});
afterAll(async () => {
  await lab?.destroy();
});

/** The gratuitous ARPs (who-has VIP tell VIP, broadcast) from lb1 the client sees, with kernel timestamps. */
async function arpsFromLb1(filter = 'arp'): Promise<{ stop(): Promise<{ t: number; line: string }[]> }> {
  const cap = await lab.capture('cl', 'eth0', `ether src ${lab.mac('lb1', 'eth0')} and (${filter})`);
  return { stop: async () => (await cap.stop()).filter((p) => p.line.includes(`who-has ${VIP}`) ? p.line.includes(`tell ${VIP}`) : true) };
}

/** One VRRPv3 advert for vrid 51 from the client at `priority` (a router that thinks it is master). */
function injectAdvert(priority: number): void {
  const payload = encodeAdvert({ version: 3, vrid: 51, priority, intervalCs: 10, addresses: [VIP], authType: 0, authData: Buffer.alloc(8) }, { src: CLIENT, dst: VRRP_MULTICAST_V4 });
  const pkt = Buffer.concat([vrrpIpHeader(CLIENT, VRRP_MULTICAST_V4, payload.length), payload]).toString('hex');
  lab.exec('cl', process.execPath, [fileURLToPath(new URL('./inject.mjs', import.meta.url)), 'eth0', pkt]);
}

const gapsMs = (ps: { t: number }[]) => ps.slice(1).map((p, i) => (p.t - ps[i]!.t) * 1000);
const arp = (ps: { line: string }[]) => ps.filter((p) => p.line.includes('ARP'));

describe('gratuitous ARP on the wire', () => {
  it('becoming master: garp_master_repeat ARPs garp_interval apart, the same again after garp_master_delay', async () => {
    const cap = await arpsFromLb1();
    const a = daemons.start('lb1', { vrrp_instances: { VI_1: instance({ priority: 150, garp_master_repeat: 3, garp_interval: 0.05, garp_master_delay: 1 }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    await sleep(1600);
    const seen = await cap.stop();
    console.log(`becoming master: ARPs at ${seen.map((p) => ((p.t - seen[0]!.t) * 1000).toFixed(0)).join(', ')} ms`);
    expect(seen).toHaveLength(6);
    const gaps = gapsMs(seen);
    for (const i of [0, 1, 3, 4]) expect(gaps[i]).toBeGreaterThanOrEqual(45); // garp_interval 0.05
    expect((seen[3]!.t - seen[0]!.t) * 1000).toBeGreaterThan(900); // garp_master_delay 1
    expect((seen[3]!.t - seen[0]!.t) * 1000).toBeLessThan(1300);
  });

  it('a lower-priority advert: garp_lower_prio_repeat ARPs at once and again after garp_lower_prio_delay; 0: none, the advert still answered', async () => {
    const a = daemons.start('lb1', { vrrp_instances: { VI_1: instance({ priority: 150, garp_master_repeat: 1, garp_lower_prio_repeat: 2, garp_lower_prio_delay: 1 }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    await sleep(300);
    const cap = await arpsFromLb1();
    injectAdvert(50);
    await sleep(1500);
    let seen = await cap.stop();
    console.log(`lower-priority advert: ARPs at ${seen.map((p) => ((p.t - seen[0]!.t) * 1000).toFixed(0)).join(', ')} ms`);
    expect(seen).toHaveLength(4);
    expect(gapsMs(seen)[1]).toBeGreaterThan(900);
    expect(gapsMs(seen)[1]).toBeLessThan(1300);
    expect(await a.state('VI_1')).toBe('MASTER');

    // garp_lower_prio_repeat 0 (reload in place): no ARP; answer_lower_priority still sends the advert at once.
    a.write({ vrrp_instances: { VI_1: instance({ priority: 150, garp_master_repeat: 1, garp_lower_prio_repeat: 0, garp_lower_prio_delay: 1 }) } });
    a.kill('SIGHUP');
    await sleep(300);
    const wire = await lab.capture('cl', 'eth0', `(ether src ${lab.mac('lb1', 'eth0')} and (arp or ip proto 112)) or (ip proto 112 and src ${CLIENT})`);
    injectAdvert(50);
    await sleep(1500);
    seen = await wire.stop();
    expect(arp(seen)).toHaveLength(0);
    const injected = seen.findIndex((p) => p.line.includes(`${CLIENT} > ${VRRP_MULTICAST_V4}`));
    expect(injected).toBeGreaterThanOrEqual(0);
    const answer = seen.slice(injected + 1).find((p) => p.line.includes('VRRP'))!;
    expect((answer.t - seen[injected]!.t) * 1000).toBeLessThan(30); // at once, not at the next 0.1 s tick
  });

  it('global vrrp_min_garp: one ARP on becoming master and one per lower-priority advert, no second bursts', async () => {
    const cap = await arpsFromLb1();
    const inst = instance({ priority: 150 });
    delete inst.garp_master_delay; // keepalived's default (5 s) unless vrrp_min_garp changes it
    const a = daemons.start('lb1', { global: { vrrp_min_garp: true }, vrrp_instances: { VI_1: inst } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    await sleep(500);
    injectAdvert(50);
    await sleep(5600); // past keepalived's default garp_master_delay and garp_lower_prio_delay (5 s)
    const seen = await cap.stop();
    expect(seen).toHaveLength(2);
  });

  it('gna_interval spaces the neighbour advertisements of an IPv6 address; garp_interval 0 sends the ARPs at once', async () => {
    const cap = await lab.capture('cl', 'eth0', `ether src ${lab.mac('lb1', 'eth0')} and (arp or (icmp6 and ip6[40] == 136))`);
    const a = daemons.start('lb1', { vrrp_instances: { VI_1: instance({ priority: 150, garp_master_repeat: 3, gna_interval: 0.1, virtual_ipaddress_excluded: [`${VIP6}/64`] }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    await sleep(800);
    const seen = await cap.stop();
    const nas = seen.filter((p) => p.line.includes('neighbor advertisement') && p.line.includes(`tgt is ${VIP6}`));
    console.log(`gna_interval 0.1: NAs at ${nas.map((p) => ((p.t - nas[0]!.t) * 1000).toFixed(0)).join(', ')} ms`);
    expect(nas).toHaveLength(3);
    for (const g of gapsMs(nas)) expect(g).toBeGreaterThanOrEqual(95);
    expect(arp(seen)).toHaveLength(3);
  });
});
