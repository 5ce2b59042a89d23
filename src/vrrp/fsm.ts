// The VRRP state machine of one virtual router (RFC 5798/9568 section 6,
// RFC 3768 for v2), with the operator features of keepalived on top:
// preempt/nopreempt, preempt_delay, tracked links (FAULT or priority weight),
// forced transitions from a sync group, split-brain re-announcement, and
// I/O faults: an instance whose socket, adverts, VIPs or ARP fail goes to FAULT
// and retries with backoff (the router reports failures, performs the checks).
//
// Pure: no I/O, no timers, no clock of its own. Every entry point takes `now`
// (milliseconds, monotonic, fractions allowed) and returns the actions the
// router must perform, in order. Timers are named; arming one replaces it.

import { inetAddrBytes } from '../net/inet.js';
import { type Action, type FsmConfig, type FsmStatus, type ReceivedAdvert, type TimerName, type VrrpState, ioRetryDelayMs, IO_STABLE_MS } from './fsm-types.js';
import { validateAdvert } from './receive-rules.js';
import { becameMaster, GARP_TIMERS, garpTimer, lowerPriorityHeard } from './garp-plan.js';

/** Not a real priority: marks "no master heard yet". */
const NONE = -1;

export class VrrpFsm {
  private c: FsmConfig;
  private st: VrrpState = 'INIT';
  private since = 0;
  private lastReason = 'not started';
  private effPriority: number;
  private masterAdverIntervalCs: number;
  private localIp: string | undefined;
  private startedAt = -Infinity;
  private ownFaults: string[] = [];
  private groupFault = false;
  /** The I/O failure holding this instance in FAULT, if any. */
  private ioFault: string | undefined;
  private ioAttempt = 0;
  private ioRetryAt: number | undefined;
  private ioRecoveredAt = -Infinity;
  private masterIp: string | undefined;
  /** The master that resigned with priority 0, while its Skew_Time runs. */
  private resignedIp: string | undefined;
  private masterPriority = NONE;
  private lastSplitBrainGarp = -Infinity;
  /** When the next advert is due: adverts are scheduled on a fixed grid, so timer lateness does not accumulate. */
  private advertDue: number | undefined;

  constructor(cfg: FsmConfig, localIp?: string) {
    this.c = cfg;
    this.effPriority = cfg.priority;
    this.masterAdverIntervalCs = cfg.advertIntervalCs;
    this.localIp = localIp;
  }

  get cfg(): FsmConfig {
    return this.c;
  }

  /**
   * Take new settings without a transition (a reload that keeps the instance's
   * identity). The caller follows up with setPriority if the effective
   * priority changes.
   */
  reconfigure(cfg: FsmConfig): void {
    this.c = cfg;
  }

  get state(): VrrpState {
    return this.st;
  }

  get priority(): number {
    return this.effPriority;
  }

  /** Skew_Time in ms: v3 scales with the master's interval, v2 is (256 - Priority)/256 s. */
  skewMs(): number {
    const p = this.effPriority;
    return this.cfg.version === 3 ? ((256 - p) * this.masterAdverIntervalCs * 10) / 256 : ((256 - p) * 1000) / 256;
  }

  masterDownMs(): number {
    return 3 * this.masterAdverIntervalCs * 10 + this.skewMs();
  }

  status(): FsmStatus {
    return {
      state: this.st,
      since: this.since,
      lastReason: this.lastReason,
      priority: this.cfg.priority,
      effectivePriority: this.effPriority,
      ...(this.masterIp !== undefined ? { masterIp: this.masterIp } : {}),
      ...(this.masterPriority !== NONE ? { masterPriority: this.masterPriority } : {}),
      masterAdverIntervalCs: this.masterAdverIntervalCs,
      masterDownIntervalMs: this.masterDownMs(),
      faults: this.faults(),
      ...(this.ioFault !== undefined ? { io: { reason: this.ioFault, attempt: this.ioAttempt, retryAt: this.ioRetryAt ?? this.since } } : {}),
    };
  }

