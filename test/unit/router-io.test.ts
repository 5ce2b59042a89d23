// The router's part of the fail-safe behaviour, with a fake host: a VRRP
// socket that cannot be opened puts the instances on that interface in FAULT
// (and their sync group with them), is not retried on every link event, and is
// reopened by the instances' retry.

import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config, VrrpInstanceConfig } from '../../src/config/types.js';
import type { Notifier } from '../../src/vrrp/notify.js';
import { type HostLinks, VrrpRouter } from '../../src/vrrp/router.js';
import type { VrrpSocket } from '../../src/vrrp/transport.js';
import { instanceConfig } from './fixtures.js';

const inst = (name: string, iface: string, address: string): VrrpInstanceConfig =>
  instanceConfig({ name, interface: iface, virtualIps: [{ address, prefix: 24, device: iface }] });

class FakeSocket extends EventEmitter {
  isClosed = false;
  counters = { received: 0, sent: 0, sendErrors: 0, dropped: {} };
  constructor(
    readonly ifname: string,
    readonly ifindex: number,
  ) {
    super();
  }
  send(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.isClosed = true;
  }
}

const LINKS: Record<string, number> = { eth0: 2, eth1: 3 };

function setup() {
  const state = { denied: new Set<string>(['eth1']), opens: [] as string[], onChange: () => undefined as void };
  const net: HostLinks = {
    link: (n) => (LINKS[n] ? { index: LINKS[n]!, mac: '02:00:00:00:00:01' } : undefined),
    linkState: (n) => (LINKS[n] ? { index: LINKS[n]!, usable: true } : undefined),
    primaryIpv4: (n) => (n === 'eth0' ? '10.0.0.1' : '10.1.0.1'),
    watch: (cb) => {
      state.onChange = cb;
      return { close: () => undefined };
    },
    addAddress: () => true,
    delAddress: () => true,
    sendGratuitousArp: () => undefined,
  };
  const logs: { level: number; msg: string; event?: string }[] = [];
  const router = new VrrpRouter({
    net,
    log: pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as (typeof logs)[number]) }),
    notifier: { notify: () => undefined } as unknown as Notifier,
    now: () => Date.now(),
    openSocket: (ifname, ifindex) => {
      state.opens.push(ifname);
      if (state.denied.has(ifname)) throw new Error('Operation not permitted');
      return new FakeSocket(ifname, ifindex) as unknown as VrrpSocket;
    },
  });
  const cfg = {
    instances: [inst('OUT', 'eth0', '10.0.0.100'), inst('IN', 'eth1', '10.1.0.100')],
    syncGroups: [{ name: 'G', instances: ['OUT', 'IN'], notify: {} }],
  } as unknown as Config;
  return { router, cfg, state, logs };
}

const stateOf = (r: VrrpRouter, n: string) => r.status().instances.find((i) => i.name === n)!;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('router: a VRRP socket that cannot be opened', () => {
  it('FAULT for the instances on it and their sync group; one line; not retried per link event; reopened by the retry', async () => {
    const { router, cfg, state, logs } = setup();
    router.start(cfg);
    const why = 'cannot open the VRRP socket on eth1: EPERM (operation not permitted): vipd needs CAP_NET_RAW — run as root or under the shipped unit';
    expect(stateOf(router, 'IN')).toMatchObject({ state: 'FAULT', faults: [why], io: { reason: why, attempt: 1 } });
    expect(stateOf(router, 'OUT')).toMatchObject({ state: 'FAULT', faults: ['sync group in FAULT'] });
    expect(router.status().groups).toEqual([{ name: 'G', state: 'FAULT', members: ['OUT', 'IN'] }]);
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([`IN: ${why}`]);

    // Link events do not hammer the socket: only the instance's retry opens it again.
    state.onChange();
    state.onChange();
    expect(state.opens.filter((n) => n === 'eth1')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.opens.filter((n) => n === 'eth1')).toHaveLength(2);
    expect(stateOf(router, 'IN')).toMatchObject({ state: 'FAULT', io: { attempt: 2 } });
    expect(logs.filter((l) => l.level >= 50)).toHaveLength(1);

    // Allowed now: the next retry (2 s later) opens it; the group leaves FAULT and elects as usual.
    state.denied.clear();
    await vi.advanceTimersByTimeAsync(2000);
    expect(stateOf(router, 'IN').state).toBe('BACKUP');
    expect(stateOf(router, 'IN').io).toBeUndefined();
    expect(stateOf(router, 'OUT').state).toBe('BACKUP');
    await vi.advanceTimersByTimeAsync(400);
    expect(stateOf(router, 'IN').state).toBe('MASTER');
    expect(stateOf(router, 'OUT').state).toBe('MASTER');
    expect(router.status().groups[0]!.state).toBe('MASTER');
    await router.stop();
  });

  it('an instance restarted by a reload on that interface starts in FAULT, never taking over without a socket', async () => {
    const { router, cfg, logs } = setup();
    router.start(cfg);
    const next = { ...cfg, instances: [cfg.instances[0]!, { ...cfg.instances[1]!, vrid: 52 }] } as Config;
    expect(await router.reload(next)).toMatchObject({ restarted: ['IN'] });
    expect(stateOf(router, 'IN')).toMatchObject({ state: 'FAULT', vrid: 52, io: { attempt: 1 } });
    await vi.advanceTimersByTimeAsync(500);
    expect(stateOf(router, 'IN').state).toBe('FAULT');
    expect(logs.filter((l) => l.event === 'vrrp-transition' && /^IN /.test(l.msg)).map((l) => l.msg.replace(/:.*/, ''))).toEqual([
      'IN INIT -> FAULT',
      'IN FAULT -> STOP',
      'IN INIT -> FAULT',
    ]);
    await router.stop();
  });
});
