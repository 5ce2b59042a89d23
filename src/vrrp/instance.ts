// One VRRP instance at run time: binds its pure state machine to timers,
// the interface's VRRP socket, addresses, gratuitous ARP and notify scripts.
// It performs the FSM's actions and nothing clever.

import type { VrrpInstanceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { VrrpFsm, type Action, type DropReason, type FsmConfig, type FsmStatus, type TimerName, type VrrpState } from './fsm.js';
import type { Notifier } from './notify.js';
import { authDataFromPassword, encodeAdvert, VRRP_MULTICAST_V4, AUTH_NONE, AUTH_PASS } from './packet.js';
import type { ReceivedPacket, VrrpSocket } from './transport.js';

/** What an instance needs from the host: addresses, links, ARP. Implemented over src/net. */
export interface HostNet {
  /** Index and MAC of a link, or undefined if it does not exist. */
  link(name: string): { index: number; mac: string } | undefined;
  /** Add an address; false if it was already there. */
  addAddress(device: string, address: string, prefix: number, label?: string): boolean;
  /** Remove an address; false if it was not there. */
  delAddress(device: string, address: string, prefix: number): boolean;
  sendGratuitousArp(ifindex: number, mac: string, ip: string): void;
}

export interface InstanceDeps {
  net: HostNet;
  log: Logger;
  notifier: Notifier;
  /** The socket of the instance's interface, if it is open. */
  socket(): VrrpSocket | undefined;
  /** Monotonic milliseconds. */
  now(): number;
  /** Told after every transition (sync groups, status). */
  onTransition(inst: VrrpInstance, from: VrrpState, to: VrrpState, reason: string, forced: boolean): void;
}

export interface InstanceCounters {
  advertsSent: number;
  advertsReceived: number;
  sendErrors: number;
  becameMaster: number;
  garpsSent: number;
  dropped: Partial<Record<DropReason, number>>;
}

export interface InstanceStatus extends FsmStatus {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  advertIntervalCs: number;
  localIp?: string;
  vips: string[];
  vipsHeld: boolean;
  /** Wall-clock time of the last transition (ISO). */
  sinceWall: string;
  counters: InstanceCounters;
}

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
    garp: { repeatDelayMs: c.garp.repeatDelayMs, refreshMs: c.garp.refreshMs },
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
    garpsSent: 0,
    dropped: {},
  };
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  /** A VIP release waiting for the resignation advert to be sent. */
  private release: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private localIp: string | undefined;
  private vipsHeld = false;
  private sinceWall = new Date();
  /** Set while the sync group is forcing a transition, so it does not propagate again. */
  private forcing = false;
  /** The last advert send: gratuitous ARP waits for it (advert first, then ARP). */
  private lastSend: Promise<void> = Promise.resolve();
  private warnedNoSource = false;

  constructor(
    cfg: VrrpInstanceConfig,
    private readonly deps: InstanceDeps,
  ) {
    this.cfg = cfg;
    this.fsm = new VrrpFsm(fsmConfig(cfg));
    this.log = deps.log.child({ instance: cfg.name });
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
    this.apply(this.fsm.onAdvert({ advert: p.advert, src: p.src, ttl: p.ttl }, this.deps.now()));
  }

  /** Source address for adverts and the tie-break: unicast_src_ip, else the interface's primary address. */
  setLocalIp(ip: string | undefined): void {
    const src = this.cfg.unicastSrcIp ?? ip;
    if (src === this.localIp) return;
    this.localIp = src;
    this.warnedNoSource = false;
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
    if (!this.vipsHeld) return;
    const key = (v: { address: string; prefix: number; device: string }) => `${v.device} ${v.address}/${v.prefix}`;
    const newKeys = new Set(cfg.virtualIps.map(key));
    const oldKeys = new Set(old.virtualIps.map(key));
    for (const v of old.virtualIps) if (!newKeys.has(key(v))) this.delVip(v);
    const added = cfg.virtualIps.filter((v) => !oldKeys.has(key(v)));
    for (const v of added) this.addVip(v);
    if (added.length > 0) void this.garpBurst(added, 'VIPs added by reload');
  }

  status(): InstanceStatus {
    return {
      ...this.fsm.status(),
      name: this.cfg.name,
      interface: this.cfg.interface,
      vrid: this.cfg.vrid,
      version: this.cfg.version,
      advertIntervalCs: this.cfg.advertIntervalCs,
      ...(this.localIp !== undefined ? { localIp: this.localIp } : {}),
      vips: this.cfg.virtualIps.map((v) => `${v.address}/${v.prefix}${v.device !== this.cfg.interface ? ` dev ${v.device}` : ''}`),
      vipsHeld: this.vipsHeld,
      sinceWall: this.sinceWall.toISOString(),
      counters: structuredClone(this.counters),
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
    let sent = false;
    for (const a of actions) {
      switch (a.kind) {
        case 'send-advert':
          this.sendAdvert(a.priority);
          sent = true;
          break;
        case 'add-vips':
          for (const v of this.cfg.virtualIps) this.addVip(v);
          this.vipsHeld = true;
          break;
        case 'del-vips': {
          this.vipsHeld = false;
          const vips = this.cfg.virtualIps;
          if (!sent) {
            for (const v of vips) this.delVip(v);
            break;
          }
          // Resigning (priority 0): release the VIPs once the advert is on the wire, so
          // the backup's Skew_Time starts as early as the client loses the old master.
          this.release = this.lastSend
            .catch(() => undefined)
            .then(() => {
              if (!this.vipsHeld) for (const v of vips) this.delVip(v);
            });
          break;
        }
        case 'garp':
          void this.garpBurst(this.cfg.virtualIps, a.reason);
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
          this.log.debug({ drop: a.reason, detail: a.detail }, `advert dropped: ${a.detail}`);
          break;
      }
    }
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
      if (!this.warnedNoSource) {
        this.warnedNoSource = true;
        this.log.warn(
          { interface: this.cfg.interface },
          src === undefined
            ? `cannot send adverts: ${this.cfg.interface} has no IPv4 address; add one or set unicast_src_ip`
            : `cannot send adverts: no VRRP socket on ${this.cfg.interface}`,
        );
      }
      return;
    }
    const c = this.cfg;
    const dsts = c.unicastPeers.length > 0 ? c.unicastPeers : [VRRP_MULTICAST_V4];
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
      return sock.send(src, dst, payload).then(
        () => {
          this.counters.advertsSent++;
        },
        (err: Error) => {
          this.counters.sendErrors++;
          this.log.warn({ dst, err: err.message }, `advert to ${dst} failed: ${err.message}`);
        },
      );
    });
    this.lastSend = Promise.all(sends).then(() => undefined);
  }

  private addVip(v: VrrpInstanceConfig['virtualIps'][number]): void {
    try {
      if (this.deps.net.addAddress(v.device, v.address, v.prefix, v.label))
        this.log.debug({ vip: `${v.address}/${v.prefix}`, device: v.device }, `added ${v.address}/${v.prefix} to ${v.device}`);
    } catch (err) {
      this.log.error({ vip: v.address, device: v.device, err: (err as Error).message }, `cannot add VIP: ${(err as Error).message}`);
    }
  }

  private delVip(v: VrrpInstanceConfig['virtualIps'][number]): void {
    try {
      this.deps.net.delAddress(v.device, v.address, v.prefix);
    } catch (err) {
      this.log.error({ vip: v.address, device: v.device, err: (err as Error).message }, `cannot remove VIP: ${(err as Error).message}`);
    }
  }

  /** One burst: `garp.count` ARPs for every VIP, `garp.intervalMs` apart, after the advert has gone out. */
  private async garpBurst(vips: VrrpInstanceConfig['virtualIps'], reason: string): Promise<void> {
    await this.lastSend.catch(() => undefined);
    // Yield to timers due now (an advert often is: the second burst lands on the advert grid).
    await new Promise((r) => setImmediate(r));
    const { count, intervalMs } = this.cfg.garp;
    const links = new Map<string, { index: number; mac: string } | undefined>();
    for (let i = 0; i < count; i++) {
      if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      if (!this.vipsHeld) return;
      for (const v of vips) {
        if (!links.has(v.device)) links.set(v.device, this.deps.net.link(v.device));
        const link = links.get(v.device);
        if (!link) continue;
        try {
          this.deps.net.sendGratuitousArp(link.index, link.mac, v.address);
          this.counters.garpsSent++;
        } catch (err) {
          this.log.warn({ vip: v.address, device: v.device, err: (err as Error).message }, `gratuitous ARP failed`);
        }
      }
    }
    this.log.debug({ reason, vips: vips.length, count }, `gratuitous ARP burst: ${reason}`);
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
