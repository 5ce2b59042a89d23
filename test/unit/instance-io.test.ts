// The instance shell's I/O faults with a fake host and a fake VRRP socket (no
// root): a VIP that cannot be added, an advert that cannot be sent, ARP that
// fails, a socket that cannot be opened — FAULT with one log line naming the
// fix, the resignation, no VIP kept, the retry, and the recovery.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { VrrpInstanceConfig } from '../../src/config/types.js';
import { NetlinkError } from '../../src/net/netlink.js';
import { type InstanceDeps, VrrpInstance } from '../../src/vrrp/instance.js';
import type { HostNet } from '../../src/vrrp/vips.js';
import type { Notifier } from '../../src/vrrp/notify.js';
import { decodeAdvert } from '../../src/vrrp/packet.js';
import type { VrrpSocket } from '../../src/vrrp/transport.js';
import { instanceConfig } from './fixtures.js';

const VIP = '10.0.0.100';

const config = (o: Partial<VrrpInstanceConfig> = {}): VrrpInstanceConfig => instanceConfig({ virtualIps: [{ address: VIP, prefix: 24, device: 'eth0' }], ...o });

/** A fake host and socket whose failures the test switches on and off. */
class Harness {
  addresses = new Set<string>();
  addError: Error | undefined;
  sendError: Error | undefined;
  arpError: Error | undefined;
  socketError: string | undefined;
  caps = { CAP_NET_ADMIN: true, CAP_NET_RAW: true };
  sent: number[] = [];
  arps = 0;
  /** Address and firewall operations in order (no_accept's rules come before the VIPs and go after them). */
  order: string[] = [];
  logs: { level: number; msg: string; event?: string }[] = [];
  readonly inst: VrrpInstance;

  constructor(cfg = config()) {
    const net: HostNet = {
      link: (name) => (name === 'eth0' ? { index: 2, mac: '02:00:00:00:00:01' } : undefined),
      addAddress: ({ address, prefix }) => {
        if (this.addError) throw this.addError;
        this.order.push(`add ${address}`);
        this.addresses.add(`${address}/${prefix}`);
        return true;
      },
      delAddress: ({ address, prefix }) => {
        if (this.addresses.has(`${address}/${prefix}`)) this.order.push(`del ${address}`);
        return this.addresses.delete(`${address}/${prefix}`);
      },
      sendGratuitousArp: () => {
        if (this.arpError) throw this.arpError;
        this.arps++;
      },
    };
    const socket = {
      isClosed: false,
      send: (_src: string, dst: string, payload: Buffer) => {
        const d = decodeAdvert(payload, '10.0.0.1', dst);
        if (d.ok) this.sent.push(d.advert.priority);
        return this.sendError ? Promise.reject(this.sendError) : Promise.resolve();
      },
    } as unknown as VrrpSocket;
    const log = pino({ level: 'debug' }, { write: (s: string) => void this.logs.push(JSON.parse(s) as Harness['logs'][number]) });
    const deps: InstanceDeps = {
      net,
      log,
      notifier: { notify: () => undefined } as unknown as Notifier,
      socket: () => (this.socketError ? undefined : socket),
      retrySocket: () => this.socketError,
      hasCap: (cap) => this.caps[cap],
      firewall: {
        block: (owner, addrs) => void this.order.push(`block ${owner} ${addrs.join(',')}`),
        unblock: (owner) => void this.order.push(`unblock ${owner}`),
      },
      now: () => Date.now(),
      onTransition: () => undefined,
    };
    this.inst = new VrrpInstance(cfg, deps);
    this.inst.setLocalIp('10.0.0.1');
  }

  errors(): string[] {
    return this.logs.filter((l) => l.level >= 50).map((l) => l.msg);
  }

  transitions(): string[] {
    return this.logs.filter((l) => l.event === 'vrrp-transition').map((l) => l.msg.replace(/:.*/, ''));
  }
}