  faults(): string[] {
    const own = this.ioFault !== undefined ? [...this.ownFaults, this.ioFault] : [...this.ownFaults];
    return this.groupFault ? [...own, 'sync group in FAULT'] : own;
  }

  /** True when this instance's own links or I/O put it in FAULT (sync groups read this). */
  get ownFault(): boolean {
    return this.ownFaults.length > 0 || this.ioFault !== undefined;
  }

  /** The address compared on equal priority, and the one we send from. */
  setLocalIp(ip: string | undefined): void {
    this.localIp = ip;
  }

  // ---- entry points -------------------------------------------------------

  start(now: number): Action[] {
    const out: Action[] = [];
    if (this.faults().length > 0) return this.enterFault(now, `fault at start: ${this.faults().join(', ')}`, out);
    if (this.effPriority === 255) return this.enterMaster(now, 'address owner (priority 255)', out);
    this.enterBackup(now, 'startup', out);
    this.armPreemptDelay(now, out);
    return out;
  }

  /** Graceful stop: a master resigns with priority 0 so a backup takes over after Skew_Time. */
  stop(now: number): Action[] {
    const out: Action[] = [];
    if (this.st === 'MASTER') {
      out.push({ kind: 'send-advert', priority: 0 }, { kind: 'del-vips' });
    }
    this.cancelAll(out);
    this.ioRetryAt = undefined;
    this.transition(now, 'INIT', 'shutdown', out, true);
    return out;
  }

  onTimer(timer: TimerName, now: number): Action[] {
    const out: Action[] = [];
    switch (timer) {
      case 'advert': {
        if (this.st !== 'MASTER') break;
        out.push({ kind: 'send-advert', priority: this.effPriority });
        // Next one relative to when this one was due, unless we are a whole interval behind.
        const due = this.advertDue;
        this.armAdvert(due !== undefined && now - due < this.cfg.advertIntervalCs * 10 ? due : now, out);
        break;
      }
      case 'master-down':
        if (this.st !== 'BACKUP') break;
        return this.enterMaster(
          now,
          this.resignedIp !== undefined
            ? `master ${this.resignedIp} resigned (priority 0), took over after skew ${fmtMs(this.skewMs())}`
            : this.masterIp === undefined
            ? `no master heard for ${fmtMs(this.masterDownMs())}`
            : `master ${this.masterIp} silent for ${fmtMs(this.masterDownMs())}`,
          out,
        );
      case 'preempt-delay':
        // The delay is over: a live master we outrank is now preempted at once
        // rather than after another Master_Down_Interval.
        if (this.st === 'BACKUP' && this.masterPriority !== NONE && this.outranks(this.masterPriority, this.masterIp))
          return this.enterMaster(now, `preempt_delay over, preempting ${this.masterIp} (priority ${this.masterPriority})`, out);
        break;
      case 'garp-repeat':
      case 'garp-refresh':
      case 'garp-lower-prio':
        if (this.st === 'MASTER') out.push(...garpTimer(timer, this.cfg.garp, now));
        break;
      case 'io-retry':
        if (this.ioFault === undefined) break;
        this.ioRetryAt = undefined;
        out.push({ kind: 'check-io' });
        break;
    }
    return out;
  }

  onAdvert(rx: ReceivedAdvert, now: number): Action[] {
    const out: Action[] = [];
    const bad = validateAdvert(rx, this.cfg, this.localIp);
    if (bad) {
      out.push({ kind: 'drop', reason: bad.reason, detail: bad.detail, src: rx.src });
      return out;
    }
    const a = rx.advert;
    switch (this.st) {
      case 'INIT':
      case 'FAULT':
        break;
      case 'BACKUP':
        this.backupReceive(rx, now, out);
        break;
      case 'MASTER':
        this.masterReceive(rx, now, out);
        break;
    }
    if (a.priority !== 0 && this.st === 'BACKUP') {
      this.masterIp = rx.src;
      this.masterPriority = a.priority;
    }
    return out;
  }

