// The state machine's I/O-fault rules (a socket, advert, VIP or ARP that
// fails), with an injected clock: FAULT, resignation, the retry backoff, the
// recovery into a normal election, and how it combines with link faults.

import { describe, expect, it } from 'vitest';
import { type Action, type FsmConfig, ioRetryDelayMs } from '../../src/vrrp/fsm-types.js';
import { VrrpFsm } from '../../src/vrrp/fsm.js';
import { groupFaults } from '../../src/vrrp/syncgroup.js';
import { fsmConfig } from './fixtures.js';

const LOCAL = '10.0.0.1';
const WHY = 'cannot add VIP 10.0.0.100/24 to eth0: EPERM (operation not permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit';

const cfg = (o: Partial<FsmConfig> = {}): FsmConfig => fsmConfig({ garp: { ...fsmConfig().garp, repeatDelayMs: 0, refreshMs: 0 }, ...o });

const armed = (acts: Action[], timer: string) => (acts.find((a) => a.kind === 'arm-timer' && a.timer === timer) as { at: number } | undefined)?.at;
const transition = (acts: Action[]) => acts.find((a) => a.kind === 'transition') as Extract<Action, { kind: 'transition' }> | undefined;
const kinds = (acts: Action[]) => acts.filter((a) => a.kind !== 'cancel-timer').map((a) => (a.kind === 'send-advert' ? `send-advert ${a.priority}` : a.kind === 'arm-timer' ? `arm ${a.timer}` : a.kind));

function backup(o: Partial<FsmConfig> = {}): VrrpFsm {
  const f = new VrrpFsm(cfg(o), LOCAL);
  f.start(0);
  return f;
}

function master(o: Partial<FsmConfig> = {}): VrrpFsm {
  const f = backup(o);
  f.onTimer('master-down', f.masterDownMs());
  expect(f.state).toBe('MASTER');
  return f;
}