/** Let promise callbacks and immediates run (send results, the ARP burst). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Advance the fake clock and run what is due, then settle. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

// Master_Down_Interval at priority 100, 0.1 s adverts: 300 ms + 61 ms skew.
const MASTER_DOWN = 362;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('instance shell: I/O faults', () => {
  it('a VIP that cannot be added (EPERM): FAULT, resignation, one line with the fix; kept while CAP_NET_ADMIN is missing; recovers when it can', async () => {
    const h = new Harness();
    h.addError = new NetlinkError('EPERM', 1, `add address ${VIP}/24 to ifindex 2`);
    h.caps.CAP_NET_ADMIN = false;
    h.inst.start();
    await advance(MASTER_DOWN);
    const why = `cannot add VIP ${VIP}/24 to eth0: EPERM (operation not permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit`;
    expect(h.inst.state).toBe('FAULT');
    expect(h.transitions()).toEqual(['VI_1 INIT -> BACKUP', 'VI_1 BACKUP -> MASTER', 'VI_1 MASTER -> FAULT']);
    expect(h.errors()).toEqual([`VI_1: ${why}`]);
    expect(h.sent).toEqual([100, 0]); // the takeover's advert, then the resignation
    expect(h.arps).toBe(0);
    const st = h.inst.status();
    expect(st).toMatchObject({ state: 'FAULT', faults: [why], vipsHeld: false, io: { reason: why, attempt: 1 } });
    expect(st.io!.retryInMs).toBeGreaterThan(990);
    expect(st.io!.retryInMs).toBeLessThanOrEqual(1000);

    // The capability is still missing: the check keeps FAULT without another takeover or log line.
    await advance(1000 + 2000 + 100);
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.status().io).toMatchObject({ attempt: 3 });
    expect(h.sent).toEqual([100, 0]);
    expect(h.errors()).toHaveLength(1);

    // The cause goes: at the next check (4 s later) BACKUP, then master after Master_Down_Interval, with the VIP.
    h.addError = undefined;
    h.caps.CAP_NET_ADMIN = true;
    await advance(3800); // the checks ran at about 1.36 s and 3.36 s; the next is due at 7.36 s
    expect(h.inst.state).toBe('FAULT');
    await advance(200);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.status().lastReason).toBe(`recovered from: ${why}`);
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('MASTER');
    expect([...h.addresses]).toEqual([`${VIP}/24`]);
    expect(h.arps).toBe(1);
    expect(h.inst.status().io).toBeUndefined();
  });

  it('a kernel refusal with nothing to see from outside (EINVAL, scope): the check lets it take part in the election again, and it fails again', async () => {
    const h = new Harness();
    h.addError = new NetlinkError('EINVAL', 22, `add address ${VIP}/24 to ifindex 2`, 'ipv4: Invalid scope value.');
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('FAULT');
    expect(h.errors()).toEqual([
      `VI_1: cannot add VIP ${VIP}/24 to eth0: EINVAL (invalid argument: ipv4: Invalid scope value): eth0 has another address in the same subnet with a different scope: remove it or give the VIP another prefix (ip -4 addr show dev eth0)`,
    ]);
    await advance(1000);
    expect(h.inst.state).toBe('BACKUP');
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.status().io).toMatchObject({ attempt: 2 });
    expect(h.inst.status().io!.retryInMs).toBeGreaterThan(1990);
    expect(h.errors()).toHaveLength(1); // the same failure again: no new line
    expect(h.addresses.size).toBe(0);
  });

  it('an advert that cannot be sent (EHOSTUNREACH from the transport): FAULT, the VIP released, no gratuitous ARP', async () => {
    const h = new Harness(config({ unicastPeers: ['10.0.0.2'] }));
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('MASTER');
    expect(h.arps).toBe(1);
    h.sendError = new Error('No route to host'); // raw-socket reports strerror() only
    await advance(100);
    expect(h.inst.state).toBe('FAULT');
    expect(h.errors()).toEqual([
      'VI_1: cannot send adverts on eth0 to 10.0.0.2: EHOSTUNREACH (host is unreachable): no route to 10.0.0.2 on eth0: check "ip route get 10.0.0.2" (an unreachable or blackhole route?)',
    ]);
    expect(h.addresses.size).toBe(0);
    expect(h.inst.status().counters.sendErrors).toBe(2); // the advert and the resignation
    // Fixed: back at the next check, master again after Master_Down_Interval.
    h.sendError = undefined;
    await advance(1000);
    expect(h.inst.state).toBe('BACKUP');
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('MASTER');
    expect(h.addresses.size).toBe(1);
  });

  it('a takeover whose advert fails holds the VIP only until the failure is known and announces nothing', async () => {
    const h = new Harness();
    h.sendError = new Error('Operation not permitted');
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('FAULT');
    expect(h.arps).toBe(0);
    expect(h.addresses.size).toBe(0);
    expect(h.errors()[0]).toMatch(/cannot send adverts on eth0 to 224\.0\.0\.18: EPERM \(operation not permitted\): a firewall rule \(nftables\/iptables OUTPUT\) drops VRRP, IP protocol 112: allow it$/);
  });

  it('gratuitous ARP that fails (ENETDOWN): FAULT, resignation', async () => {
    const h = new Harness();
    h.arpError = Object.assign(new Error('packetSend: Network is down'), { code: 'ENETDOWN' });
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('FAULT');
    expect(h.sent).toEqual([100, 0]);
    expect(h.addresses.size).toBe(0);
    expect(h.errors()).toEqual([`VI_1: cannot announce VIP ${VIP}/24 on eth0 (gratuitous ARP): ENETDOWN (network is down): eth0 is down: bring it up (ip link set eth0 up)`]);
  });

  it('no socket (it could not be opened): FAULT at start, the retry reopens it', async () => {
    const h = new Harness();
    const line = 'cannot open the VRRP socket on eth0: EPERM (operation not permitted): vipd needs CAP_NET_RAW — run as root or under the shipped unit';
    h.socketError = line;
    h.inst.socketFailed(new Error('Operation not permitted'));
    h.inst.start();
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.status()).toMatchObject({ faults: [line], lastReason: `fault at start: ${line}` });
    expect(h.errors()).toEqual([`VI_1: ${line}`]);
    await advance(1000 + 2000);
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.status().io?.attempt).toBe(3);
    expect(h.errors()).toHaveLength(1);
    h.socketError = undefined;
    await advance(4000);
    expect(h.inst.state).toBe('BACKUP');
  });

  it('no IPv4 source address: a master cannot advertise — FAULT until an address appears', async () => {
    const h = new Harness();
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('MASTER');
    h.inst.setLocalIp(undefined);
    await advance(100);
    expect(h.inst.state).toBe('FAULT');
    expect(h.errors()).toEqual(['VI_1: cannot send adverts on eth0: it has no IPv4 address: add one or set unicast_src_ip']);
    await advance(1000);
    expect(h.inst.state).toBe('FAULT');
    h.inst.setLocalIp('10.0.0.1');
    await advance(2000);
    expect(h.inst.state).toBe('BACKUP');
  });
});

describe('instance shell: a peer that speaks differently', () => {
  const advert = (version: 2 | 3) => ({
    advert: { version, vrid: 51, priority: 200, intervalCs: 100, addresses: [VIP], authType: 0, authData: Buffer.alloc(8) },
    src: '10.0.0.2',
    dst: '224.0.0.18',
    ttl: 255,
    tos: 0,
    checksum: 'pseudo-header' as const,
  });
  const warnings = (h: Harness) => h.logs.filter((l) => l.level === 40).map((l) => l.msg);

  it('a VRRPv2 peer on a v3 instance (keepalived left at its default): one warning naming the fix, again only after a minute; every drop counted', async () => {
    const h = new Harness();
    h.inst.start();
    for (let i = 0; i < 5; i++) h.inst.onPacket(advert(2));
    expect(warnings(h)).toEqual([
      'VI_1: adverts dropped: VRRPv2 from 10.0.0.2, this instance runs v3; both sides must speak the same VRRP version: set version on this instance to match the peer (keepalived defaults to vrrp_version 2, vipd to 3)',
    ]);
    expect(h.inst.status().counters.dropped['version-mismatch']).toBe(5);
    await advance(30_000);
    h.inst.onPacket(advert(2));
    expect(warnings(h)).toHaveLength(1);
    await advance(31_000);
    h.inst.onPacket(advert(2));
    expect(warnings(h)).toHaveLength(2);
    // The same peer speaking our version is heard: no warning, and it wins the election (priority 200).
    h.inst.onPacket(advert(3));
    expect(warnings(h)).toHaveLength(2);
    expect(h.inst.status().masterIp).toBe('10.0.0.2');
  });

  it('our own advert coming back is routine: no warning', () => {
    const h = new Harness();
    h.inst.start();
    h.inst.onPacket({ ...advert(3), src: '10.0.0.1' });
    expect(h.inst.status().counters.dropped['own-advert']).toBe(1);
    expect(warnings(h)).toEqual([]);
  });
});

describe('instance shell: no_accept (RFC 5798 Accept_Mode off)', () => {
  it('the drop rules are in place before the VIPs are added and go after they are removed', async () => {
    const h = new Harness(config({ accept: false, excludedIps: [{ address: '2001:db8::1', prefix: 64, device: 'eth0' }] }));
    h.inst.start();
    await advance(MASTER_DOWN);
    expect(h.inst.state).toBe('MASTER');
    h.inst.force('BACKUP', 'test');
    await settle();
    expect(h.order).toEqual([`block VI_1 ${VIP},2001:db8::1`, `add ${VIP}`, 'add 2001:db8::1', `del ${VIP}`, 'del 2001:db8::1', 'unblock VI_1']);
  });

  it('accept mode (the default) and the address owner (priority 255) drop nothing', async () => {
    for (const cfg of [config(), config({ accept: false, priority: 255 })]) {
      const h = new Harness(cfg);
      h.inst.start();
      await advance(MASTER_DOWN);
      expect(h.inst.state).toBe('MASTER');
      expect(h.order).toEqual([`add ${VIP}`]);
    }
  });

  it('a reload to accept while master removes the rules; back to no_accept puts them back', async () => {
    const h = new Harness(config({ accept: false }));
    h.inst.start();
    await advance(MASTER_DOWN);
    h.inst.reconfigure(config({ accept: true }));
    h.inst.reconfigure(config({ accept: false }));
    expect(h.order).toEqual([`block VI_1 ${VIP}`, `add ${VIP}`, 'unblock VI_1', `block VI_1 ${VIP}`]);
  });
});
