// Every rule of ../shared/design/vrrp-notes.md on the pure state machine,
// with an injected clock: exact actions, exact timer deadlines.

import { describe, expect, it } from 'vitest';
import type { Action, FsmConfig, ReceivedAdvert } from '../../src/vrrp/fsm-types.js';
import { VrrpFsm } from '../../src/vrrp/fsm.js';
import { authDataFromPassword } from '../../src/vrrp/packet.js';
import { fsmConfig } from './fixtures.js';

const LOCAL = '10.0.0.1';
const PEER = '10.0.0.2'; // numerically higher than LOCAL

const cfg = fsmConfig;

function adv(priority: number, o: Partial<ReceivedAdvert['advert']> = {}, rx: Partial<Omit<ReceivedAdvert, 'advert'>> = {}): ReceivedAdvert {
  return {
    advert: { version: 3, vrid: 51, priority, intervalCs: 100, addresses: ['10.0.0.100'], authType: 0, authData: Buffer.alloc(8), ...o },
    src: PEER,
    dst: '224.0.0.18',
    ttl: 255,
    ...rx,
  };
}

const armed = (acts: Action[], timer: string) => acts.find((a) => a.kind === 'arm-timer' && a.timer === timer) as { at: number } | undefined;
const transition = (acts: Action[]) => acts.find((a) => a.kind === 'transition') as Extract<Action, { kind: 'transition' }> | undefined;
const sent = (acts: Action[]) => acts.filter((a) => a.kind === 'send-advert').map((a) => (a as { priority: number }).priority);
const has = (acts: Action[], kind: Action['kind']) => acts.some((a) => a.kind === kind);
const drop = (acts: Action[]) => (acts.find((a) => a.kind === 'drop') as { reason: string } | undefined)?.reason;

/** A backup started at t=0. */
function backup(o: Partial<FsmConfig> = {}, local = LOCAL): VrrpFsm {
  const f = new VrrpFsm(cfg(o), local);
  f.start(0);
  return f;
}

/** A master: started at 0, master after its down timer. */
function master(o: Partial<FsmConfig> = {}, local = LOCAL): VrrpFsm {
  const f = backup(o, local);
  f.onTimer('master-down', f.masterDownMs());
  expect(f.state).toBe('MASTER');
  return f;
}

describe('timers', () => {
  it('Skew_Time and Master_Down_Interval (v3 scales with the interval, v2 in seconds)', () => {
    expect(new VrrpFsm(cfg()).skewMs()).toBeCloseTo(609.375, 9);
    expect(new VrrpFsm(cfg()).masterDownMs()).toBeCloseTo(3609.375, 9);
    expect(new VrrpFsm(cfg({ advertIntervalCs: 10 })).masterDownMs()).toBeCloseTo(360.9375, 9);
    expect(new VrrpFsm(cfg({ priority: 150 })).skewMs()).toBeCloseTo(414.0625, 9);
    expect(new VrrpFsm(cfg({ version: 2, advertIntervalCs: 200 })).skewMs()).toBeCloseTo(609.375, 9);
    expect(new VrrpFsm(cfg({ version: 2, advertIntervalCs: 200 })).masterDownMs()).toBeCloseTo(6609.375, 9);
  });
});

