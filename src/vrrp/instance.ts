// One VRRP instance at run time: binds its pure state machine to timers,
// the interface's VRRP socket, addresses, gratuitous ARP and notify scripts.
// It performs the FSM's actions and nothing clever; what fails (an advert, a
// VIP, ARP) it reports to the FSM, which goes to FAULT and asks for a check later.

import type { VrrpInstanceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { VrrpFsm } from './fsm.js';
import { IO_STABLE_MS, type Action, type DropReason, type FsmConfig, type FsmStatus, type TimerName, type VrrpState } from './fsm-types.js';
import { errnoCode, ioErrorLine, type IoOp } from './io-error.js';
import type { Notifier } from './notify.js';
import { authDataFromPassword, encodeAdvert, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6, VRRP_TTL, AUTH_NONE, AUTH_PASS } from './packet.js';
import type { ReceivedPacket, VrrpTransport } from './transport.js';
import { type HostRoutes, RouteHolder } from './routes.js';
import { heldAddresses, type HostNet, VipHolder } from './vips.js';
import { AcceptGuard } from './accept.js';
import { DropLog } from './drop-log.js';
import type { AcceptFirewall } from '../net/nft.js';

export type { HostNet } from './vips.js';
export { heldAddresses } from './vips.js';

export interface InstanceDeps {
  net: HostNet;
  /** Routes and rules (virtual_routes, virtual_rules); without it an instance holds none. */
  routes?: HostRoutes;
  /** Enforces no_accept (nftables); without it no_accept is an error line at each MASTER. */
  firewall?: AcceptFirewall;
  log: Logger;
  notifier: Notifier;
  /** The socket of the instance's interface, if it is open. */
  socket(): VrrpTransport | undefined;
  /** Open the interface's socket if it is not: the error line if that fails, else undefined. */
  retrySocket(): string | undefined;
  /** Whether this process has an effective capability (undefined: assume it has). */
  hasCap?(cap: 'CAP_NET_ADMIN' | 'CAP_NET_RAW'): boolean;
  /** Monotonic milliseconds. */
  now(): number;
  /** Told when this master heard a lower-priority advert and announced its addresses (its sync group's masters follow). */
  onLowerPriority?(inst: VrrpInstance): void;
  /** Told after every transition (sync groups, status). */
  onTransition(inst: VrrpInstance, from: VrrpState, to: VrrpState, reason: string, forced: boolean): void;
}

export interface InstanceCounters {
  advertsSent: number;
  advertsReceived: number;
  sendErrors: number;
  becameMaster: number;
  dropped: Partial<Record<DropReason, number>>;
}

export interface InstanceStatus extends Omit<FsmStatus, 'io'> {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  advertIntervalCs: number;
  localIp?: string;
  vips: string[];
  vipsHeld: boolean;
  /** Set while an I/O failure holds the instance in FAULT: the reason, failures in a row, the next check. */
  io?: { reason: string; attempt: number; retryInMs: number };
  /** Wall-clock time of the last transition (ISO). */
  sinceWall: string;
  counters: InstanceCounters & { garpsSent: number };
}

/** What the state machine plans with: the counts and delays (the spacing of the messages is the shell's). */
const garpPlan = ({ intervalMs: _a, gnaIntervalMs: _b, ...plan }: VrrpInstanceConfig['garp']): FsmConfig['garp'] => plan;

export function fsmConfig(c: VrrpInstanceConfig): FsmConfig {
  return {
    name: c.name,
    vrid: c.vrid,
    version: c.version,
    priority: c.priority,
    advertIntervalCs: c.advertIntervalCs,
    preempt: c.preempt,
    preemptDelayMs: c.preemptDelayMs,
    answerLowerPriority: c.answerLowerPriority,
    ...(c.authPass !== undefined ? { authPass: c.authPass } : {}),
    unicastPeers: c.unicastPeers,
    checkUnicastSrc: c.checkUnicastSrc,
    garp: garpPlan(c.garp),
  };
}



export class VrrpInstance {
  cfg: VrrpInstanceConfig;
  readonly fsm: VrrpFsm;
  readonly counters: InstanceCounters = {
    advertsSent: 0,
    advertsReceived: 0,
    sendErrors: 0,
    becameMaster: 0,
    dropped: {},
  };
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  /** Dropped adverts: a mismatch with a peer warned about once a minute, the rest debug. */
  private readonly drops: DropLog;
  /** A VIP release waiting for the resignation advert to be sent. */
  private release: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private localIp: string | undefined;
  /** The VIPs: held while master, announced with gratuitous ARP. */
  private readonly vips: VipHolder;
  /** Its virtual_routes and virtual_rules, held with the VIPs. */
  private readonly routes: RouteHolder;
  /** no_accept: the firewall's drop rules for the VIPs while master. */
  private readonly accept: AcceptGuard;
  private sinceWall = new Date();
  /** Set while the sync group is forcing a transition, so it does not propagate again. */
  private forcing = false;
  /** The last advert send: gratuitous ARP waits for it (advert first, then ARP). */
  private lastSend: Promise<void> = Promise.resolve();
  /** Nesting of apply(): an I/O failure found while performing actions is reported after them. */
  private applying = 0;
  private pendingIo: string | undefined;
  private checkDue = false;
  /** What failed last, for the retry's check; and when its line was last logged (one line, not one per retry). */
  private ioCause: IoOp | { op: 'source' } | undefined;
  private lastIoLine: { reason: string; at: number } | undefined;

  constructor(
    cfg: VrrpInstanceConfig,
    private readonly deps: InstanceDeps,
  ) {
    this.cfg = cfg;
    this.fsm = new VrrpFsm(fsmConfig(cfg));
    this.log = deps.log.child({ instance: cfg.name });
    // A VIP the kernel refuses is a fault in any state; a refused ARP only matters to a master.
    this.routes = new RouteHolder(deps.routes, this.log);
    this.accept = new AcceptGuard(deps.firewall, cfg.name, this.log);
    this.drops = new DropLog(this.log, () => this.cfg.name, deps.now);
    this.vips = new VipHolder(deps.net, this.log, (op, err) => {
      if (op.op === 'vip' || this.fsm.state === 'MASTER') this.ioFailure(op, err);
    });
  }

  get name(): string {
    return this.cfg.name;
  }

  get state(): VrrpState {
    return this.fsm.state;
  }

  start(): void {
    this.apply(this.fsm.start(this.deps.now()));
  }

  /** Graceful stop: resign with priority 0 and release the VIPs. Resolves once the resignation is sent. */
  async stop(): Promise<void> {
    this.apply(this.fsm.stop(this.deps.now()));
    await this.lastSend.catch(() => undefined);
    await this.release;
  }

  onPacket(p: ReceivedPacket): void {
    this.counters.advertsReceived++;
    this.apply(this.fsm.onAdvert({ advert: p.advert, src: p.src, dst: p.dst, ttl: p.ttl }, this.deps.now()));
  }

  /** Source address for adverts and the tie-break: unicast_src_ip, else the interface's primary address. */
  setLocalIp(ip: string | undefined): void {
    const src = this.cfg.unicastSrcIp ?? ip;
    if (src === this.localIp) return;
    this.localIp = src;
    this.fsm.setLocalIp(src);
  }

  setFaults(reasons: string[]): void {
    this.apply(this.fsm.setFaults(reasons, this.deps.now()));
  }

  setGroupFault(on: boolean): void {
    this.withForcing(() => this.fsm.setGroupFault(on, this.deps.now()));
  }

  setPriority(p: number, reason: string): void {
    this.apply(this.fsm.setPriority(p, this.deps.now(), reason));
  }

  /** Whether the VIPs are held (a master's, unless they could not be added). */
  get holdsVips(): boolean {
    return this.vips.held;
  }

  /** A held VIP was deleted by someone else: back to BACKUP (keepalived's set_vrrp_backup), the sync group following. */
  vipLost(reason: string): void {
    this.log.warn({ event: 'vip-lost' }, `${this.cfg.name}: ${reason}: leaving MASTER (no_track on the address keeps it MASTER)`);
    this.apply(this.fsm.force('BACKUP', this.deps.now(), reason));
  }

  /** A sync-group peer heard a lower-priority advert as master. */
  groupHeardLowerPriority(member: string): void {
    this.apply(this.fsm.groupHeardLowerPriority(member, this.deps.now()));
  }

  force(to: 'MASTER' | 'BACKUP', reason: string): void {
    this.withForcing(() => this.fsm.force(to, this.deps.now(), reason));
  }

  /**
   * Take a new configuration that keeps this instance's identity (interface,
   * VRID, version, interval, authentication, peers): no transition, VIPs
   * changed in place while master.
   */
  reconfigure(cfg: VrrpInstanceConfig): void {
    const old = this.cfg;
    this.cfg = cfg;
    this.fsm.reconfigure(fsmConfig(cfg));
    if (!this.vips.held) return;
    const { ok, added } = this.vips.change(heldAddresses(old), heldAddresses(cfg));
    if (!ok) return; // FAULT now: the VIPs are released
    this.accept.hold(cfg);
    this.routes.change({ routes: old.virtualRoutes, rules: old.virtualRules }, this.heldRoutes());
    if (added.length > 0) void this.vips.announce(added, this.cfg.garp.count, this.cfg.garp, this.lastSend, 'VIPs added by reload');
  }

  /** The router could not open this instance's socket (or found it failing). */
  socketFailed(err: unknown): void {
    this.ioFailure({ op: 'socket', ifname: this.cfg.interface }, err);
  }

  status(): InstanceStatus {
    const { io, ...fsm } = this.fsm.status();
    return {
      ...fsm,
      ...(io ? { io: { reason: io.reason, attempt: io.attempt, retryInMs: Math.max(0, Math.round(io.retryAt - this.deps.now())) } } : {}),
      name: this.cfg.name,
      interface: this.cfg.interface,
      vrid: this.cfg.vrid,
      version: this.cfg.version,
      advertIntervalCs: this.cfg.advertIntervalCs,
      ...(this.localIp !== undefined ? { localIp: this.localIp } : {}),
      vips: this.cfg.virtualIps.map((v) => `${v.address}/${v.prefix}${v.device !== this.cfg.interface ? ` dev ${v.device}` : ''}`),
      vipsHeld: this.vips.held,
      sinceWall: this.sinceWall.toISOString(),
      counters: { ...structuredClone(this.counters), garpsSent: this.vips.garpsSent },
    };
  }

  /** Cancel every timer without sending anything (the instance is being replaced or the process exits). */
  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---- performing actions -----------------------------------------------

  private withForcing(fn: () => Action[]): void {
    this.forcing = true;
    try {
      this.apply(fn());
    } finally {
      this.forcing = false;
    }
  }

  private apply(actions: Action[]): void {
    this.applying++;
    try {
      this.perform(actions);
    } finally {
      this.applying--;
    }
    if (this.applying > 0) return;
    // After the whole list, so the log and the notify scripts see MASTER, then FAULT, in order.
    const io = this.pendingIo;
    this.pendingIo = undefined;
    if (io !== undefined) this.apply(this.fsm.ioFailed(io, this.deps.now()));
    else if (this.checkDue) {
      this.checkDue = false;
      this.checkIo();
    }
  }

  private perform(actions: Action[]): void {
    let sent = false;
    for (const a of actions) {
      switch (a.kind) {
        case 'send-advert':
          this.sendAdvert(a.priority);
          sent = true;
          break;
        case 'add-vips':
          // The drop rules first: a no_accept VIP never accepts a packet.
          this.accept.hold(this.cfg);
          if (this.vips.take(heldAddresses(this.cfg))) this.routes.take(this.heldRoutes());
          break;
        case 'del-vips':
          // Resigning (priority 0): release the VIPs once the advert is on the wire, so
          // the backup's Skew_Time starts as early as the client loses the old master.
          this.release = this.vips.release(heldAddresses(this.cfg), sent ? this.lastSend : undefined, () => {
            this.routes.release(this.heldRoutes());
            this.accept.release();
          });
          break;
        case 'garp':
          void this.vips.announce(heldAddresses(this.cfg), a.count, this.cfg.garp, this.lastSend, a.reason);
          if (a.lowerPriority) this.deps.onLowerPriority?.(this);
          break;
        case 'arm-timer':
          this.armTimer(a.timer, a.at);
          break;
        case 'cancel-timer': {
          const t = this.timers.get(a.timer);
          if (t) clearTimeout(t);
          this.timers.delete(a.timer);
          break;
        }
        case 'transition':
          this.onTransition(a.from, a.to, a.reason, a.stop === true);
          break;
        case 'drop':
          this.counters.dropped[a.reason] = (this.counters.dropped[a.reason] ?? 0) + 1;
          this.drops.log(a.reason, a.detail, a.src);
          break;
        case 'check-io':
          this.checkDue = true;
          break;
      }
    }
  }

  // ---- I/O faults ---------------------------------------------------------

  /** Something the state needs failed: one error line (not one per retry), then FAULT through the FSM. */
  private ioFailure(op: IoOp | { op: 'source' }, err: unknown, line = op.op === 'source' ? '' : ioErrorLine(op, err)): void {
    this.ioCause = op;
    const now = this.deps.now();
    const fresh = this.lastIoLine === undefined || this.lastIoLine.reason !== line || now - this.lastIoLine.at >= IO_STABLE_MS;
    this.lastIoLine = { reason: line, at: now };
    const fields = { event: 'io-fault', op: op.op, code: errnoCode(err) ?? null, state: this.fsm.state, interface: this.cfg.interface };
    if (fresh) this.log.error(fields, `${this.cfg.name}: ${line}`);
    else this.log.debug(fields, `${this.cfg.name}: still: ${line}`);
    if (this.applying > 0) this.pendingIo ??= line;
    else this.apply(this.fsm.ioFailed(line, now));
  }

  /** The retry is due: recovered unless the cause is evidently still there (checks without side effects, or reopening the socket). */
  private checkIo(): void {
    const still = this.ioStillFailing();
    const now = this.deps.now();
    if (still === undefined) {
      this.log.info({ event: 'io-recovered', op: this.ioCause?.op ?? null }, `${this.cfg.name}: retrying after the I/O fault: ${this.fsm.status().io?.reason ?? ''}`);
      this.ioCause = undefined;
      this.apply(this.fsm.ioRecovered(now));
      return;
    }
    if (still !== this.lastIoLine?.reason) this.log.error({ event: 'io-fault', op: this.ioCause?.op ?? null }, `${this.cfg.name}: ${still}`);
    this.lastIoLine = { reason: still, at: now };
    this.apply(this.fsm.ioFailed(still, now));
  }

  private ioStillFailing(): string | undefined {
    const current = this.fsm.status().io?.reason;
    const sock = this.deps.retrySocket();
    if (sock !== undefined) return sock;
    if (this.localIp === undefined) return this.noSourceLine();
    const cause = this.ioCause;
    if (!cause || cause.op === 'socket' || cause.op === 'source') return undefined;
    // A capability never comes back to a running process: no point in taking over to fail again.
    const cap = cause.op === 'vip' ? 'CAP_NET_ADMIN' : 'CAP_NET_RAW';
    if (this.deps.hasCap && !this.deps.hasCap(cap) && /EPERM|EACCES/.test(current ?? '')) return current;
    if ((cause.op === 'vip' || cause.op === 'arp') && !this.deps.net.link(cause.device)) return current;
    // Nothing to see from here (a kernel refusal, a route, a firewall): join the election and try again.
    return undefined;
  }

  private noSourceLine(): string {
    const i = this.cfg.interface;
    if (this.cfg.family === 'inet6') return `cannot send adverts on ${i}: it has no usable IPv6 link-local address (fe80::/64; none, or still in duplicate address detection): enable IPv6 on it or set unicast_src_ip`;
    return `cannot send adverts on ${i}: it has no IPv4 address: add one or set unicast_src_ip`;
  }

  private armTimer(timer: TimerName, at: number): void {
    const old = this.timers.get(timer);
    if (old) clearTimeout(old);
    const fire = (): void => {
      const now = this.deps.now();
      // libuv's millisecond clock can run a timer a fraction of a millisecond early.
      if (at - now > 0.2) {
        this.timers.set(timer, setTimeout(fire, at - now));
        return;
      }
      this.timers.delete(timer);
      this.apply(this.fsm.onTimer(timer, now));
    };
    this.timers.set(timer, setTimeout(fire, Math.max(0, at - this.deps.now())));
  }

  private sendAdvert(priority: number): void {
    const sock = this.deps.socket();
    const src = this.localIp;
    if (!sock || sock.isClosed || src === undefined) {
      this.counters.sendErrors++;
      this.lastSend = Promise.resolve();
      // Only a master's adverts matter here: a resignation that cannot go out is moot.
      if (this.fsm.state !== 'MASTER') return;
      if (src === undefined) this.ioFailure({ op: 'source' }, undefined, this.noSourceLine());
      else this.ioFailure({ op: 'socket', ifname: this.cfg.interface }, undefined, `cannot send adverts on ${this.cfg.interface}: no VRRP socket is open on it (see the error before)`);
      return;
    }
    const c = this.cfg;
    const dsts = c.unicastPeers.length > 0 ? c.unicastPeers : [c.family === 'inet6' ? VRRP_MULTICAST_V6 : VRRP_MULTICAST_V4];
    const sends = dsts.map((dst) => {
      const payload = encodeAdvert(
        {
          version: c.version,
          vrid: c.vrid,
          priority,
          intervalCs: c.advertIntervalCs,
          addresses: c.virtualIps.map((v) => v.address),
          authType: c.authPass === undefined ? AUTH_NONE : AUTH_PASS,
          authData: authDataFromPassword(c.authPass),
        },
        { src, dst, checksum: c.v3Checksum },
      );
      return sock.send(src, dst, payload, dst === VRRP_MULTICAST_V4 ? VRRP_TTL : c.unicastTtl).then(
        () => {
          this.counters.advertsSent++;
        },
        (err: Error) => {
          this.counters.sendErrors++;
          if (this.fsm.state === 'MASTER') this.ioFailure({ op: 'advert', ifname: c.interface, dst }, err);
          else this.log.debug({ dst, err: err.message, priority }, `advert to ${dst} failed: ${err.message}`);
        },
      );
    });
    this.lastSend = Promise.all(sends).then(() => undefined);
  }

  private heldRoutes(): { routes: VrrpInstanceConfig['virtualRoutes']; rules: VrrpInstanceConfig['virtualRules'] } {
    return { routes: this.cfg.virtualRoutes, rules: this.cfg.virtualRules };
  }

  private onTransition(from: VrrpState, to: VrrpState, reason: string, stop: boolean): void {
    this.sinceWall = new Date();
    if (to === 'MASTER') this.counters.becameMaster++;
    const forced = this.forcing;
    const priority = this.fsm.priority;
    this.log.info(
      { event: 'vrrp-transition', from, to: stop ? 'STOP' : to, reason, priority, vrid: this.cfg.vrid, interface: this.cfg.interface },
      `${this.cfg.name} ${from} -> ${stop ? 'STOP' : to}: ${reason}`,
    );
    const notifyState = stop ? 'STOP' : to === 'INIT' ? undefined : to;
    if (notifyState) this.deps.notifier.notify('INSTANCE', this.cfg.name, this.cfg.notify, notifyState, priority);
    this.deps.onTransition(this, from, to, reason, forced);
  }
}