describe('I/O faults', () => {
  it('backoff: 1 s doubling to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(ioRetryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('a master that cannot do its job resigns with priority 0, releases its VIPs, goes to FAULT and arms the retry at +1 s', () => {
    const f = master();
    const acts = f.ioFailed(WHY, 5000);
    expect(kinds(acts)).toEqual(['send-advert 0', 'del-vips', 'arm io-retry', 'transition']);
    expect(acts.filter((a) => a.kind === 'cancel-timer').map((a) => (a as { timer: string }).timer)).toEqual(
      expect.arrayContaining(['advert', 'master-down', 'garp-repeat', 'garp-refresh']),
    );
    expect(armed(acts, 'io-retry')).toBe(6000);
    expect(transition(acts)).toMatchObject({ from: 'MASTER', to: 'FAULT', reason: WHY });
    expect(f.state).toBe('FAULT');
    expect(f.status()).toMatchObject({ state: 'FAULT', faults: [WHY], io: { reason: WHY, attempt: 1, retryAt: 6000 } });
    expect(f.ownFault).toBe(true);
    // In FAULT the adverts of others are ignored and a timer left over does nothing.
    expect(f.onTimer('master-down', 7000)).toEqual([]);
    expect(f.onTimer('advert', 7000)).toEqual([]);
  });

  it('a backup goes to FAULT without sending anything', () => {
    const f = backup();
    const acts = f.ioFailed(WHY, 100);
    expect(kinds(acts)).toEqual(['del-vips', 'arm io-retry', 'transition']);
    expect(transition(acts)).toMatchObject({ from: 'BACKUP', to: 'FAULT' });
  });

  it('the retry asks the shell to check; a failed check keeps FAULT and doubles the wait, up to 30 s, without a transition', () => {
    const f = master();
    f.ioFailed(WHY, 0);
    let t = 1000;
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      expect(f.onTimer('io-retry', t)).toEqual([{ kind: 'check-io' }]);
      const acts = f.ioFailed(WHY, t);
      expect(transition(acts)).toBeUndefined();
      expect(kinds(acts)).toEqual(['arm io-retry']);
      waits.push(armed(acts, 'io-retry')! - t);
      t = armed(acts, 'io-retry')!;
    }
    expect(waits).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(f.status().io).toMatchObject({ attempt: 8, retryAt: t });
    expect(f.state).toBe('FAULT');
  });

  it('a second failure while the retry is pending (the resignation failing too) changes only the reason', () => {
    const f = master();
    f.ioFailed(WHY, 0);
    const acts = f.ioFailed('cannot send adverts on eth0 to 224.0.0.18: EPERM (operation not permitted): ...', 10);
    expect(acts).toEqual([]);
    expect(f.status().io).toMatchObject({ attempt: 1, retryAt: 1000, reason: expect.stringMatching(/^cannot send adverts/) });
  });

  it('recovered: BACKUP with the old reason named, then the election as usual (master after Master_Down_Interval)', () => {
    const f = master();
    f.ioFailed(WHY, 0);
    f.onTimer('io-retry', 1000);
    const acts = f.ioRecovered(1000);
    expect(transition(acts)).toMatchObject({ from: 'FAULT', to: 'BACKUP', reason: `recovered from: ${WHY}` });
    expect(acts).toContainEqual({ kind: 'cancel-timer', timer: 'io-retry' });
    expect(armed(acts, 'master-down')).toBeCloseTo(1000 + f.masterDownMs(), 9);
    expect(f.status().io).toBeUndefined();
    expect(f.faults()).toEqual([]);
    expect(f.ownFault).toBe(false);
    const up = f.onTimer('master-down', 1000 + f.masterDownMs());
    expect(transition(up)).toMatchObject({ to: 'MASTER' });
    expect(kinds(up).slice(0, 2)).toEqual(['send-advert 100', 'add-vips']);
    // Recovered twice is a no-op.
    expect(f.ioRecovered(9000)).toEqual([]);
  });

  it('failing again soon after a recovery continues the backoff; after 60 s without a failure it starts at 1 s again', () => {
    const f = master();
    f.ioFailed(WHY, 0); // attempt 1
    f.onTimer('io-retry', 1000);
    f.ioRecovered(1000);
    f.onTimer('master-down', 1000 + f.masterDownMs());
    const again = f.ioFailed(WHY, 5000); // attempt 2: the takeover failed the same way
    expect(armed(again, 'io-retry')).toBe(7000);
    f.onTimer('io-retry', 7000);
    f.ioRecovered(7000);
    f.onTimer('master-down', 7000 + f.masterDownMs());
    const later = f.ioFailed(WHY, 7000 + 60_000);
    expect(armed(later, 'io-retry')).toBe(7000 + 60_000 + 1000);
    expect(f.status().io?.attempt).toBe(1);
  });

  it('an address owner (255) that recovers becomes master at once', () => {
    const f = new VrrpFsm(cfg({ priority: 255 }), LOCAL);
    f.start(0);
    expect(f.state).toBe('MASTER');
    f.ioFailed(WHY, 10);
    f.onTimer('io-retry', 1010);
    const acts = f.ioRecovered(1010);
    expect(transition(acts)).toMatchObject({ from: 'FAULT', to: 'MASTER', reason: `recovered from: ${WHY}; address owner (priority 255)` });
  });

  it('a failure reported before start (the socket would not open) makes start() enter FAULT with the retry armed', () => {
    const f = new VrrpFsm(cfg(), LOCAL);
    const sock = 'cannot open the VRRP socket on eth0: EPERM (operation not permitted): vipd needs CAP_NET_RAW — run as root or under the shipped unit';
    expect(f.ioFailed(sock, 0)).toEqual([]);
    expect(f.ioFailed(sock, 0)).toEqual([]);
    const acts = f.start(50);
    expect(transition(acts)).toMatchObject({ from: 'INIT', to: 'FAULT', reason: `fault at start: ${sock}` });
    expect(armed(acts, 'io-retry')).toBe(1050);
    expect(f.status().io).toMatchObject({ attempt: 1 });
  });

  it('with a link fault too: FAULT stays until both are gone, in either order', () => {
    const f = master();
    f.setFaults(['interface eth0 is down'], 0);
    const io = f.ioFailed(WHY, 10);
    expect(transition(io)).toBeUndefined();
    expect(armed(io, 'io-retry')).toBe(1010);
    expect(f.faults()).toEqual(['interface eth0 is down', WHY]);
    f.onTimer('io-retry', 1010);
    expect(transition(f.ioRecovered(1010))).toBeUndefined();
    expect(f.state).toBe('FAULT');
    expect(transition(f.setFaults([], 2000))).toMatchObject({ from: 'FAULT', to: 'BACKUP', reason: 'fault cleared' });

    const g = master();
    g.ioFailed(WHY, 0);
    g.setFaults(['tracked interface eth1 is down'], 10);
    expect(transition(g.setFaults([], 20))).toBeUndefined();
    expect(g.state).toBe('FAULT');
    g.onTimer('io-retry', 1000);
    expect(transition(g.ioRecovered(1000))).toMatchObject({ to: 'BACKUP' });
  });

  it('links back while an I/O fault waits for its retry: checked at once (the failure may have been the link going down)', () => {
    const f = master();
    f.setFaults(['interface eth0 is down'], 0);
    f.ioFailed('cannot send adverts on eth0 to 224.0.0.18: ENETUNREACH (network is unreachable): ...', 5);
    f.onTimer('io-retry', 1005);
    f.ioFailed('cannot send adverts on eth0 to 224.0.0.18: ENETUNREACH (network is unreachable): ...', 1005); // retry at 3005
    const acts = f.setFaults([], 1500);
    expect(acts).toEqual([{ kind: 'cancel-timer', timer: 'io-retry' }, { kind: 'check-io' }]);
    expect(f.state).toBe('FAULT');
    expect(transition(f.ioRecovered(1500))).toMatchObject({ from: 'FAULT', to: 'BACKUP' });
    // The same link list again (every refresh sets it) asks for nothing.
    expect(f.setFaults([], 1600)).toEqual([]);
  });

  it('holds its sync group in FAULT like a link fault does', () => {
    const f = backup();
    f.ioFailed(WHY, 0);
    const members = [
      { name: 'VI_1', state: f.state, ownFault: f.ownFault },
      { name: 'VI_2', state: 'BACKUP' as const, ownFault: false },
    ];
    expect(groupFaults(members)).toEqual([
      { member: 'VI_1', kind: 'group-fault', on: false },
      { member: 'VI_2', kind: 'group-fault', on: true },
    ]);
  });

  it('a stale retry timer after recovery does nothing; stop() cancels the retry', () => {
    const f = backup();
    f.ioFailed(WHY, 0);
    f.onTimer('io-retry', 1000);
    f.ioRecovered(1000);
    expect(f.onTimer('io-retry', 2000)).toEqual([]);
    f.ioFailed(WHY, 3000);
    const acts = f.stop(3500);
    expect(acts).toContainEqual({ kind: 'cancel-timer', timer: 'io-retry' });
    expect(transition(acts)).toMatchObject({ to: 'INIT', stop: true });
  });
});
