// When a master announces its VIPs (gratuitous ARP / unsolicited NA), with
// keepalived's settings: a burst on becoming master and a second one after
// garp_master_delay, a refresh every garp_master_refresh, and a burst (and a
// delayed second one) when a lower-priority advert is heard. Pure: the state
// machine (fsm.ts) calls these with its clock and returns the actions.

import type { GarpConfig } from '../config/types.js';
import type { Action, TimerName } from './fsm-types.js';

export type GarpPlanConfig = Pick<GarpConfig, 'count' | 'repeatDelayMs' | 'refreshMs' | 'refreshCount' | 'lowerPrioCount' | 'lowerPrioDelayMs'>;

/** The timers of the plan: cancelled whenever the instance leaves MASTER. */
export const GARP_TIMERS = ['garp-repeat', 'garp-refresh', 'garp-lower-prio'] as const satisfies readonly TimerName[];

/** On becoming master (after the advert and the VIPs): the first burst, and the second burst and the refresh armed. */
export function becameMaster(g: GarpPlanConfig, now: number): Action[] {
  const out: Action[] = [{ kind: 'garp', reason: 'became master', count: g.count }];
  if (g.repeatDelayMs > 0) out.push({ kind: 'arm-timer', timer: 'garp-repeat', at: now + g.repeatDelayMs });
  if (g.refreshMs > 0) out.push({ kind: 'arm-timer', timer: 'garp-refresh', at: now + g.refreshMs });
  return out;
}

/** A master heard a lower-priority advert: garp_lower_prio_repeat now, and again after garp_lower_prio_delay. */
export function lowerPriorityHeard(g: GarpPlanConfig, now: number, reason: string, fromAdvert: boolean): Action[] {
  if (g.lowerPrioCount === 0) return [];
  const out: Action[] = [{ kind: 'garp', reason, count: g.lowerPrioCount, ...(fromAdvert ? { lowerPriority: true as const } : {}) }];
  if (g.lowerPrioDelayMs > 0) out.push({ kind: 'arm-timer', timer: 'garp-lower-prio', at: now + g.lowerPrioDelayMs });
  return out;
}

/** A GARP timer of a master fired: its burst (and the next refresh). */
export function garpTimer(timer: (typeof GARP_TIMERS)[number], g: GarpPlanConfig, now: number): Action[] {
  switch (timer) {
    case 'garp-repeat':
      return [{ kind: 'garp', reason: 'second burst (garp_master_delay)', count: g.count }];
    case 'garp-lower-prio':
      return [{ kind: 'garp', reason: 'second burst after a lower-priority advert (garp_lower_prio_delay)', count: g.lowerPrioCount }];
    case 'garp-refresh':
      return [
        { kind: 'garp', reason: 'refresh (garp_master_refresh)', count: g.refreshCount },
        { kind: 'arm-timer', timer: 'garp-refresh', at: now + g.refreshMs },
      ];
  }
}
