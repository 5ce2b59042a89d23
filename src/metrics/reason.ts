// A VRRP transition's reason, in the few words a metric label can carry (the
// log line keeps the full sentence). Bounded: every reason the state machine
// gives maps to one of these, anything unforeseen to "other".

import type { VrrpState } from '../vrrp/fsm-types.js';

export const TRANSITION_REASONS = [
  'startup',
  'shutdown',
  'address-owner',
  'master-down',
  'master-resigned',
  'preempt',
  'higher-priority',
  'sync-group',
  'vip-lost',
  'link-fault',
  'io-fault',
  'fault-cleared',
  'other',
] as const;
export type TransitionReason = (typeof TRANSITION_REASONS)[number];

export function transitionReason(to: VrrpState, reason: string): TransitionReason {
  if (reason === 'shutdown') return 'shutdown';
  if (reason.startsWith('sync group ')) return 'sync-group';
  if (reason === 'startup') return 'startup';
  if (/deleted by someone else/.test(reason)) return 'vip-lost';
  if (/fault cleared|restored/.test(reason)) return 'fault-cleared';
  if (/address owner \(priority 255\)/.test(reason)) return 'address-owner';
  if (/ resigned \(priority 0\)/.test(reason)) return 'master-resigned';
  if (/^no master heard|silent for/.test(reason)) return 'master-down';
  if (/^preempt/.test(reason)) return 'preempt';
  if (/^(higher|equal) priority /.test(reason)) return 'higher-priority';
  if (to === 'FAULT') return /interface \S+ (is down|is missing|does not exist)/.test(reason) ? 'link-fault' : 'io-fault';
  return 'other';
}

/**
 * The transitions the state machine makes in normal operation, as (from, to, reason):
 * their series exist at 0 from an instance's first scrape, so increase() and
 * rate() see the first failover too (a series born at 1 shows no increase).
 */
export const USUAL_TRANSITIONS: readonly [VrrpState, VrrpState, TransitionReason][] = [
  ['INIT', 'BACKUP', 'startup'],
  ['INIT', 'MASTER', 'address-owner'],
  ['BACKUP', 'MASTER', 'master-down'],
  ['BACKUP', 'MASTER', 'master-resigned'],
  ['BACKUP', 'MASTER', 'preempt'],
  ['BACKUP', 'MASTER', 'sync-group'],
  ['MASTER', 'BACKUP', 'higher-priority'],
  ['MASTER', 'BACKUP', 'sync-group'],
  ['MASTER', 'BACKUP', 'vip-lost'],
  ['BACKUP', 'FAULT', 'link-fault'],
  ['MASTER', 'FAULT', 'link-fault'],
  ['BACKUP', 'FAULT', 'io-fault'],
  ['MASTER', 'FAULT', 'io-fault'],
  ['FAULT', 'BACKUP', 'fault-cleared'],
  ['FAULT', 'MASTER', 'fault-cleared'],
  ['BACKUP', 'INIT', 'shutdown'],
  ['MASTER', 'INIT', 'shutdown'],
  ['FAULT', 'INIT', 'shutdown'],
];
