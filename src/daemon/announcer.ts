// The ECMP tier's shell: performs what src/director/announce.ts decides. Each
// announced VIP is a blackhole /32 (/128) route in `announce.table`, protocol
// 86 (vipd's): a table nothing routes by, which the routing daemon (BIRD's
// kernel protocol with `learn`, FRR's `ip import-table`) reads and exports to
// its BGP peers. Withdrawing is deleting the route; the daemon sees it at once
// (rtnetlink notification) and withdraws the prefix from its peers.
//
// Fed by forwarding (the quorum of every plan, after its table is committed),
// the host health scripts and the stop: withdrawn first on SIGTERM. The routes
// in the kernel are remembered in a state file beside the control socket: a
// vipd started after a crash adopts its predecessor's routes, keeps those still
// wanted and deletes the rest (a reboot empties both the table and /run).

import type { AnnounceConfig, Config } from '../config/types.js';
import { decideAnnouncements, tierHash, type VipDecision } from '../director/announce.js';
import type { VsView } from '../director/desired.js';
import type { Logger } from '../log.js';
import { type RouteSpec, RtRoutes, routeText } from '../net/rtroute.js';
import { readState, stateFilePath, writeState } from '../state-file.js';

/** rtm_protocol of vipd's routes (`ip route show table 200 proto 86`; BIRD: `krt_source = 86`). */
export const RTPROT_VIPD = 86;

/** The kernel side, injectable for unit tests. */
export interface RouteOps {
  /** Adds; false when it is there already. */
  add(r: RouteSpec): boolean;
  /** Deletes; false when it was not there. */
  del(r: RouteSpec): boolean;
}

/** What the state file holds: the routes in the kernel. */
export interface Saved {
  routes: { address: string; family: 'inet' | 'inet6'; table: number }[];
}

/** /run/vipd/vipd-announced.json: the routes in the kernel, for a successor or `vipd withdraw`. */
export const announcedStateFile = (controlSocket: string): string => stateFilePath(controlSocket, 'announced');

export function hostRouteOps(): RouteOps {
  let rt: RtRoutes | undefined;
  const routes = (): RtRoutes => (rt ??= new RtRoutes());
  return {
    add: (r) => routes().addRoute(r, undefined),
    del: (r) => routes().delRoute(r, undefined),
  };
}

export interface AnnounceStatus {
  table: number;
  /** The tier hash (src/director/announce.ts): equal on every director of a tier. */
  tierHash?: string;
  vips: (VipDecision & { inKernel: boolean })[];
  /** Routes the kernel refused (retried every RETRY_MS). */
  problems: string[];
}

export class Announcer {
  private cfg: AnnounceConfig;
  private vss: Config['virtualServers'];
  private readonly quorum = new Map<string, boolean>();
  /** address -> the route in the kernel (its table: a reload may move it). */
  private readonly installed = new Map<string, RouteSpec>();
  private decisions: VipDecision[] = [];
  private problems: string[] = [];
  private stopping = false;
  private retryTimer: NodeJS.Timeout | undefined;
  static readonly RETRY_MS = 5000;
  private readonly stateFile: string;
  /** The routes as last saved (JSON), so an unchanged set is not written again. */
  private savedText = '[]';

  constructor(
    cfg: Config,
    private readonly log: Logger,
    /** The announce.track_script scripts failing now. */
    private readonly failing: (names: readonly string[]) => string[],
    private readonly ops: RouteOps = hostRouteOps(),
  ) {
    this.cfg = cfg.announce;
    this.vss = cfg.virtualServers;
    this.stateFile = announcedStateFile(cfg.global.controlSocket);
    // A predecessor's routes (it was killed): apply() keeps the wanted ones and deletes the rest.
    const saved = readState<Saved>(this.stateFile)?.routes ?? [];
    for (const r of saved) this.installed.set(r.address, this.spec(r.address, r.family, r.table));
    this.savedText = JSON.stringify(saved);
  }

  /** Whether anything is announced now. */
  get announcing(): boolean {
    return this.installed.size > 0;
  }

  /** A configuration (reload): a changed table moves the routes; the quorum of removed virtual servers is forgotten. */
  configure(cfg: Config): void {
    this.cfg = cfg.announce;
    this.vss = cfg.virtualServers;
    const names = new Set(cfg.virtualServers.map((v) => v.name));
    for (const n of [...this.quorum.keys()]) if (!names.has(n)) this.quorum.delete(n);
  }

