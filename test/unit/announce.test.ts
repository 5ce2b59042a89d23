// The ECMP tier without a kernel: the `announce` keys and their errors, the
// decision per VIP (quorum, host health, stop), the tier hash, and the announcer
// shell against a fake routing table (adopt, announce, withdraw, move, retry).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/config/types.js';
import { summarize } from '../../src/cli/summary.js';
import { formatStatus } from '../../src/cli/status-format.js';
import { Announcer, type RouteOps } from '../../src/daemon/announcer.js';
import { decideAnnouncements, tierHash } from '../../src/director/announce.js';
import { Director, type VsView } from '../../src/director/desired.js';
import { createLogger } from '../../src/log.js';
import { decodeRoute, encodeRoute, type RouteSpec } from '../../src/net/rtroute.js';
import { withdrawLeftovers } from '../../src/daemon/withdraw.js';
import { configIssues as issues } from './fixtures.js';

const rs = (a: string, w = 1) => `{address: ${a}, port: 80, weight: ${w}}`;
const TIER = (extra = '') => `virtual_servers:
  web:
    address: 192.0.2.100
    port: 80
    forwarding: dr
    announce: true
    real_servers: [${rs('10.0.0.11')}, ${rs('10.0.0.12')}]
${extra}`;

describe('config: announce', () => {
  it('an announced service gets mh with mh-fallback and mh-port by default; the defaults of the section', () => {
    const c = parseConfig(TIER(), 'f.yaml');
    expect(c.virtualServers[0]).toMatchObject({ announce: true, scheduler: 'mh', schedFlags: { fallback: true, port: true } });
    expect(c.announce).toEqual({ table: 200, drainMs: 2000, trackScripts: [] });
    expect(summarize(c)).toMatch(/web TCP 192\.0\.2\.100:80 mh \(mh-fallback,mh-port\) announced/);
    expect(summarize(c)).toMatch(/announced into kernel table 200, tier hash [0-9a-f]{16}/);
  });

  it('a scheduler given is kept; a service that is not announced keeps wlc', () => {
    const c = parseConfig(TIER().replace('announce: true', 'announce: true\n    scheduler: sh\n    scheduler_flags: [port]'), 'f.yaml');
    expect(c.virtualServers[0]).toMatchObject({ scheduler: 'sh', schedFlags: { fallback: false, port: true } });
    expect(parseConfig(TIER().replace('announce: true', 'announce: false'), 'f.yaml').virtualServers[0]).toMatchObject({ scheduler: 'wlc', schedFlags: { fallback: false, port: false } });
  });

  it('the section: table, drain_delay, track_script', () => {
    const c = parseConfig(`vrrp_scripts:\n  chk: {script: /bin/true}\nannounce:\n  table: 4242\n  drain_delay: 0.5\n  track_script: [chk]\n${TIER()}`, 'f.yaml');
    expect(c.announce).toEqual({ table: 4242, drainMs: 500, trackScripts: ['chk'] });
  });

  it('bad values, each with line:col and what is valid', () => {
    expect(issues(`announce:\n  table: 254\n  drain_delay: -1\n  track_script: [chek]\n  tabel: 3\n${TIER()}`)).toEqual([
      '2:10 announce.table: 254 is the kernel\'s "main" table, which the host routes by; valid: a table of vipd\'s own, 1..252 or 256..4294967295 (e.g. 200)',
      '3:16 announce.drain_delay: -1 is out of range; valid: a number 0..3600 (seconds)',
      '4:18 announce.track_script[0]: no vrrp_script "chek"; valid: (no vrrp_scripts defined)',
      '5:3 announce.tabel: unknown key "tabel"; did you mean "table"? valid keys: table, drain_delay, track_script',
    ]);
    expect(issues(TIER().replace('announce: true', 'announce: yes'))[0]).toBe('6:15 virtual_servers.web.announce: expected true or false, got string "yes" (YAML 1.2: write true or false)');
  });

  it('ipvs.sync_daemon without an instance: master and backup at once, for a tier of announced services only', () => {
    expect(parseConfig(`${TIER()}ipvs:\n  sync_daemon: {interface: eth1, sync_id: 9}\n`, 'f.yaml').ipvs.syncDaemon).toEqual({ interface: 'eth1', syncId: 9 });
    expect(issues(`${TIER().replace('announce: true', 'announce: false')}ipvs:\n  sync_daemon: {interface: eth1, sync_id: 9}\n`)).toEqual([
      '9:16 ipvs.sync_daemon.instance: missing "instance"; valid: the VRRP instance whose state the sync daemon follows (without one, master and backup run at once: for an ECMP tier of announced virtual servers)',
    ]);
  });

  it('a VIP both VRRP\'s and announced is rejected (vipd check), in either family and spelling', () => {
    const vrrp = `vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24]}\n`;
    expect(issues(vrrp + TIER())).toEqual([
      '8:15 virtual_servers.web.announce: 192.0.2.100 is a virtual_ipaddress of VRRP instance "VI_1" too; a VIP is either VRRP\'s (held by the master) or announced (by every director of the tier): remove it from one',
    ]);
    const v6 = `vrrp_instances:\n  VI_6: {interface: eth0, vrid: 52, virtual_ipaddress: ["2001:db8::1/64"]}\n`;
    const tier6 = TIER().replace('192.0.2.100', '"2001:DB8:0::1"').replace(/10\.0\.0\.(\d+)/g, '"2001:db8:1::$1"');
    expect(issues(v6 + tier6)[0]).toMatch(/^8:15 virtual_servers\.web\.announce: 2001:DB8:0::1 is a virtual_ipaddress of VRRP instance "VI_6" too/);
    // Not announced: the VRRP VIP's own services, as always.
    expect(() => parseConfig(vrrp + TIER().replace('announce: true', 'announce: false'), 'f.yaml')).not.toThrow();
  });

  it('every virtual server of an address makes the same choice; a fwmark service has nothing to announce', () => {
    const both = `${TIER()}  web443:\n    address: 192.0.2.100\n    port: 443\n    real_servers: [${rs('10.0.0.11')}]\n`;
    expect(issues(both)).toEqual([
      '9:14 virtual_servers.web443.announce: 192.0.2.100 is announced by virtual server "web"; the route is per address: valid: announce: true here too, or false there',
    ]);
    expect(issues(`virtual_servers:\n  fw:\n    fwmark: 7\n    announce: true\n    real_servers: [${rs('10.0.0.11')}]\n`)[0]).toMatch(/^4:15 virtual_servers\.fw\.announce: a fwmark service has no address to announce/);
  });
});

