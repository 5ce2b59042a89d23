// `vipd run`: load the configuration, start VRRP, serve the control socket,
// speak systemd's notify protocol, and handle signals:
//   SIGTERM/SIGINT  graceful stop: announced VIPs withdrawn (then announce.drain_delay), masters
//                   resign (priority 0), VIPs removed, exit 0
//   SIGHUP          reload: validate the new file fully, then apply only the difference
//   SIGUSR1         log a full state dump (keepalived's data dump)
//   SIGUSR2         log counters (keepalived's stats)

import type { Server } from 'node:net';
import { ConfigError, loadConfig, loadConfigOffThread } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createLogger, type Logger } from '../log.js';
import { DaemonMetrics } from '../metrics/daemon.js';
import { hostLinks, hostRoutes } from '../vrrp/hostnet.js';
import { NftFirewall } from '../net/nft.js';
import { stateFilePath } from '../state-file.js';
import { Notifier } from '../vrrp/notify.js';
import { VrrpRouter } from '../vrrp/router.js';
import { FileTracking } from './file-tracking.js';
import { ProcessTracking } from './process-tracking.js';
import type { TrackSource } from './track-source.js';
import { ScriptTracking } from './tracking.js';
import { hasCapIn, missingCapWarnings, readCapEff } from './caps.js';
import { closeControlServer, startControlServer } from './control.js';
import { Forwarding } from './forwarding.js';
import { SdNotify } from './sdnotify.js';

export interface RunOptions {
  configFile: string;
  logLevel?: Config['global']['logLevel'];
  pretty?: boolean;
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
  added?: string[];
  removed?: string[];
  restarted?: string[];
  updated?: string[];
}

export class Daemon {
  private cfg: Config;
  private readonly log: Logger;
  private readonly notifier: Notifier;
  private readonly router: VrrpRouter;
  private readonly scripts: ScriptTracking;
  private readonly files: FileTracking;
  private readonly processes: ProcessTracking;
  /** Everything an instance tracks besides links: scripts, files, processes. */
  private readonly tracking: TrackSource[];
  private readonly forwarding: Forwarding;
  private readonly sd = new SdNotify();
  /** no_accept's drop rules (nftables table inet vipd). */
  private readonly firewall: NftFirewall;
  private readonly metrics: DaemonMetrics;
  private control: Server | undefined;
  private stopping: Promise<void> | undefined;
  private reloading: Promise<ReloadResult> = Promise.resolve({ ok: true });
  private readonly startedAt = new Date();
  /** Effective capabilities at start (they do not change for a running process). */
  private readonly capEff = readCapEff();

  constructor(
    cfg: Config,
    private readonly opts: RunOptions,
  ) {
    this.cfg = cfg;
    // Its marker beside the control socket says a table of ours may be left to remove at start.
    this.firewall = new NftFirewall(undefined, stateFilePath(cfg.global.controlSocket, 'nft-table').replace(/\.json$/, ''));
    this.log = createLogger({ level: opts.logLevel ?? cfg.global.logLevel, ...(opts.pretty !== undefined ? { pretty: opts.pretty } : {}) });
    this.notifier = new Notifier(this.log, cfg.global.scriptTimeoutMs);
    this.notifier.configure(cfg.global);
    this.forwarding = new Forwarding(cfg, this.log, this.notifier, (names) => this.scripts.failing(names));
    const retrack = (): void => {
      this.router.retrack();
      this.forwarding.retrack();
    };
    this.scripts = new ScriptTracking(this.log, retrack);
    this.files = new FileTracking(this.log, retrack);
    this.processes = new ProcessTracking(this.log, retrack);
    this.tracking = [this.scripts, this.files, this.processes];
    this.router = new VrrpRouter({
      net: hostLinks(),
      routes: hostRoutes(),
      firewall: this.firewall,
      log: this.log,
      notifier: this.notifier,
      now: () => performance.now(),
      onTransition: (name, from, to, reason) => {
        this.metrics.transition(name, from, to, reason);
        this.forwarding.onVrrpState(name, to);
        this.sd.status(this.summary()); // `systemctl status vipd` shows the VRRP state as it is now
      },
      hasCap: (cap) => this.capEff === undefined || hasCapIn(this.capEff, cap),
      tracked: (name) => this.tracking.flatMap((t) => t.tracked(name)),
    });
    this.metrics = new DaemonMetrics(this.log, () => this.cfg, () => this.router, this.forwarding);
  }

