// keepalived's GARP settings: the config (instance keys over the global
// vrrp_garp_* defaults, vrrp_min_garp) and what the state machine does with them.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { Action, FsmConfig } from '../../src/vrrp/fsm-types.js';
import { VrrpFsm } from '../../src/vrrp/fsm.js';
import { configIssues, fsmConfig } from './fixtures.js';

const instance = (keys = '', global = ''): ReturnType<typeof parseConfig>['instances'][number] =>
  parseConfig(`${global ? `global: {${global}}\n` : ''}vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [10.0.0.100/24]${keys ? `, ${keys}` : ''}}\n`, 'f.yaml').instances[0]!;

describe('GARP configuration', () => {
  it("keepalived's defaults: 5 now and 5 after 5 s, 1 per refresh (off), lower-priority bursts as the master ones", () => {
    expect(instance().garp).toEqual({ count: 5, intervalMs: 0, gnaIntervalMs: 0, repeatDelayMs: 5000, refreshMs: 0, refreshCount: 1, lowerPrioCount: 5, lowerPrioDelayMs: 5000 });
  });

  it('global vrrp_garp_* are every instance\'s defaults; the instance\'s own keys win', () => {
    const g = 'vrrp_garp_master_repeat: 2, vrrp_garp_master_delay: 3, vrrp_garp_master_refresh: 60, vrrp_garp_master_refresh_repeat: 2, vrrp_garp_interval: 0.01, vrrp_gna_interval: 0.002';
    expect(instance('', g).garp).toEqual({ count: 2, intervalMs: 10, gnaIntervalMs: 2, repeatDelayMs: 3000, refreshMs: 60_000, refreshCount: 2, lowerPrioCount: 2, lowerPrioDelayMs: 3000 });
    expect(instance('garp_master_repeat: 4, gna_interval: 0.5, garp_lower_prio_repeat: 0', g).garp).toMatchObject({ count: 4, gnaIntervalMs: 500, lowerPrioCount: 0, lowerPrioDelayMs: 3000 });
  });

  it("an instance's garp_lower_prio_* default to the global ones, not to its own garp_master_* (keepalived)", () => {
    expect(instance('garp_master_repeat: 1, garp_master_delay: 0').garp).toMatchObject({ lowerPrioCount: 5, lowerPrioDelayMs: 5000 });
    expect(instance('', 'vrrp_garp_lower_prio_repeat: 1, vrrp_garp_lower_prio_delay: 10').garp).toMatchObject({ count: 5, lowerPrioCount: 1, lowerPrioDelayMs: 10_000 });
  });

  it('vrrp_min_garp: one message, no second burst; keys written out still win', () => {
    expect(instance('', 'vrrp_min_garp: true').garp).toMatchObject({ count: 1, repeatDelayMs: 0, refreshMs: 0, refreshCount: 1, lowerPrioCount: 1, lowerPrioDelayMs: 0 });
    expect(instance('', 'vrrp_min_garp: true, vrrp_garp_master_repeat: 3').garp).toMatchObject({ count: 3, repeatDelayMs: 0, lowerPrioCount: 3 });
    expect(instance('', 'vrrp_min_garp: false').garp).toMatchObject({ count: 5, repeatDelayMs: 5000 });
  });

  it('bad values name the key and the valid range', () => {
    const issues = configIssues(
      'global: {vrrp_garp_lower_prio_repeat: -1, vrrp_min_garp: yes, vrrp_garp_master_refresh: 0.5}\nvrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [10.0.0.100/24], garp_master_refresh_repeat: 0, gna_interval: 2, garp_lower_prio_delay: x}\n',
    );
    expect(issues).toEqual([
      '1:39 global.vrrp_garp_lower_prio_repeat: -1 is out of range; valid: an integer 0..100 (messages per address, 0 = none)',
      '1:58 global.vrrp_min_garp: expected true or false, got string "yes" (YAML 1.2: write true or false)',
      '1:89 global.vrrp_garp_master_refresh: 0.5 is too short; valid: 0 (off) or at least 1 second',
      '3:101 vrrp_instances.VI_1.garp_master_refresh_repeat: 0 is out of range; valid: an integer 1..100 (messages per address)',
      '3:118 vrrp_instances.VI_1.gna_interval: 2 is out of range; valid: a number 0..1 (seconds)',
      '3:144 vrrp_instances.VI_1.garp_lower_prio_delay: expected a number 0..1000 (seconds), got string "x"',
    ]);
  });
});