/** A control socket in a directory of its own: the announcer's state file goes beside it. */
const socketLine = () => `global: {control_socket: ${join(mkdtempSync(join(tmpdir(), 'vtc-ann-')), 'vipd.sock')}}\n`;
const cfgOf = (extra = '', global = socketLine()): Config =>
  parseConfig(`${global}${TIER()}  web443:\n    address: 192.0.2.100\n    port: 443\n    announce: true\n    real_servers: [${rs('10.0.0.11')}]\n  other:\n    address: 192.0.2.200\n    port: 80\n    announce: true\n    real_servers: [${rs('10.0.0.13')}]\n${extra}`, 'f.yaml');

describe('which VIPs are announced (pure)', () => {
  const q = (o: Record<string, boolean>) => new Map(Object.entries(o));
  const decide = (quorum: Map<string, boolean>, failingScripts: string[] = [], stopping = false) =>
    decideAnnouncements(cfgOf().virtualServers, { quorum, failingScripts, stopping }).map((d) => [d.address, d.announced, d.reason]);

  it('announced while every virtual server of the address has quorum', () => {
    expect(decide(q({ web: true, web443: true, other: true }))).toEqual([
      ['192.0.2.100', true, 'announced: web, web443 have quorum'],
      ['192.0.2.200', true, 'announced: other has quorum'],
    ]);
    expect(decide(q({ web: true, web443: false, other: true }))).toEqual([
      ['192.0.2.100', false, 'withdrawn: web443 (TCP 192.0.2.100:443) has lost quorum'],
      ['192.0.2.200', true, 'announced: other has quorum'],
    ]);
    expect(decide(q({ web: true }))[1]).toEqual(['192.0.2.200', false, 'withdrawn: other (TCP 192.0.2.200:80) has no verdict yet']);
  });

  it('a failing host health script and the stop withdraw everything', () => {
    const all = q({ web: true, web443: true, other: true });
    expect(decide(all, ['chk_host']).map((d) => d[2])).toEqual(['withdrawn: host health script chk_host failing', 'withdrawn: host health script chk_host failing']);
    expect(decide(all, [], true).map((d) => d[1])).toEqual([false, false]);
  });

  it('the tier hash: equal for the same tier, different for another order or weight of the real servers', () => {
    const a = tierHash(cfgOf().virtualServers);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(tierHash(cfgOf().virtualServers)).toBe(a);
    // Another director whose config lists the services in another order hashes alike.
    const reordered = cfgOf().virtualServers.reverse();
    expect(tierHash(reordered)).toBe(a);
    const swapped = parseConfig(TIER().replace(`[${rs('10.0.0.11')}, ${rs('10.0.0.12')}]`, `[${rs('10.0.0.12')}, ${rs('10.0.0.11')}]`), 'f.yaml');
    const weighted = parseConfig(TIER().replace(rs('10.0.0.12'), rs('10.0.0.12', 2)), 'f.yaml');
    const base = tierHash(parseConfig(TIER(), 'f.yaml').virtualServers);
    expect(tierHash(swapped.virtualServers)).not.toBe(base);
    expect(tierHash(weighted.virtualServers)).not.toBe(base);
    expect(tierHash(parseConfig(TIER().replace('announce: true', 'announce: false'), 'f.yaml').virtualServers)).toBeUndefined();
  });
});