describe('startup and becoming master', () => {
  it('starts as backup, removes stale VIPs and arms Master_Down_Interval', () => {
    const f = new VrrpFsm(cfg(), LOCAL);
    const acts = f.start(1000);
    expect(f.state).toBe('BACKUP');
    expect(transition(acts)).toMatchObject({ from: 'INIT', to: 'BACKUP', reason: 'startup' });
    expect(has(acts, 'del-vips')).toBe(true);
    expect(has(acts, 'add-vips')).toBe(false);
    expect(armed(acts, 'master-down')!.at).toBeCloseTo(4609.375, 9);
    expect(sent(acts)).toEqual([]);
  });

  it('master-down timer -> MASTER: advert first, then VIPs, then gratuitous ARP; next advert and second GARP burst armed', () => {
    const f = backup();
    const acts = f.onTimer('master-down', 3609.375);
    expect(f.state).toBe('MASTER');
    const order = acts.filter((a) => ['send-advert', 'add-vips', 'garp'].includes(a.kind)).map((a) => a.kind);
    expect(order).toEqual(['send-advert', 'add-vips', 'garp']);
    expect(sent(acts)).toEqual([100]);
    expect(armed(acts, 'advert')!.at).toBeCloseTo(4609.375, 9);
    expect(armed(acts, 'garp-repeat')!.at).toBeCloseTo(8609.375, 9);
    expect(transition(acts)!.reason).toMatch(/no master heard for 3.609s/);
  });

  it('a master sends an advert every interval and repeats the GARP burst once', () => {
    const f = master();
    const t = f.masterDownMs();
    const a1 = f.onTimer('advert', t + 1000);
    expect(sent(a1)).toEqual([100]);
    expect(armed(a1, 'advert')!.at).toBeCloseTo(t + 2000, 9);
    expect(f.onTimer('garp-repeat', t + 5000)).toEqual([{ kind: 'garp', reason: 'second burst (garp_master_delay)', count: 5 }]);
  });

  it('adverts stay on their grid: a late timer does not push the following ones back', () => {
    const f = master();
    const t0 = f.masterDownMs();
    // Fired 3 ms late: the next one is still due at t0 + 2000, not t0 + 2003.
    expect(armed(f.onTimer('advert', t0 + 1003), 'advert')!.at).toBeCloseTo(t0 + 2000, 9);
    // More than a whole interval late (a stalled host): restart the grid from now.
    expect(armed(f.onTimer('advert', t0 + 3500), 'advert')!.at).toBeCloseTo(t0 + 4500, 9);
  });

  it('garp_master_refresh re-announces periodically while master', () => {
    const f = master({ garp: { ...cfg().garp, repeatDelayMs: 0, refreshMs: 60_000 } });
    const acts = f.onTimer('garp-refresh', 70_000);
    expect(has(acts, 'garp')).toBe(true);
    expect(armed(acts, 'garp-refresh')!.at).toBe(130_000);
  });

  it('priority 255 (address owner) becomes master at once', () => {
    const f = new VrrpFsm(cfg({ priority: 255 }), LOCAL);
    const acts = f.start(0);
    expect(f.state).toBe('MASTER');
    expect(sent(acts)).toEqual([255]);
    expect(has(acts, 'add-vips')).toBe(true);
    expect(transition(acts)!.reason).toMatch(/owner/);
  });

  it('timers that no longer apply are ignored', () => {
    const f = backup();
    expect(f.onTimer('advert', 10)).toEqual([]);
    expect(f.onTimer('garp-repeat', 10)).toEqual([]);
    const m = master();
    expect(m.onTimer('master-down', 99_999)).toEqual([]);
    expect(m.state).toBe('MASTER');
  });
});