  /** Tracked-link faults of this instance. An empty list clears the fault. */
  setFaults(reasons: string[], now: number): Action[] {
    const was = this.faults().length > 0;
    const linksWereDown = this.ownFaults.length > 0;
    this.ownFaults = [...reasons];
    const out = this.faultChanged(was, now);
    // The links are back: an I/O failure may have been theirs (an advert sent as
    // the link went down), so check now rather than at the end of the backoff.
    if (linksWereDown && reasons.length === 0 && this.ioFault !== undefined && this.ioRetryAt !== undefined) {
      this.ioRetryAt = undefined;
      out.push({ kind: 'cancel-timer', timer: 'io-retry' }, { kind: 'check-io' });
    }
    return out;
  }

  /**
   * The shell could not do what the state needs: open the VRRP socket, send an
   * advert, add a VIP or announce it by ARP. FAULT (a master resigns with
   * priority 0 and releases its VIPs) with a retry after 1 s, doubling to 30 s.
   * Reported again while in FAULT (the check found the cause still there, or the
   * resignation failed too), it only takes the new reason and, after a check,
   * schedules the next one.
   */
  ioFailed(reason: string, now: number): Action[] {
    const out: Action[] = [];
    const was = this.faults().length > 0;
    if (this.ioFault === undefined && now - this.ioRecoveredAt >= IO_STABLE_MS) this.ioAttempt = 0;
    this.ioFault = reason;
    if (this.st === 'INIT') {
      this.ioAttempt = Math.max(1, this.ioAttempt); // start() enters FAULT and arms the retry
      return out;
    }
    if (this.ioRetryAt !== undefined) return out;
    this.ioAttempt++;
    if (!was) return this.enterFault(now, reason, out);
    this.armIoRetry(now, out);
    return out;
  }

  /** The check found the cause of the I/O failure gone: leave FAULT (unless something else holds it) and join the election. */
  ioRecovered(now: number): Action[] {
    const out: Action[] = [];
    if (this.ioFault === undefined) return out;
    const was = this.ioFault;
    this.ioFault = undefined;
    this.ioRetryAt = undefined;
    this.ioRecoveredAt = now;
    out.push({ kind: 'cancel-timer', timer: 'io-retry' });
    out.push(...this.faultChanged(true, now, `recovered from: ${was}`));
    return out;
  }

  /** Sync-group FAULT: another member is in FAULT, so this one must be too. */
  setGroupFault(on: boolean, now: number): Action[] {
    const was = this.faults().length > 0;
    this.groupFault = on;
    return this.faultChanged(was, now);
  }

  /** Effective priority changed (tracked link weights). */
  setPriority(p: number, now: number, reason: string): Action[] {
    const out: Action[] = [];
    if (p === this.effPriority) return out;
    this.effPriority = p;
    this.lastReason = `priority ${p}: ${reason}`;
    if (this.st === 'MASTER') {
      // Tell the backups now rather than at the next tick: a backup that now
      // outranks us (with preempt) takes over after its Master_Down_Interval.
      out.push({ kind: 'send-advert', priority: p });
      this.armAdvert(now, out);
    }
    return out;
  }

  /**
   * A sync group moves this member with its peers. Only MASTER <-> BACKUP is
   * forced here; group FAULT goes through setGroupFault.
   */
  force(to: 'MASTER' | 'BACKUP', now: number, reason: string): Action[] {
    const out: Action[] = [];
    if (this.st === to || this.st === 'INIT' || this.st === 'FAULT') return out;
    if (to === 'MASTER') return this.enterMaster(now, reason, out);
    this.enterBackup(now, reason, out);
    return out;
  }

  // ---- receive rules ------------------------------------------------------