/** A routing table in memory: what the kernel would hold; `failAdd` makes the next adds fail. */
class FakeRoutes implements RouteOps {
  readonly table = new Map<string, RouteSpec>();
  failAdd = 0;
  readonly ops: string[] = [];
  add(r: RouteSpec): boolean {
    if (this.failAdd > 0) {
      this.failAdd--;
      throw new Error('add route: ENETDOWN');
    }
    this.ops.push(`add ${r.to.address} ${r.table}`);
    const k = `${r.table} ${r.to.address}`;
    if (this.table.has(k)) return false;
    this.table.set(k, r);
    return true;
  }
  del(r: RouteSpec): boolean {
    this.ops.push(`del ${r.to.address} ${r.table}`);
    return this.table.delete(`${r.table} ${r.to.address}`);
  }
  keys(): string[] {
    return [...this.table.keys()].sort();
  }
}

const log = createLogger({ level: 'fatal' });
const views = (cfg: Config, healthy: (vs: string) => boolean): VsView[] =>
  new Director().plan({ virtualServers: cfg.virtualServers.map((v) => (healthy(v.name) ? v : { ...v, realServers: [] })) }, () => undefined).views;

describe('the announcer (a fake routing table)', () => {
  afterEach(() => vi.useRealTimers());

  it('announces a blackhole /32 of protocol 86 in the table, withdraws on quorum loss, withdraws all on stop', () => {
    const cfg = cfgOf();
    const k = new FakeRoutes();
    const a = new Announcer(cfg, log, () => [], k);
    a.update(views(cfg, () => true));
    expect(k.keys()).toEqual(['200 192.0.2.100', '200 192.0.2.200']);
    expect(k.table.get('200 192.0.2.100')).toMatchObject({ type: 'blackhole', to: { prefix: 32 }, protocol: 86 });
    a.update(views(cfg, (n) => n !== 'web443'));
    expect(k.keys()).toEqual(['200 192.0.2.200']);
    expect(a.status().vips.map((v) => [v.address, v.announced, v.inKernel])).toEqual([['192.0.2.100', false, false], ['192.0.2.200', true, true]]);
    expect(a.withdrawAll()).toBe(1);
    expect(k.keys()).toEqual([]);
    a.update(views(cfg, () => true)); // a verdict after the stop announces nothing again
    expect(k.keys()).toEqual([]);
    expect(formatStatus({ routerId: 'd1', pid: 1, config: 'f', startedAt: new Date().toISOString(), vrrp: { instances: [], groups: [], interfaces: [] } as never, announce: a.status() })).toMatch(
      /192\.0\.2\.100 +WITHDRAWN +- +vipd is stopping\n.*\ntier hash [0-9a-f]{16}/,
    );
  });

  it('a vipd started after a crash adopts the routes its predecessor saved: keeps the wanted, deletes the rest; leaves others alone', () => {
    const global = socketLine();
    const k = new FakeRoutes();
    const first = parseConfig(`${global}${TIER()}  gone:\n    address: 192.0.2.99\n    port: 80\n    announce: true\n    real_servers: [${rs('10.0.0.11')}]\n`, 'f.yaml');
    new Announcer(first, log, () => [], k).update(views(first, () => true)); // then killed: nothing withdrawn
    k.table.set('200 198.51.100.1', { family: 'inet', type: 'blackhole', to: { address: '198.51.100.1', prefix: 32 }, table: 200, protocol: 4 });
    k.ops.length = 0;
    const cfg = cfgOf('', global);
    const a = new Announcer(cfg, log, () => [], k);
    a.update(views(cfg, (n) => n === 'web' || n === 'web443'));
    expect(k.keys()).toEqual(['200 192.0.2.100', '200 198.51.100.1']);
    expect(k.ops).toEqual(['del 192.0.2.99 200']); // the kept one is not added again
    expect(a.announcing).toBe(true);
  });

  it('a reload to another table moves the routes; a host health script failing withdraws', () => {
    let failing: string[] = [];
    const cfg = cfgOf();
    const k = new FakeRoutes();
    const a = new Announcer(cfg, log, () => failing, k);
    a.update(views(cfg, () => true));
    const next = parseConfig(`${socketLine()}vrrp_scripts:\n  chk: {script: /bin/true}\nannounce: {table: 300, track_script: [chk]}\n${TIER()}`, 'f.yaml');
    a.configure(next);
    a.update(views(next, () => true));
    expect(k.keys()).toEqual(['300 192.0.2.100']);
    failing = ['chk'];
    a.retrack();
    expect(k.keys()).toEqual([]);
    expect(a.status().vips[0]!.reason).toBe('withdrawn: host health script chk failing');
    failing = [];
    a.retrack();
    expect(k.keys()).toEqual(['300 192.0.2.100']);
  });

  it('a route the kernel refuses is a problem in the status, retried every 5 s', () => {
    vi.useFakeTimers();
    const cfg = parseConfig(socketLine() + TIER(), 'f.yaml');
    const k = new FakeRoutes();
    k.failAdd = 1;
    const a = new Announcer(cfg, log, () => [], k);
    a.update(views(cfg, () => true));
    expect(k.keys()).toEqual([]);
    expect(a.status().problems).toEqual(['cannot announce 192.0.2.100 (blackhole 192.0.2.100/32 table 200 proto 86): add route: ENETDOWN']);
    vi.advanceTimersByTime(Announcer.RETRY_MS);
    expect(k.keys()).toEqual(['200 192.0.2.100']);
    expect(a.status().problems).toEqual([]);
    a.stop();
  });
});