describe('backup receiving adverts', () => {
  it('a higher-priority advert restarts Master_Down_Interval and records the master', () => {
    const f = backup();
    const acts = f.onAdvert(adv(200), 1000);
    expect(armed(acts, 'master-down')!.at).toBeCloseTo(4609.375, 9);
    expect(f.state).toBe('BACKUP');
    expect(f.status()).toMatchObject({ masterIp: PEER, masterPriority: 200 });
  });

  it('preempt (default): a lower-priority master is ignored, so the down timer fires and we take over', () => {
    const f = backup();
    const acts = f.onAdvert(adv(50), 1000);
    expect(armed(acts, 'master-down')).toBeUndefined();
    const t = f.onTimer('master-down', 3609.375);
    expect(f.state).toBe('MASTER');
    expect(transition(t)!.reason).toMatch(/master 10\.0\.0\.2 silent/);
  });

  it('nopreempt: a lower-priority master is obeyed', () => {
    const f = backup({ preempt: false });
    for (let t = 1000; t < 20_000; t += 1000) {
      const acts = f.onAdvert(adv(50), t);
      expect(armed(acts, 'master-down')!.at).toBeCloseTo(t + 3609.375, 9);
    }
    expect(f.state).toBe('BACKUP');
  });

  it('preempt_delay: obey a lower-priority master until the delay is over, then preempt at once', () => {
    const f = new VrrpFsm(cfg({ preemptDelayMs: 5000 }), LOCAL);
    const start = f.start(0);
    expect(armed(start, 'preempt-delay')!.at).toBe(5000);
    for (let t = 1000; t <= 4000; t += 1000) expect(armed(f.onAdvert(adv(50), t), 'master-down')).toBeDefined();
    expect(f.state).toBe('BACKUP');
    const acts = f.onTimer('preempt-delay', 5000);
    expect(f.state).toBe('MASTER');
    expect(transition(acts)!.reason).toMatch(/preempt_delay over, preempting 10\.0\.0\.2 \(priority 50\)/);
    // After the delay, a lower-priority advert is ignored again.
    const g = new VrrpFsm(cfg({ preemptDelayMs: 5000 }), LOCAL);
    g.start(0);
    expect(armed(g.onAdvert(adv(50), 6000), 'master-down')).toBeUndefined();
  });

  it('preempt_delay over with a higher-priority master: stays backup', () => {
    const f = new VrrpFsm(cfg({ preemptDelayMs: 5000 }), LOCAL);
    f.start(0);
    f.onAdvert(adv(200), 4000);
    expect(f.onTimer('preempt-delay', 5000)).toEqual([]);
    expect(f.state).toBe('BACKUP');
  });

  it('priority 0: the master resigns, we take over after Skew_Time', () => {
    const f = backup();
    f.onAdvert(adv(200), 1000);
    const acts = f.onAdvert(adv(0), 1500);
    expect(armed(acts, 'master-down')!.at).toBeCloseTo(1500 + 609.375, 9);
    const t = f.onTimer('master-down', 2109.375);
    expect(f.state).toBe('MASTER');
    expect(transition(t)!.reason).toMatch(/10\.0\.0\.2 resigned \(priority 0\)/);
  });

  it('v3: a backup adopts the master\'s advertised interval for Master_Down_Interval', () => {
    const f = backup();
    const acts = f.onAdvert(adv(200, { intervalCs: 50 }), 1000);
    // 3 x 0.5 s + (256-100) x 0.5 s / 256
    expect(armed(acts, 'master-down')!.at).toBeCloseTo(1000 + 1500 + 304.6875, 9);
    expect(f.status().masterAdverIntervalCs).toBe(50);
  });
});

describe('master receiving adverts', () => {
  it('a higher priority -> BACKUP, VIPs removed, adverts stop', () => {
    const f = master();
    const acts = f.onAdvert(adv(200), 5000);
    expect(f.state).toBe('BACKUP');
    expect(has(acts, 'del-vips')).toBe(true);
    expect(acts).toContainEqual({ kind: 'cancel-timer', timer: 'advert' });
    expect(transition(acts)!.reason).toBe('higher priority 200 from 10.0.0.2');
  });

  it('equal priority: the higher primary address wins', () => {
    const lower = master({}, '10.0.0.1');
    const a = lower.onAdvert(adv(100), 5000);
    expect(lower.state).toBe('BACKUP');
    expect(transition(a)!.reason).toBe('equal priority 100 from higher address 10.0.0.2');

    const higher = master({}, '10.0.0.3');
    const b = higher.onAdvert(adv(100), 5000);
    expect(higher.state).toBe('MASTER');
    expect(sent(b)).toEqual([100]);
  });

  it('address compare is unsigned (10.x < 192.x < 200.x)', () => {
    const f = master({}, '200.0.0.1');
    f.onAdvert(adv(100, {}, { src: '192.168.0.1' }), 5000);
    expect(f.state).toBe('MASTER');
  });

  it('a lower priority is answered at once with our advert and a gratuitous ARP (rate-limited)', () => {
    const f = master();
    const a = f.onAdvert(adv(50), 5000);
    expect(f.state).toBe('MASTER');
    expect(sent(a)).toEqual([100]);
    expect(armed(a, 'advert')!.at).toBe(6000);
    expect(a.filter((x) => x.kind === 'garp')).toHaveLength(1);
    const b = f.onAdvert(adv(50), 5500);
    expect(sent(b)).toEqual([100]);
    expect(b.filter((x) => x.kind === 'garp')).toHaveLength(0);
    expect(f.onAdvert(adv(50), 6000).filter((x) => x.kind === 'garp')).toHaveLength(1);
  });

  it('answer_lower_priority false (keepalived lower_prio_no_advert): no advert, still re-announces', () => {
    const f = master({ answerLowerPriority: false });
    const a = f.onAdvert(adv(50), 5000);
    expect(sent(a)).toEqual([]);
    expect(has(a, 'garp')).toBe(true);
  });

  it('priority 0 from another router: send an advert now so backups keep a master', () => {
    const f = master();
    const a = f.onAdvert(adv(0), 5000);
    expect(f.state).toBe('MASTER');
    expect(sent(a)).toEqual([100]);
  });
});