  private backupReceive(rx: ReceivedAdvert, now: number, out: Action[]): void {
    const a = rx.advert;
    if (a.priority === 0) {
      // The master resigns: take over after Skew_Time instead of Master_Down_Interval.
      out.push({ kind: 'arm-timer', timer: 'master-down', at: now + this.skewMs() });
      this.masterIp = undefined;
      this.masterPriority = NONE;
      this.resignedIp = rx.src;
      this.lastReason = `master ${rx.src} resigned (priority 0)`;
      return;
    }
    this.resignedIp = undefined;
    const inPreemptDelay = now < this.startedAt + this.cfg.preemptDelayMs;
    if (!this.cfg.preempt || inPreemptDelay || a.priority >= this.effPriority) {
      if (this.cfg.version === 3) this.masterAdverIntervalCs = a.intervalCs;
      out.push({ kind: 'arm-timer', timer: 'master-down', at: now + this.masterDownMs() });
    }
    // else: preempt a lower-priority master by ignoring it; our master-down timer fires.
  }

  private masterReceive(rx: ReceivedAdvert, now: number, out: Action[]): void {
    const a = rx.advert;
    if (a.priority === 0) {
      // Another router resigned: make sure the backups hear a master at once.
      out.push({ kind: 'send-advert', priority: this.effPriority });
      this.armAdvert(now, out);
      return;
    }
    if (!this.outranks(a.priority, rx.src)) {
      if (this.cfg.version === 3) this.masterAdverIntervalCs = a.intervalCs;
      this.masterIp = rx.src;
      this.masterPriority = a.priority;
      const why =
        a.priority > this.effPriority
          ? `higher priority ${a.priority} from ${rx.src}`
          : `equal priority ${a.priority} from higher address ${rx.src}`;
      this.enterBackup(now, why, out);
      return;
    }
    // A lower-priority router thinks it is master: a split brain is ending,
    // or a backup is starting up. Answer at once (RFC 9568) so it yields within
    // one round trip, and re-announce our MAC so switches and clients relearn it
    // (garp_lower_prio_repeat now, again after garp_lower_prio_delay; keepalived's
    // rule, independent of the answer), at most once per second or advert interval.
    if (this.cfg.answerLowerPriority) {
      out.push({ kind: 'send-advert', priority: this.effPriority });
      this.armAdvert(now, out);
    }
    out.push(...this.lowerPriorityGarp(now, `lower-priority advert (${a.priority}) from ${rx.src}`, true));
  }

  /**
   * Another member of this instance's sync group heard a lower-priority advert as
   * master: announce this one's addresses too (keepalived's rule for sync groups).
   */
  groupHeardLowerPriority(member: string, now: number): Action[] {
    return this.st === 'MASTER' ? this.lowerPriorityGarp(now, `sync group: ${member} heard a lower-priority advert`, false) : [];
  }

  private lowerPriorityGarp(now: number, reason: string, fromAdvert: boolean): Action[] {
    const spacing = Math.max(1000, this.cfg.advertIntervalCs * 10);
    if (now - this.lastSplitBrainGarp < spacing || this.cfg.garp.lowerPrioCount === 0) return [];
    this.lastSplitBrainGarp = now;
    return lowerPriorityHeard(this.cfg.garp, now, reason, fromAdvert);
  }

  /** True when we, at our effective priority, win against (priority, address). */
  private outranks(priority: number, src: string | undefined): boolean {
    if (this.effPriority !== priority) return this.effPriority > priority;
    if (this.localIp === undefined || src === undefined) return false;
    // The higher primary address wins a tie (unsigned, network order), IPv4 or IPv6 alike.
    return Buffer.compare(inetAddrBytes(this.localIp), inetAddrBytes(src)) > 0;
  }

  // ---- state entry --------------------------------------------------------