describe('vipd withdraw (the unit\'s ExecStopPost; a fake routing table)', () => {
  const routesOf = (k: FakeRoutes) => ({ routes: (f: 'inet' | 'inet6') => [...k.table.values()].filter((r) => r.family === f), del: (r: RouteSpec) => k.del(r) });
  const other = (table: number, protocol: number, address = '198.51.100.1'): RouteSpec => ({ family: 'inet', type: 'blackhole', to: { address, prefix: 32 }, table, protocol });

  it('a killed daemon\'s routes go: the saved ones (any table), protocol 86 in announce.table; nobody else\'s; the state file is emptied', () => {
    const global = socketLine();
    const k = new FakeRoutes();
    const moved = cfgOf('announce: {table: 300}\n', global);
    new Announcer(moved, log, () => [], k).update(views(moved, () => true)); // then killed
    const cfg = cfgOf('', global); // the file now says table 200
    k.table.set('200 192.0.2.7', other(200, 86, '192.0.2.7')); // a 86 route in the configured table that the state file lost
    k.table.set('200 198.51.100.1', other(200, 4)); // someone else's
    k.table.set('400 192.0.2.8', other(400, 86, '192.0.2.8')); // vipd's protocol in a table this config does not name
    const gone = withdrawLeftovers({ controlSocket: cfg.global.controlSocket, table: cfg.announce.table }, routesOf(k));
    expect(gone.map((r) => `${r.table} ${r.to.address}`).sort()).toEqual(['200 192.0.2.7', '300 192.0.2.100', '300 192.0.2.200']);
    expect(k.keys()).toEqual(['200 198.51.100.1', '400 192.0.2.8']);
    // A successor adopts nothing: the state file is empty.
    const next = new Announcer(cfg, log, () => [], k);
    expect(next.announcing).toBe(false);
    expect(withdrawLeftovers({ controlSocket: cfg.global.controlSocket, table: 200 }, routesOf(k))).toEqual([]);
    // No usable config: protocol 86 in every table.
    expect(withdrawLeftovers({}, routesOf(k)).map((r) => r.to.address)).toEqual(['192.0.2.8']);
    expect(k.keys()).toEqual(['200 198.51.100.1']);
  });

  it('a route dump message decodes to the spec that was encoded (table above 255 in RTA_TABLE, IPv6)', () => {
    for (const r of [other(200, 86), other(1000, 86), { ...other(7, 3), family: 'inet6' as const, to: { address: '2001:db8::1', prefix: 128 } }]) {
      expect(decodeRoute({ type: 24, flags: 0, seq: 0, pid: 0, payload: encodeRoute(r, undefined) })).toEqual(r);
    }
    expect(decodeRoute({ type: 25, flags: 0, seq: 0, pid: 0, payload: encodeRoute(other(200, 86), undefined) })).toBeUndefined();
  });
});