  async start(): Promise<void> {
    const c = this.cfg;
    // Handlers first: a SIGTERM during start-up is a clean stop once start-up is done, not a kill.
    process.on('SIGTERM', () => void this.shutdown('SIGTERM'));
    process.on('SIGINT', () => void this.shutdown('SIGINT'));
    process.on('SIGHUP', () => void this.reload());
    for (const w of missingCapWarnings(this.capEff)) this.log.warn({ event: 'missing-capability', capability: w.cap }, w.line);
    this.control = await startControlServer(c.global.controlSocket, async (req) =>
      req.cmd === 'status' ? this.status() : req.cmd === 'rs' ? this.forwarding.setAdmin(req.vs, req.rs, req.action) : this.reload(),
    );
    await this.metrics.start(c.metrics); // before VRRP: a bad metrics.listen stops the start, not a running master
    // The trackers first (announce.track_script is read by the first announcement), then the
    // table: a host that becomes master a moment later forwards at once.
    for (const t of this.tracking) t.set(c);
    this.forwarding.start(c);
    try {
      this.firewall.reset(); // a killed run's drop rules would hold against a config that now accepts
    } catch (err) {
      this.log.warn({ event: 'accept-mode', err: (err as Error).message }, `cannot remove a previous run's table inet vipd: ${(err as Error).message}`);
    }
    this.router.start(c);
    process.on('SIGUSR1', () => void this.status().then((status) => this.log.info({ event: 'data-dump', status }, 'state dump (SIGUSR1)')));
    process.on('SIGUSR2', () =>
      this.log.info(
        {
          event: 'stats',
          instances: this.router.status().instances.map((i) => ({ name: i.name, state: i.state, ...i.counters })),
          interfaces: this.router.status().interfaces,
        },
        'counters (SIGUSR2)',
      ),
    );
    this.log.info(
      { event: 'started', config: c.file, instances: c.instances.length, routerId: c.global.routerId, controlSocket: c.global.controlSocket },
      `vipd started: ${c.instances.length} VRRP instance(s) from ${c.file}`,
    );
    this.sd.ready(this.summary());
  }

  async status(): Promise<unknown> {
    const { virtualServers, ipvs } = await this.forwarding.status();
    return {
      routerId: this.cfg.global.routerId,
      pid: process.pid,
      config: this.cfg.file,
      startedAt: this.startedAt.toISOString(),
      vrrp: { ...this.router.status(), scripts: await this.scripts.status(), files: this.files.status(), processes: this.processes.status() },
      notifyFifos: this.notifier.fifos.status(),
      ipvs,
      virtualServers,
      announce: this.forwarding.announceStatus(),
    };
  }