  private enterMaster(now: number, reason: string, out: Action[]): Action[] {
    out.push({ kind: 'cancel-timer', timer: 'master-down' }, { kind: 'cancel-timer', timer: 'preempt-delay' });
    // Advert first, then the addresses and gratuitous ARP (RFC 5798 6.4.1/6.4.2).
    out.push({ kind: 'send-advert', priority: this.effPriority });
    out.push({ kind: 'add-vips' });
    const garp = becameMaster(this.cfg.garp, now);
    out.push(garp[0]!);
    this.armAdvert(now, out);
    out.push(...garp.slice(1));
    this.masterAdverIntervalCs = this.cfg.advertIntervalCs;
    this.masterIp = this.localIp;
    this.masterPriority = NONE;
    this.transition(now, 'MASTER', reason, out);
    return out;
  }

  /**
   * A backup never holds the VIPs: removing them on every entry (not only when
   * leaving MASTER) also clears addresses left behind by a killed run.
   */
  private enterBackup(now: number, reason: string, out: Action[]): void {
    out.push(
      { kind: 'del-vips' },
      { kind: 'cancel-timer', timer: 'advert' },
      ...GARP_TIMERS.map((timer) => ({ kind: 'cancel-timer' as const, timer })),
      { kind: 'arm-timer', timer: 'master-down', at: now + this.masterDownMs() },
    );
    this.transition(now, 'BACKUP', reason, out);
  }

  private enterFault(now: number, reason: string, out: Action[]): Action[] {
    if (this.st === 'MASTER') out.push({ kind: 'send-advert', priority: 0 });
    out.push({ kind: 'del-vips' });
    this.cancelAll(out);
    if (this.ioFault !== undefined) this.armIoRetry(now, out);
    this.masterIp = undefined;
    this.masterPriority = NONE;
    this.transition(now, 'FAULT', reason, out);
    return out;
  }

  private faultChanged(was: boolean, now: number, cleared = 'fault cleared'): Action[] {
    const out: Action[] = [];
    const is = this.faults().length > 0;
    if (this.st === 'INIT' || was === is) return out;
    if (is) return this.enterFault(now, this.faults().join(', '), out);
    if (this.effPriority === 255) return this.enterMaster(now, `${cleared}; address owner (priority 255)`, out);
    this.masterAdverIntervalCs = this.cfg.advertIntervalCs;
    this.enterBackup(now, cleared, out);
    // Like a fresh start: the links just came back, give the host preempt_delay
    // to settle before it takes over from a live master.
    this.armPreemptDelay(now, out);
    return out;
  }

  /** preempt_delay counts from start (and from a cleared fault): until then a lower-priority master is obeyed. */
  private armPreemptDelay(now: number, out: Action[]): void {
    this.startedAt = now;
    if (this.cfg.preempt && this.cfg.preemptDelayMs > 0)
      out.push({ kind: 'arm-timer', timer: 'preempt-delay', at: now + this.cfg.preemptDelayMs });
  }

  private armIoRetry(now: number, out: Action[]): void {
    this.ioRetryAt = now + ioRetryDelayMs(this.ioAttempt);
    out.push({ kind: 'arm-timer', timer: 'io-retry', at: this.ioRetryAt });
  }

  private armAdvert(now: number, out: Action[]): void {
    this.advertDue = now + this.cfg.advertIntervalCs * 10;
    out.push({ kind: 'arm-timer', timer: 'advert', at: this.advertDue });
  }

  private cancelAll(out: Action[]): void {
    for (const timer of ['advert', 'master-down', 'preempt-delay', ...GARP_TIMERS, 'io-retry'] as const)
      out.push({ kind: 'cancel-timer', timer });
  }

  private transition(now: number, to: VrrpState, reason: string, out: Action[], stop = false): void {
    const from = this.st;
    this.st = to;
    this.resignedIp = undefined;
    this.since = now;
    this.lastReason = reason;
    out.push({ kind: 'transition', from, to, reason, ...(stop ? { stop } : {}) });
  }
}

function fmtMs(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
