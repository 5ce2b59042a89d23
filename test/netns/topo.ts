// The standard lab of the VRRP tests and the failover benchmark: two directors
// (lb1, lb2) and a client (cl) on one LAN (br0, 10.99.0.0/24), plus a second
// LAN (br1, 10.98.0.0/24) for tracked interfaces and sync groups.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { Lab } from './lab.js';

export const VIP = '10.99.0.100';
export const VIP2 = '10.98.0.100';
export const LB1 = '10.99.0.11';
export const LB2 = '10.99.0.12';
export const CLIENT = '10.99.0.50';

export function directorsLab(id: string): Lab {
  const lab = new Lab(id);
  lab.addHost('lb1', [
    { ifname: 'eth0', bridge: 'br0', cidr: `${LB1}/24` },
    { ifname: 'eth1', bridge: 'br1', cidr: '10.98.0.11/24' },
  ]);
  lab.addHost('lb2', [
    { ifname: 'eth0', bridge: 'br0', cidr: `${LB2}/24` },
    { ifname: 'eth1', bridge: 'br1', cidr: '10.98.0.12/24' },
  ]);
  lab.addHost('cl', [
    { ifname: 'eth0', bridge: 'br0', cidr: `${CLIENT}/24` },
    { ifname: 'eth1', bridge: 'br1', cidr: '10.98.0.50/24' },
  ]);
  return lab;
}

/** A vipd VRRP instance in YAML form with test-friendly defaults (0.1 s adverts, one GARP burst). */
export function instance(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    interface: 'eth0',
    vrid: 51,
    priority: 100,
    advert_int: 0.1,
    virtual_ipaddress: [`${VIP}/24`],
    garp_master_delay: 0,
    ...over,
  };
}

/** A config with one instance, VI_1: `instance(over)`. */
export const single = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ vrrp_instances: { VI_1: instance(over) } });

/** The directors (lb1, lb2) that hold `ip`: exactly one, in a healthy pair. */
export const holders = (lab: Lab, ip = VIP): string[] => ['lb1', 'lb2'].filter((h) => lab.hasAddress(h, ip));

/** A process a test started: killed after the test, and waited for. */
export interface Started {
  kill(): void;
  wait(): Promise<unknown>;
}

/**
 * The directors lab of one test file: built before its tests; after each test the
 * processes it started are killed and the VIP taken off both directors; torn down at the end.
 */
export function directorsLabForFile(id: string): { lab: () => Lab; started: (p: Started) => void } {
  let lab: Lab | undefined;
  const procs: Started[] = [];
  beforeAll(() => {
    lab = directorsLab(id);
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      p.kill();
      await p.wait().catch(() => undefined);
    }
    for (const h of ['lb1', 'lb2']) lab!.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return { lab: () => lab!, started: (p) => void procs.push(p) };
}

