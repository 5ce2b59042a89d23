// keepalived's virtual_ipaddress options against the real kernel: what
// `ip -d addr` (JSON) shows on the master — brd, scope, peer, label,
// noprefixroute (no prefix route), home, nodad / -nodad, mngtmpaddr,
// preferred_lft (a /128 deprecated by default) — a reload that changes an
// option re-adds the address without leaving MASTER, and a graceful stop
// removes every one of them, the peer address too.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, waitFor } from './lab.js';
import { directorsLab, instance } from './topo.js';
import { Daemons } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  address?: string;
  broadcast?: string;
  scope: string;
  label?: string;
  [flag: string]: unknown;
}

/** The kernel's addresses on lb1's eth0, by local address. */
function kernel(): Map<string, AddrInfo> {
  const links = JSON.parse(lab.ip('lb1', ['-j', '-d', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: AddrInfo[] }[];
  return new Map(links.flatMap((l) => l.addr_info).map((a) => [a.local, a]));
}

const VIPS = [
  { address: '10.99.0.100/24', brd: '10.99.0.255', label: 'eth0:vip' },
  { address: '10.99.0.101', peer: '10.99.0.201', scope: 'link' },
  { address: '192.0.2.10/24', noprefixroute: true, scope: 200 },
];
const EXCLUDED = [
  { address: 'fd00:98::100/64', home: true, mngtmpaddr: true, noprefixroute: true, preferred_lft: 300 },
  'fd00:99::101/128',
  { address: 'fd00:99::102/64', nodad: false },
];
const cfg = (vips: unknown[] = VIPS) => ({ vrrp_instances: { VI_1: instance({ priority: 150, virtual_ipaddress: vips, virtual_ipaddress_excluded: EXCLUDED }) } });

beforeAll(() => {
  lab = directorsLab('vop');
});
afterEach(async () => {
  await daemons.killAll();
  for (const a of ['10.99.0.100/24', '10.99.0.101/32', '192.0.2.10/24', 'fd00:98::100/64', 'fd00:99::101/128', 'fd00:99::102/64']) lab.ip('lb1', ['addr', 'del', a, 'dev', 'eth0'], true);
});
afterAll(async () => {
  await lab?.destroy();
});

describe('virtual_ipaddress options in the kernel', () => {
  it('the master holds each address with exactly its options; a graceful stop removes them all', async () => {
    const a = daemons.start('lb1', cfg());
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    // DAD of the one added without nodad takes about a second.
    await waitFor('fd00:99::102 out of DAD', () => kernel().get('fd00:99::102')?.tentative !== true, 5000);
    const k = kernel();
    expect(k.get('10.99.0.100')).toMatchObject({ prefixlen: 24, broadcast: '10.99.0.255', scope: 'global', label: 'eth0:vip' });
    expect(k.get('10.99.0.101')).toMatchObject({ prefixlen: 32, address: '10.99.0.201', scope: 'link' });
    expect(k.get('192.0.2.10')).toMatchObject({ prefixlen: 24, scope: 'site', noprefixroute: true });
    expect(k.get('10.99.0.100')!.noprefixroute).toBeUndefined();
    expect(k.get('fd00:98::100')).toMatchObject({ prefixlen: 64, home: true, mngtmpaddr: true, noprefixroute: true, nodad: true, valid_life_time: 4294967295 });
    // A lifetime counts down from when the address was added (as with ip addr add ... preferred_lft 300).
    expect(k.get('fd00:98::100')!.preferred_life_time).toBeGreaterThan(290);
    expect(k.get('fd00:98::100')!.preferred_life_time).toBeLessThanOrEqual(300);
    expect(k.get('fd00:99::101')).toMatchObject({ prefixlen: 128, nodad: true, deprecated: true, preferred_life_time: 0 });
    expect(k.get('fd00:99::102')!.nodad).toBeUndefined(); // keepalived's -nodad: DAD ran
    expect(k.get('fd00:99::102')!.deprecated).toBeUndefined();
    // noprefixroute: no route for the prefix; the others have theirs (and the peer its host route).
    expect(lab.ip('lb1', ['route', 'show', '192.0.2.0/24']).trim()).toBe('');
    expect(lab.ip('lb1', ['-6', 'route', 'show', 'fd00:98::/64']).trim()).toBe('');
    expect(lab.ip('lb1', ['-6', 'route', 'show', 'fd00:99::/64'])).toContain('fd00:99::/64 dev eth0');
    expect(lab.ip('lb1', ['route', 'show', '10.99.0.201'])).toContain('10.99.0.201 dev eth0');

    a.kill('SIGTERM');
    expect(await a.wait()).toBe(0);
    const left = [...kernel().keys()].filter((x) => /^(10\.99\.0\.10|192\.0\.2\.10|fd00:9[89]::1)/.test(x));
    expect(left).toEqual([]);
  });

  it('a reload that changes an option re-adds the address with it, still MASTER', async () => {
    const a = daemons.start('lb1', cfg());
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    a.write(cfg([{ ...VIPS[0], brd: '10.99.0.254' }, VIPS[1], VIPS[2]]));
    a.kill('SIGHUP');
    await waitFor('the new broadcast address', () => kernel().get('10.99.0.100')?.broadcast === '10.99.0.254', 3000);
    expect(kernel().get('10.99.0.101')).toMatchObject({ address: '10.99.0.201' });
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(a.transitions('VI_1').map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
  });
});