const LOCAL = '10.0.0.1';
const lower = (priority: number) => ({
  advert: { version: 3 as const, vrid: 51, priority, intervalCs: 100, addresses: ['10.0.0.100'], authType: 0, authData: Buffer.alloc(8) },
  src: '10.0.0.2',
  dst: '224.0.0.18',
  ttl: 255,
});
const garps = (acts: Action[]) => acts.filter((a) => a.kind === 'garp').map((a) => (a as { count: number }).count);
const armed = (acts: Action[], timer: string) => (acts.find((a) => a.kind === 'arm-timer' && a.timer === timer) as { at: number } | undefined)?.at;

function master(garp: Partial<FsmConfig['garp']> = {}, o: Partial<FsmConfig> = {}): { f: VrrpFsm; became: Action[] } {
  const f = new VrrpFsm(fsmConfig({ ...o, garp: { ...fsmConfig().garp, ...garp } }), LOCAL);
  f.start(0);
  const became = f.onTimer('master-down', f.masterDownMs());
  expect(f.state).toBe('MASTER');
  return { f, became };
}

describe('GARP in the state machine', () => {
  it('becoming master: garp_master_repeat messages now, the second burst after garp_master_delay, refreshes of garp_master_refresh_repeat', () => {
    const { f, became } = master({ count: 3, repeatDelayMs: 2000, refreshMs: 30_000, refreshCount: 2 });
    const t = f.masterDownMs();
    expect(garps(became)).toEqual([3]);
    expect(armed(became, 'garp-repeat')).toBeCloseTo(t + 2000, 9);
    expect(armed(became, 'garp-refresh')).toBeCloseTo(t + 30_000, 9);
    expect(garps(f.onTimer('garp-repeat', t + 2000))).toEqual([3]);
    const r = f.onTimer('garp-refresh', t + 30_000);
    expect(garps(r)).toEqual([2]);
    expect(armed(r, 'garp-refresh')).toBeCloseTo(t + 60_000, 9);
  });

  it('a lower-priority advert: garp_lower_prio_repeat now and again after garp_lower_prio_delay', () => {
    const { f } = master({ count: 5, lowerPrioCount: 2, lowerPrioDelayMs: 3000 });
    const a = f.onAdvert(lower(50), 10_000);
    expect(garps(a)).toEqual([2]);
    expect(armed(a, 'garp-lower-prio')).toBe(13_000);
    expect(f.onTimer('garp-lower-prio', 13_000)).toEqual([{ kind: 'garp', reason: 'second burst after a lower-priority advert (garp_lower_prio_delay)', count: 2 }]);
  });

  it('garp_lower_prio_repeat 0: no announcement, the answer (answer_lower_priority) is independent of it', () => {
    const { f } = master({ lowerPrioCount: 0 });
    const a = f.onAdvert(lower(50), 10_000);
    expect(garps(a)).toEqual([]);
    expect(armed(a, 'garp-lower-prio')).toBeUndefined();
    expect(a.filter((x) => x.kind === 'send-advert')).toHaveLength(1);
    const { f: quiet } = master({ lowerPrioCount: 1, lowerPrioDelayMs: 0 }, { answerLowerPriority: false });
    const b = quiet.onAdvert(lower(50), 10_000);
    expect(garps(b)).toEqual([1]);
    expect(armed(b, 'garp-lower-prio')).toBeUndefined();
    expect(b.filter((x) => x.kind === 'send-advert')).toHaveLength(0);
  });

  it('leaving MASTER cancels a pending lower-priority burst; a late timer sends nothing', () => {
    const { f } = master({ lowerPrioDelayMs: 3000 });
    f.onAdvert(lower(50), 10_000);
    const down = f.onAdvert(lower(200), 10_500);
    expect(f.state).toBe('BACKUP');
    expect(down).toContainEqual({ kind: 'cancel-timer', timer: 'garp-lower-prio' });
    expect(f.onTimer('garp-lower-prio', 13_000)).toEqual([]);
  });

  it('a sync-group peer heard a lower-priority advert: a master announces its own (without propagating it again), a backup nothing', () => {
    const { f } = master({ lowerPrioCount: 3, lowerPrioDelayMs: 2000 });
    const fromAdvert = f.onAdvert(lower(50), 10_000).find((a) => a.kind === 'garp');
    expect(fromAdvert).toMatchObject({ count: 3, lowerPriority: true });
    const { f: other } = master({ lowerPrioCount: 2, lowerPrioDelayMs: 0 });
    expect(other.groupHeardLowerPriority('VI_1', 10_000)).toEqual([{ kind: 'garp', reason: 'sync group: VI_1 heard a lower-priority advert', count: 2 }]);
    const b = new VrrpFsm(fsmConfig(), LOCAL);
    b.start(0);
    expect(b.groupHeardLowerPriority('VI_1', 10)).toEqual([]);
  });
});
