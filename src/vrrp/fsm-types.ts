// The vocabulary of the VRRP state machine (fsm.ts): its states, timers, the
// actions it returns, its settings and status, and the I/O-fault backoff.

import type { VrrpAdvert } from './packet.js';
import type { GarpPlanConfig } from './garp-plan.js';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';
export type TimerName = 'advert' | 'master-down' | 'preempt-delay' | 'garp-repeat' | 'garp-refresh' | 'garp-lower-prio' | 'io-retry';

export type Action =
  | { kind: 'send-advert'; priority: number }
  | { kind: 'add-vips' }
  | { kind: 'del-vips' }
  /** Announce every held address `count` times (gratuitous ARP / unsolicited NA); `lowerPriority`: for an advert heard, which the sync group's other masters follow. */
  | { kind: 'garp'; reason: string; count: number; lowerPriority?: true }
  /** The I/O retry is due: check whether the failure's cause is gone, then call ioRecovered or ioFailed. */
  | { kind: 'check-io' }
  | { kind: 'arm-timer'; timer: TimerName; at: number }
  | { kind: 'cancel-timer'; timer: TimerName }
  | { kind: 'transition'; from: VrrpState; to: VrrpState; reason: string; stop?: boolean }
  | { kind: 'drop'; reason: DropReason; detail: string; src: string };

/** Why a decoded advertisement was not acted upon. Counted per instance. */
export type DropReason =
  | 'ttl'
  | 'version-mismatch'
  | 'auth-mismatch'
  | 'interval-mismatch'
  | 'bad-interval'
  | 'not-a-peer'
  | 'own-advert'
  /** Multicast to a unicast instance, or unicast to a multicast one (keepalived drops both). */
  | 'wrong-destination';

export interface FsmConfig {
  name: string;
  vrid: number;
  version: 2 | 3;
  /** Configured priority 1..255. */
  priority: number;
  advertIntervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  answerLowerPriority: boolean;
  authPass?: string;
  unicastPeers: string[];
  /** keepalived's check_unicast_src: a unicast advert's source must be one of unicastPeers. */
  checkUnicastSrc: boolean;
  garp: GarpPlanConfig;
}

export interface ReceivedAdvert {
  advert: VrrpAdvert;
  /** IP source address of the advert. */
  src: string;
  /** IP destination address: 224.0.0.18 (multicast) or this host's address (unicast). */
  dst: string;
  ttl: number;
}

export interface FsmStatus {
  state: VrrpState;
  since: number;
  lastReason: string;
  priority: number;
  effectivePriority: number;
  masterIp?: string;
  masterPriority?: number;
  masterAdverIntervalCs: number;
  masterDownIntervalMs: number;
  faults: string[];
  /** Set while an I/O failure holds the instance in FAULT. */
  io?: IoFaultStatus;
}

export interface IoFaultStatus {
  reason: string;
  /** Failures in a row (the backoff doubles with each). */
  attempt: number;
  /** When the next check is due (the clock of the entry points). */
  retryAt: number;
}

/** I/O retry backoff: 1 s, doubling, at most 30 s. */
export const IO_RETRY_FIRST_MS = 1000;
export const IO_RETRY_MAX_MS = 30_000;
/** A failure more than this long after the last recovery starts the backoff afresh. */
export const IO_STABLE_MS = 60_000;

export function ioRetryDelayMs(attempt: number): number {
  return Math.min(IO_RETRY_MAX_MS, IO_RETRY_FIRST_MS * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}