  /** Validate the file fully first; only a valid file touches anything. Reloads run one at a time. */
  reload(): Promise<ReloadResult> {
    // Never a rejected promise in the chain: one failed reload must not stop the next.
    this.reloading = this.reloading.then(() =>
      this.doReload().catch((err: Error) => {
        this.log.error({ event: 'reload-failed', err: err.message }, `reload failed: ${err.stack ?? err.message}`);
        this.sd.ready(`${this.summary()}; last reload FAILED`);
        return { ok: false, error: err.message };
      }),
    );
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    if (this.stopping) return { ok: false, error: 'vipd is stopping' };
    this.sd.reloading();
    const t0 = performance.now();
    let next: Config;
    try {
      next = await loadConfigOffThread(this.opts.configFile);
    } catch (err) {
      const msg = err instanceof ConfigError ? err.message : (err as Error).message;
      this.log.error({ event: 'reload-rejected', config: this.opts.configFile, error: msg }, `reload rejected, old configuration keeps running:\n${msg}`);
      this.sd.ready(`${this.summary()}; last reload REJECTED`);
      return { ok: false, error: msg };
    }
    if (next.global.controlSocket !== this.cfg.global.controlSocket)
      this.log.warn('global.control_socket changed: takes effect at the next restart');
    const t1 = performance.now();
    for (const t of this.tracking) t.set(next);
    const diff = await this.router.reload(next);
    const t2 = performance.now();
    const ipvs = await this.forwarding.reload(next);
    await this.metrics.reload(next.metrics);
    const ms = { parseMs: Math.round(t1 - t0), vrrpMs: Math.round(t2 - t1), ipvsMs: Math.round(performance.now() - t2) };
    this.cfg = next;
    this.notifier.configure(next.global);
    this.log.level = this.opts.logLevel ?? next.global.logLevel;
    const ipvsText = ipvs ? `; IPVS ${ipvs.ops} operation(s)${ipvs.failed.length ? `, ${ipvs.failed.length} failed` : ''}` : '';
    const ipvsCounts = ipvs ? { ipvsOps: ipvs.ops, ipvsFailed: ipvs.failed.length } : {};
    this.log.info({ event: 'reloaded', ...diff, ...ipvsCounts, ...ms }, `reloaded ${next.file}: ${describeDiff(diff)}${ipvsText} (${Math.round(performance.now() - t0)} ms)`);
    this.sd.ready(this.summary());
    return { ok: true, ...diff, ...ipvsCounts };
  }

  shutdown(signal: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ event: 'stopping', signal }, `${signal}: stopping, masters resign`);
      this.sd.stopping();
      // The ECMP tier: out of the routers' next hops first, then serve what is still on its way for drain_delay.
      const withdrawn = this.forwarding.withdraw();
      if (withdrawn > 0 && this.cfg.announce.drainMs > 0) {
        this.log.info({ event: 'announce-drain', vips: withdrawn, ms: this.cfg.announce.drainMs }, `${withdrawn} VIP(s) withdrawn; serving on for announce.drain_delay ${this.cfg.announce.drainMs / 1000} s before stopping`);
        await new Promise((r) => setTimeout(r, this.cfg.announce.drainMs));
      }
      await this.router.stop();
      for (const t of this.tracking) t.stop();
      this.forwarding.stop(); // the table first, then the checks
      await Promise.race([this.notifier.drain(), new Promise((r) => setTimeout(r, this.cfg.global.scriptTimeoutMs))]);
      this.notifier.fifos.close();
      await this.metrics.close();
      if (this.control) await closeControlServer(this.control, this.cfg.global.controlSocket);
      this.sd.close();
      this.log.info({ event: 'stopped' }, 'vipd stopped');
      process.exit(0);
    })();
    return this.stopping;
  }

  /** systemd's STATUS=: the instances by state, e.g. "VI_1 MASTER; VI_2,VI_3 BACKUP". */
  private summary(): string {
    const byState = new Map<string, string[]>();
    for (const i of this.router.status().instances) byState.set(i.state, [...(byState.get(i.state) ?? []), i.name]);
    return byState.size ? [...byState].map(([state, names]) => `${names.join(',')} ${state}`).join('; ') : 'no VRRP instance';
  }
}

function describeDiff(d: { added: string[]; removed: string[]; restarted: string[]; updated: string[] }): string {
  const parts = Object.entries(d)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => `${k} ${v.join(',')}`);
  return parts.length ? parts.join('; ') : 'VRRP unchanged';
}

export async function runDaemon(opts: RunOptions): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig(opts.configFile);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const d = new Daemon(cfg, opts);
  await d.start();
}
