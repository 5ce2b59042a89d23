// The VRRP side of the daemon: one socket per interface, the instances on it
// (demultiplexed by VRID), link tracking, sync groups and reloads. A socket that
// cannot be opened puts the interface's instances in FAULT; their retries reopen it.

import type { AcceptFirewall } from '../net/nft.js';
import type { Config, SyncGroupConfig, VrrpInstanceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { VrrpState } from './fsm-types.js';
import { VrrpInstance, type InstanceStatus } from './instance.js';
import type { HostRoutes } from './routes.js';
import type { HostNet } from './vips.js';
import { ioErrorLine } from './io-error.js';
import type { Notifier } from './notify.js';
import { groupFaults, groupState, propagate, type MemberView } from './syncgroup.js';
import { type FileStatus, type ProcessStatus, type ScriptStatus, type Tracked, trackEffect } from './track.js';
import { VrrpSocket, type TransportCounters, type VrrpTransport } from './transport.js';
import { VrrpSocket6 } from './transport6.js';

export interface LinkState {
  index: number;
  /** Administratively up and carrier present. */
  usable: boolean;
}

/** Host access the router needs on top of what instances need. */
export interface HostLinks extends HostNet {
  linkState(name: string): LinkState | undefined;
  /** First primary IPv4 address of the interface that is not in `exclude` (our VIPs). */
  primaryIpv4(name: string, exclude: ReadonlySet<string>): string | undefined;
  /** Whether `device` has `address` now (a VIP deleted by hand is noticed; without it, it is not). */
  hasAddress?(device: string, address: string): boolean;
  /** The interface's usable (DAD done) link-local IPv6 address: the source of IPv6 adverts (RFC 5798 5.1.2.1). */
  linkLocalIpv6?(name: string): string | undefined;
  /** Call `onChange` whenever a link or an IPv4 address changes. */
  watch(onChange: () => void): { close(): void };
}

export interface RouterDeps {
  net: HostLinks;
  /** Routes and rules for virtual_routes / virtual_rules. */
  routes?: HostRoutes;
  /** Enforces no_accept for every instance (nftables). */
  firewall?: AcceptFirewall;
  log: Logger;
  notifier: Notifier;
  now(): number;
  /** Told after every transition of every instance (the daemon's IPVS sync daemon follows it). */
  onTransition?(instance: string, from: VrrpState, to: VrrpState, reason: string): void;
  /** Opens the VRRP socket of an interface (injected so tests can count opens). */
  openSocket?(ifname: string, ifindex: number, family?: 'inet6'): VrrpTransport;
  /** Whether the process has an effective capability (default: assume it has). */
  hasCap?(cap: 'CAP_NET_ADMIN' | 'CAP_NET_RAW'): boolean;
  /** What an instance tracks besides links (scripts, files), as of now; `retrack()` when it changes. */
  tracked?(instance: string): Tracked[];
}

export interface GroupStatus {
  name: string;
  state: VrrpState | 'TRANSITIONING';
  members: string[];
}

export interface RouterStatus {
  instances: InstanceStatus[];
  groups: GroupStatus[];
  interfaces: { name: string; ifindex: number; counters: TransportCounters }[];
  /** Tracked vrrp_scripts (filled in by the daemon, which runs them). */
  scripts?: ScriptStatus[];
  /** Tracked track_files and vrrp_track_processes (filled in by the daemon, which watches them). */
  files?: FileStatus[];
  processes?: ProcessStatus[];
}

/** Fields that define who an instance is on the wire: change one and the instance restarts. */
function identity(c: VrrpInstanceConfig): string {
  return JSON.stringify([c.interface, c.vrid, c.version, c.advertIntervalCs, c.authPass, c.unicastSrcIp, c.unicastPeers, c.family]);
}

/** The socket an instance uses: one per interface and family ("eth0", "eth0/inet6"; a name has no "/"). */
const socketKey = (c: VrrpInstanceConfig): string => (c.family === 'inet6' ? `${c.interface}/inet6` : c.interface);
const ifnameOf = (key: string): string => key.split('/')[0]!;

export class VrrpRouter {
  private instances = new Map<string, VrrpInstance>();
  private groups: SyncGroupConfig[] = [];
  private groupStates = new Map<string, VrrpState | undefined>();
  private sockets = new Map<string, VrrpTransport>();
  /** Interfaces whose socket failed to open: not retried on every link event, but by the instances' backoff. */
  private socketErrors = new Map<string, { ifindex: number; line: string; err: unknown }>();
  private watcher: { close(): void } | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: RouterDeps) {
    this.log = deps.log;
  }

  start(cfg: Config): void {
    this.watcher = this.deps.net.watch(() => this.refreshLinks());
    this.groups = cfg.syncGroups;
    for (const c of cfg.instances) this.instances.set(c.name, this.newInstance(c));
    this.refreshLinks();
    for (const inst of this.instances.values()) inst.start();
  }

  /** Apply a new, already validated configuration: only what changed moves. */
  async reload(cfg: Config): Promise<{ added: string[]; removed: string[]; restarted: string[]; updated: string[] }> {
    const result = { added: [] as string[], removed: [] as string[], restarted: [] as string[], updated: [] as string[] };
    const next = new Map(cfg.instances.map((c) => [c.name, c]));
    for (const [name, inst] of this.instances) {
      const c = next.get(name);
      if (!c) {
        await this.retire(inst);
        result.removed.push(name);
      } else if (identity(c) !== identity(inst.cfg)) {
        await this.retire(inst);
        this.instances.set(name, this.newInstance(c));
        result.restarted.push(name);
      } else if (JSON.stringify(c) !== JSON.stringify(inst.cfg)) {
        inst.reconfigure(c);
        result.updated.push(name);
      }
    }
    for (const c of cfg.instances) {
      if (!this.instances.has(c.name)) {
        this.instances.set(c.name, this.newInstance(c));
        result.added.push(c.name);
      }
    }
    this.groups = cfg.syncGroups;
    this.refreshLinks();
    for (const name of [...result.added, ...result.restarted]) {
      const inst = this.instances.get(name)!;
      // Its interface's socket already failed to open: FAULT from the start, not a takeover without a socket.
      const failed = this.socketErrors.get(socketKey(inst.cfg));
      if (failed) inst.socketFailed(failed.err);
      inst.start();
    }
    this.applyGroupFaults();
    return result;
  }

  /** Graceful stop: every master resigns with priority 0 and releases its VIPs. */
  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    await Promise.all([...this.instances.values()].map((i) => i.stop()));
    for (const i of this.instances.values()) i.dispose();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  status(): RouterStatus {
    return {
      instances: [...this.instances.values()].map((i) => i.status()),
      groups: this.groups.map((g) => ({
        name: g.name,
        state: this.groupStates.get(g.name) ?? 'TRANSITIONING',
        members: g.instances,
      })),
      interfaces: [...this.sockets.values()].map((s) => ({ name: s.ifname, ifindex: s.ifindex, counters: structuredClone(s.counters) })),
    };
  }

  instance(name: string): VrrpInstance | undefined {
    return this.instances.get(name);
  }

  // ---- internals --------------------------------------------------------

  private newInstance(c: VrrpInstanceConfig): VrrpInstance {
    return new VrrpInstance(c, {
      net: this.deps.net,
      ...(this.deps.routes ? { routes: this.deps.routes } : {}),
      ...(this.deps.firewall ? { firewall: this.deps.firewall } : {}),
      log: this.log,
      notifier: this.deps.notifier,
      now: this.deps.now,
      socket: () => this.sockets.get(socketKey(c)),
      retrySocket: () => this.retrySocket(socketKey(c)),
      ...(this.deps.hasCap ? { hasCap: this.deps.hasCap } : {}),
      onTransition: (inst, from, to, reason, forced) => this.onTransition(inst, from, to, forced, reason),
      onLowerPriority: (inst) => {
        const g = this.groups.find((x) => x.instances.includes(inst.name));
        for (const m of g?.instances ?? []) if (m !== inst.name) this.instances.get(m)?.groupHeardLowerPriority(inst.name);
      },
    });
  }

  private async retire(inst: VrrpInstance): Promise<void> {
    await inst.stop();
    inst.dispose();
    this.instances.delete(inst.name);
  }

  /**
   * Level-triggered: re-read every interface the instances use and derive
   * sockets, source addresses, faults and effective priorities from it.
   */
  private refreshLinks(): void {
    const net = this.deps.net;
    const vips = new Set([...this.instances.values()].flatMap((i) => [...i.cfg.virtualIps, ...(i.cfg.excludedIps ?? [])].map((v) => v.address)));
    const wanted = new Set([...this.instances.values()].map((i) => socketKey(i.cfg)));

    for (const [name, sock] of this.sockets) {
      const link = net.linkState(ifnameOf(name));
      if (!wanted.has(name) || !link || link.index !== sock.ifindex || sock.isClosed) {
        sock.close();
        this.sockets.delete(name);
      }
    }
    for (const name of [...this.socketErrors.keys()]) if (!wanted.has(name)) this.socketErrors.delete(name);
    for (const name of wanted) {
      if (this.sockets.has(name)) continue;
      const link = net.linkState(ifnameOf(name));
      if (link && this.socketErrors.get(name)?.ifindex !== link.index) this.openSocket(name, link.index);
    }

    for (const inst of this.instances.values()) {
      const c = inst.cfg;
      inst.setLocalIp(c.family === 'inet6' ? net.linkLocalIpv6?.(c.interface) : net.primaryIpv4(c.interface, vips));
    }
    this.retrack();
  }

  /**
   * Level-triggered too: every instance's faults and effective priority from its own
   * link, its tracked links and what `deps.tracked` reports (scripts, files), by
   * keepalived's rules (track.ts). Called on link events and on tracker changes.
   */
  retrack(): void {
    const net = this.deps.net;
    for (const inst of this.instances.values()) {
      const c = inst.cfg;
      const own = net.linkState(c.interface);
      const tracked: Tracked[] = c.trackInterfaces.map((t) => {
        const l = net.linkState(t.name);
        return { what: `tracked interface ${t.name}${l ? '' : ' (missing)'}`, weight: t.weight, reverse: t.reverse, up: l?.usable ?? false };
      });
      tracked.push(...(this.deps.tracked?.(c.name) ?? []));
      const eff = trackEffect(c.priority, tracked);
      const faults = [...(!own ? [`interface ${c.interface} does not exist`] : !own.usable ? [`interface ${c.interface} is down`] : []), ...eff.faults];
      inst.setPriority(eff.priority, eff.adjustments.length > 0 ? eff.adjustments.join(', ') : 'tracking restored');
      inst.setFaults(faults);
    }
    this.checkHeldVips();
  }

  /**
   * keepalived's VIP tracking: a VIP deleted by hand from a master (unless
   * no_track) takes the instance back to BACKUP, and the election decides again
   * — the peer takes over, or with none this host is MASTER again after
   * Master_Down_Interval and adds its VIPs afresh.
   */
  private checkHeldVips(): void {
    const has = this.deps.net.hasAddress?.bind(this.deps.net);
    if (!has) return;
    for (const inst of this.instances.values()) {
      if (inst.state !== 'MASTER' || !inst.holdsVips) continue;
      const gone = inst.cfg.virtualIps.filter((v) => !v.noTrack && !has(v.device, v.address));
      if (gone.length > 0) inst.vipLost(`VIP ${gone.map((v) => `${v.address}/${v.prefix} on ${v.device}`).join(', ')} deleted by someone else`);
    }
  }

  /** For an instance's I/O retry: the socket of `name` (a socket key), opened now if it is missing; the error line if that fails. */
  private retrySocket(name: string): string | undefined {
    const link = this.deps.net.linkState(ifnameOf(name));
    if (!link) return undefined; // a missing interface is a link fault, not an I/O one
    const sock = this.sockets.get(name);
    if (sock && !sock.isClosed && sock.ifindex === link.index) return undefined;
    sock?.close();
    this.sockets.delete(name);
    this.socketErrors.delete(name);
    return this.openSocket(name, link.index);
  }

  /** Opens the socket of `name` (a socket key); on failure the instances on it go to FAULT and the error line is returned. */
  private openSocket(name: string, ifindex: number): string | undefined {
    const ifname = ifnameOf(name);
    const v6 = name !== ifname;
    try {
      const sock = this.deps.openSocket
        ? this.deps.openSocket(ifname, ifindex, ...(v6 ? (['inet6'] as const) : []))
        : v6
          ? new VrrpSocket6(ifname, ifindex)
          : new VrrpSocket(ifname, ifindex);
      sock.on('packet', (p) => {
        for (const inst of this.instances.values())
          if (socketKey(inst.cfg) === name && inst.cfg.vrid === p.advert.vrid) return inst.onPacket(p);
        sock.counters.dropped['unknown-vrid'] = (sock.counters.dropped['unknown-vrid'] ?? 0) + 1;
      });
      sock.on('error', (err) => {
        this.log.error({ interface: ifname, err: err.message }, `VRRP socket on ${ifname}${v6 ? ' (IPv6)' : ''} failed, reopening: ${err.message}`);
        setImmediate(() => this.refreshLinks());
      });
      this.sockets.set(name, sock);
      this.socketErrors.delete(name);
      return undefined;
    } catch (err) {
      const line = ioErrorLine({ op: 'socket', ifname }, err);
      const first = this.socketErrors.get(name)?.line !== line;
      this.socketErrors.set(name, { ifindex, line, err });
      // Each instance on the interface logs the line (once) as it goes to FAULT.
      if (first) for (const inst of this.instances.values()) if (socketKey(inst.cfg) === name) inst.socketFailed(err);
      return line;
    }
  }

  private members(g: SyncGroupConfig): MemberView[] {
    return g.instances.flatMap((n) => {
      const i = this.instances.get(n);
      return i ? [{ name: n, state: i.state, ownFault: i.fsm.ownFault }] : [];
    });
  }

  private onTransition(inst: VrrpInstance, from: VrrpState, to: VrrpState, forced: boolean, reason = ''): void {
    this.deps.onTransition?.(inst.name, from, to, reason);
    const g = this.groups.find((x) => x.instances.includes(inst.name));
    if (!g) return;
    if (!forced) {
      for (const cmd of propagate(g.name, this.members(g), inst.name, from, to))
        if (cmd.kind === 'force') this.instances.get(cmd.member)?.force(cmd.to, cmd.reason);
    }
    this.applyGroupFaults();
    this.notifyGroups();
  }

  private applyGroupFaults(): void {
    for (const g of this.groups)
      for (const cmd of groupFaults(this.members(g)))
        if (cmd.kind === 'group-fault') this.instances.get(cmd.member)?.setGroupFault(cmd.on);
  }

  private notifyGroups(): void {
    for (const g of this.groups) {
      const s = groupState(this.members(g));
      if (s === undefined || s === this.groupStates.get(g.name)) continue;
      this.groupStates.set(g.name, s);
      this.log.info({ event: 'sync-group-transition', group: g.name, to: s }, `sync group ${g.name} is ${s}`);
      if (s !== 'INIT') this.deps.notifier.notify('GROUP', g.name, g.notify, s, 0);
    }
  }
}