  /** A plan's views (after its table is committed): their quorum, then the routes. */
  update(views: readonly VsView[]): void {
    for (const v of views) this.quorum.set(v.name, v.quorum.met);
    this.apply();
  }

  /** A host health script changed. */
  retrack(): void {
    this.apply();
  }

  /** SIGTERM: every route out, before anything else stops; how many were withdrawn. */
  withdrawAll(): number {
    const n = this.installed.size;
    this.stopping = true;
    this.apply();
    return n;
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  status(): AnnounceStatus {
    const hash = tierHash(this.vss);
    return {
      table: this.cfg.table,
      ...(hash ? { tierHash: hash } : {}),
      vips: this.decisions.map((d) => ({ ...d, inKernel: this.installed.has(d.address) })),
      problems: [...this.problems],
    };
  }

  private spec(address: string, family: 'inet' | 'inet6', table: number): RouteSpec {
    return { family, type: 'blackhole', to: { address, prefix: family === 'inet' ? 32 : 128 }, table, protocol: RTPROT_VIPD };
  }

  private apply(): void {
    const failingScripts = this.cfg.trackScripts.length > 0 ? this.failing(this.cfg.trackScripts) : [];
    const previous = new Map(this.decisions.map((d) => [d.address, d]));
    this.decisions = decideAnnouncements(this.vss, { quorum: this.quorum, failingScripts, stopping: this.stopping });
    const problems: string[] = [];
    const wanted = new Set(this.decisions.filter((d) => d.announced).map((d) => d.address));
    // Withdrawals first: a reload that moves the table must not leave two routes.
    for (const [address, r] of [...this.installed]) {
      if (wanted.has(address) && r.table === this.cfg.table) continue;
      const d = this.decisions.find((x) => x.address === address);
      const reason = d?.reason ?? 'withdrawn: no virtual server announces it any more';
      try {
        this.ops.del(r);
        this.installed.delete(address);
        if (wanted.has(address)) continue; // moved to the new table below
        this.log.warn({ event: 'vip-withdrawn', vip: address, table: r.table, reason }, `VIP ${address} WITHDRAWN (route ${routeText(r)} deleted): ${reason.replace(/^withdrawn: /, '')}`);
      } catch (err) {
        problems.push(`cannot withdraw ${address}: ${(err as Error).message}`);
      }
    }
    for (const d of this.decisions) {
      if (!d.announced || this.installed.has(d.address)) continue;
      const r = this.spec(d.address, d.family, this.cfg.table);
      try {
        this.ops.add(r);
        this.installed.set(d.address, r);
        this.log.info({ event: 'vip-announced', vip: d.address, table: r.table, reason: d.reason }, `VIP ${d.address} ANNOUNCED (route ${routeText(r)}): ${d.reason.replace(/^announced: /, '')}`);
      } catch (err) {
        problems.push(`cannot announce ${d.address} (${routeText(r)}): ${(err as Error).message}`);
      }
    }
    for (const d of this.decisions) {
      const p = previous.get(d.address);
      // A withdrawn VIP whose reason changed (another virtual server lost quorum too): at debug, not a new event.
      if (p && !p.announced && !d.announced && p.reason !== d.reason) this.log.debug({ event: 'vip-withdrawn-reason', vip: d.address, reason: d.reason }, `VIP ${d.address} stays withdrawn: ${d.reason}`);
    }
    const routes = [...this.installed.values()].map((r) => ({ address: r.to.address, family: r.family, table: r.table }));
    if (JSON.stringify(routes) !== this.savedText) this.save({ routes });
    for (const p of problems) if (!this.problems.includes(p)) this.log.error({ event: 'announce-failed', problem: p }, `announce: ${p}`);
    this.problems = problems;
    clearTimeout(this.retryTimer);
    this.retryTimer = problems.length > 0 && !this.stopping ? setTimeout(() => this.apply(), Announcer.RETRY_MS).unref() : undefined;
  }

  private save(saved: Saved): void {
    try {
      writeState(this.stateFile, saved);
      this.savedText = JSON.stringify(saved.routes);
    } catch (err) {
      this.log.error({ event: 'announce-state-save-failed', err: (err as Error).message }, `cannot save ${this.stateFile}: ${(err as Error).message}`);
    }
  }
}