describe('validation drops', () => {
  it('TTL other than 255', () => {
    const f = backup();
    expect(drop(f.onAdvert(adv(200, {}, { ttl: 254 }), 1000))).toBe('ttl');
    expect(f.status().masterIp).toBeUndefined();
  });

  it('another VRRP version', () => {
    expect(drop(backup().onAdvert(adv(200, { version: 2 }), 1000))).toBe('version-mismatch');
  });

  it('our own advert (unicast loops, bridges that reflect)', () => {
    expect(drop(backup().onAdvert(adv(200, {}, { src: LOCAL }), 1000))).toBe('own-advert');
  });

  it('unicast: a source that is not a configured peer (check_unicast_src, on by default in vipd)', () => {
    const f = backup({ unicastPeers: ['10.0.0.9'] });
    expect(drop(f.onAdvert(adv(200, {}, { dst: LOCAL }), 1000))).toBe('not-a-peer');
    expect(drop(f.onAdvert(adv(200, {}, { src: '10.0.0.9', dst: LOCAL }), 1000))).toBeUndefined();
  });

  it('unicast with check_unicast_src off (keepalived default): any source is taken', () => {
    const f = backup({ unicastPeers: ['10.0.0.9'], checkUnicastSrc: false });
    expect(drop(f.onAdvert(adv(200, {}, { dst: LOCAL }), 1000))).toBeUndefined();
    expect(f.status().masterIp).toBe(PEER);
  });

  it('unicast: any TTL is accepted (adverts routed between subnets), as keepalived', () => {
    const f = backup({ unicastPeers: [PEER] });
    expect(drop(f.onAdvert(adv(200, {}, { dst: LOCAL, ttl: 254 }), 1000))).toBeUndefined();
    expect(drop(f.onAdvert(adv(200, {}, { dst: LOCAL, ttl: 1 }), 1100))).toBeUndefined();
    expect(f.status().masterIp).toBe(PEER);
  });

  it('an instance takes adverts of its own mode only: multicast to a unicast instance and unicast to a multicast one are dropped', () => {
    const uni = backup({ unicastPeers: [PEER] });
    expect(drop(uni.onAdvert(adv(200, {}, { dst: '224.0.0.18' }), 1000))).toBe('wrong-destination');
    expect(drop(uni.onAdvert(adv(200, {}, { dst: '224.0.0.18', ttl: 254 }), 1000))).toBe('wrong-destination');
    expect(uni.status().masterIp).toBeUndefined();
    const multi = backup();
    expect(drop(multi.onAdvert(adv(200, {}, { dst: LOCAL }), 1000))).toBe('wrong-destination');
    expect(drop(multi.onAdvert(adv(200, {}, { dst: LOCAL, ttl: 254 }), 1000))).toBe('ttl');
  });

  it('v2 PASS authentication: wrong password or missing auth', () => {
    const c = { version: 2 as const, authPass: 'secret12' };
    const v2 = (o: Partial<ReceivedAdvert['advert']>) => adv(200, { version: 2, authType: 1, authData: authDataFromPassword('secret12'), ...o });
    expect(drop(backup(c).onAdvert(v2({}), 1000))).toBeUndefined();
    expect(drop(backup(c).onAdvert(v2({ authData: authDataFromPassword('wrong') }), 1000))).toBe('auth-mismatch');
    expect(drop(backup(c).onAdvert(v2({ authType: 0, authData: Buffer.alloc(8) }), 1000))).toBe('auth-mismatch');
    expect(drop(backup({ version: 2 }).onAdvert(v2({}), 1000))).toBe('auth-mismatch');
  });

  it('v2: an advert interval different from ours is dropped (v3 adopts it instead)', () => {
    const f = backup({ version: 2, advertIntervalCs: 100 });
    expect(drop(f.onAdvert(adv(200, { version: 2, intervalCs: 200 }), 1000))).toBe('interval-mismatch');
    expect(drop(backup().onAdvert(adv(200, { intervalCs: 200 }), 1000))).toBeUndefined();
  });

  it('v3: a Max Advertise Interval of 0 is invalid', () => {
    expect(drop(backup().onAdvert(adv(200, { intervalCs: 0 }), 1000))).toBe('bad-interval');
  });

  it('a dropped advert changes nothing (a master stays master)', () => {
    const f = master();
    const acts = f.onAdvert(adv(200, {}, { ttl: 1 }), 5000);
    expect(acts.map((a) => a.kind)).toEqual(['drop']);
    expect(f.state).toBe('MASTER');
  });
});

