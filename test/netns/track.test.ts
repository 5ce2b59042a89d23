// Tracking between two real vipd daemons in network namespaces, keepalived's
// meanings: track_interface weights, vrrp_script / track_script with real
// processes, track_file. Timings use 0.1 s adverts.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab } from './lab.js';
import { directorsLab, instance, VIP, VIP2 } from './topo.js';
import { VipdProc } from './vipd.js';

let lab: Lab;
const running: VipdProc[] = [];

function vipd(host: string, config: Record<string, unknown>): VipdProc {
  const p = new VipdProc(lab, host, config);
  running.push(p);
  return p;
}

const single = (over: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({ ...top, vrrp_instances: { VI_1: instance(over) } });

function holder(): string[] {
  return ['lb1', 'lb2'].filter((h) => lab.hasAddress(h, VIP));
}

async function effective(p: VipdProc): Promise<number> {
  return (await p.status()).vrrp.instances[0]!.effectivePriority;
}

beforeAll(() => {
  lab = directorsLab('tk');
});

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.wait().catch(() => undefined);
  }
  for (const h of ['lb1', 'lb2']) {
    lab.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
    lab.ip(h, ['addr', 'del', `${VIP2}/24`, 'dev', 'eth1'], true);
    lab.setCable(h, 'eth0', true);
    lab.setCable(h, 'eth1', true);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('track_interface, keepalived weights', () => {
  it('a positive weight raises the priority while the link is up and is lost when it goes down', async () => {
    // lb1 100 + 60 while eth1 is up = 160 > lb2's 120: lb1 is master; eth1 down: 100 < 120, lb2 preempts.
    const a = vipd('lb1', single({ priority: 100, track_interface: [{ name: 'eth1', weight: 60 }] }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    expect(await effective(a)).toBe(160);
    const b = vipd('lb2', single({ priority: 120 }));
    await b.ready();
    await b.waitState('VI_1', 'BACKUP', 3000);
    lab.setCable('lb1', 'eth1', false);
    await b.waitState('VI_1', 'MASTER', 3000);
    await a.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(100);
    expect(holder()).toEqual(['lb2']);
    lab.setCable('lb1', 'eth1', true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(160);
    expect(holder()).toEqual(['lb1']);
  });
});