describe('faults, priority changes, stop', () => {
  it('a tracked-link fault: master resigns with priority 0, releases VIPs, goes FAULT; cleared -> BACKUP', () => {
    const f = master();
    const a = f.setFaults(['tracked interface eth1 is down'], 5000);
    expect(f.state).toBe('FAULT');
    expect(sent(a)).toEqual([0]);
    expect(has(a, 'del-vips')).toBe(true);
    expect(transition(a)!.reason).toBe('tracked interface eth1 is down');
    // Adverts are ignored in FAULT.
    expect(f.onAdvert(adv(50), 5100).filter((x) => x.kind !== 'drop')).toEqual([]);
    const b = f.setFaults([], 6000);
    expect(f.state).toBe('BACKUP');
    expect(armed(b, 'master-down')!.at).toBeCloseTo(9609.375, 9);
  });

  it('a fault at start goes straight to FAULT', () => {
    const f = new VrrpFsm(cfg(), LOCAL);
    f.setFaults(['interface eth0 is down'], 0);
    const a = f.start(0);
    expect(f.state).toBe('FAULT');
    expect(transition(a)!.reason).toMatch(/eth0 is down/);
  });

  it('sync-group fault holds a healthy member in FAULT', () => {
    const f = master();
    f.setGroupFault(true, 5000);
    expect(f.state).toBe('FAULT');
    expect(f.faults()).toContain('sync group in FAULT');
    f.setGroupFault(false, 6000);
    expect(f.state).toBe('BACKUP');
  });

  it('a lowered priority is advertised at once; the skew follows it', () => {
    const f = master();
    const a = f.setPriority(40, 5000, 'eth1 down (-60)');
    expect(sent(a)).toEqual([40]);
    expect(f.skewMs()).toBeCloseTo(((256 - 40) * 1000) / 256, 9);
    expect(f.status()).toMatchObject({ priority: 100, effectivePriority: 40 });
  });

  it('stop: a master sends priority 0 and removes its VIPs; a backup just stops', () => {
    const m = master();
    const a = m.stop(9000);
    expect(sent(a)).toEqual([0]);
    expect(a.findIndex((x) => x.kind === 'send-advert')).toBeLessThan(a.findIndex((x) => x.kind === 'del-vips'));
    expect(transition(a)).toMatchObject({ from: 'MASTER', to: 'INIT', stop: true });
    const b = backup();
    expect(sent(b.stop(9000))).toEqual([]);
  });

  it('force (sync group): BACKUP -> MASTER and back; ignored in FAULT', () => {
    const f = backup();
    expect(f.force('MASTER', 100, 'sync group G1: VI_2 became MASTER')).toContainEqual(expect.objectContaining({ kind: 'add-vips' }));
    expect(f.state).toBe('MASTER');
    f.force('BACKUP', 200, 'sync group');
    expect(f.state).toBe('BACKUP');
    f.setFaults(['x'], 300);
    expect(f.force('MASTER', 400, 'sync group')).toEqual([]);
    expect(f.state).toBe('FAULT');
  });
});
