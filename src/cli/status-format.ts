// `vipd status` for a person: one line per VRRP instance and per IPVS real
// server, read at a glance.

import type { AnnounceStatus } from '../daemon/announcer.js';
import type { IpvsStatus } from '../daemon/ipvs-status.js';
import type { RsView, VsView } from '../director/desired.js';
import { destName } from '../ipvs/types.js';
import type { RouterStatus } from '../vrrp/router.js';

export interface DaemonStatus {
  routerId: string;
  pid: number;
  config: string;
  startedAt: string;
  vrrp: RouterStatus;
  ipvs?: IpvsStatus;
  /** The director's view: health and operating status of every configured virtual server. */
  virtualServers?: VsView[];
  /** The ECMP tier: announced VIPs and the tier hash. */
  announce?: AnnounceStatus;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function formatStatus(st: DaemonStatus, now = new Date()): string {
  const out: string[] = [];
  out.push(`vipd ${st.routerId} (pid ${st.pid}), up ${ago(st.startedAt, now)}, config ${st.config}`);
  out.push('');
  const inst = st.vrrp.instances;
  if (inst.length === 0) {
    out.push('no VRRP instances configured');
  } else {
    const rows = [['INSTANCE', 'IFACE', 'VRID', 'STATE', 'FOR', 'PRIO', 'MASTER', 'ADVERT', 'VIPS']];
    for (const i of inst) {
      const prio = i.effectivePriority !== i.priority ? `${i.effectivePriority}/${i.priority}` : `${i.priority}`;
      const master = i.state === 'MASTER' ? 'this host' : i.masterIp ? `${i.masterIp} (${i.masterPriority ?? '?'})` : '-';
      rows.push([
        i.name,
        i.interface,
        String(i.vrid),
        i.state,
        ago(i.sinceWall, now),
        prio,
        master,
        `v${i.version} ${i.advertIntervalCs / 100}s`,
        i.vips.join(', '),
      ]);
    }
    out.push(table(rows));
    const notes = inst.flatMap((i) => {
      const n: string[] = [];
      if (i.faults.length) n.push(`  ${i.name}: FAULT: ${i.faults.join('; ')}`);
      if (i.io) n.push(`  ${i.name}: I/O failure ${i.io.attempt} in a row, next check in ${Math.ceil(i.io.retryInMs / 1000)}s`);
      n.push(`  ${i.name}: ${i.lastReason}`);
      const drops = Object.entries(i.counters.dropped);
      if (drops.length) n.push(`  ${i.name}: dropped adverts: ${drops.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      return n;
    });
    out.push('', 'last transition:', ...notes);
  }
  const scripts = st.vrrp.scripts ?? [];
  if (scripts.length) {
    const rows = [['VRRP SCRIPT', 'STATE', 'RUNS', 'FAILED', 'TRACKED BY', 'LAST']];
    for (const s of scripts) rows.push([s.name, s.state, String(s.checks), String(s.failures), s.trackedBy.join(', ') || '-', s.last ? `${s.last.reason} (${s.last.ms} ms)` : 'not run yet']);
    out.push('', table(rows));
  }
  const processes = st.vrrp.processes ?? [];
  if (processes.length) {
    const rows = [['TRACK PROCESS', 'STATE', 'RUNNING', 'QUORUM', 'TRACKED BY', 'PIDS']];
    for (const p of processes)
      rows.push([p.name, p.state + (p.pendingMs !== undefined ? ` (changing in ${(p.pendingMs / 1000).toFixed(1)}s)` : ''), String(p.count), p.quorumMax !== undefined ? `${p.quorum}..${p.quorumMax}` : String(p.quorum), p.trackedBy.join(', ') || '-', p.pids.join(' ') || '-']);
    out.push('', table(rows), `  (processes seen through: ${processes[0]!.detection})`);
  }
  const files = st.vrrp.files ?? [];
  if (files.length) {
    const rows = [['TRACK FILE', 'VALUE', 'TRACKED BY', 'FILE']];
    for (const f of files) rows.push([f.name, String(f.value), f.trackedBy.join(', ') || '-', f.file + (f.error ? ` (unreadable: ${f.error})` : '')]);
    out.push('', table(rows));
  }
  if (st.vrrp.groups.length) {
    out.push('', table([['SYNC GROUP', 'STATE', 'MEMBERS'], ...st.vrrp.groups.map((g) => [g.name, g.state, g.members.join(', ')])]));
  }
  if (st.ipvs) out.push('', ...formatIpvs(st.ipvs, st.virtualServers ?? [], now));
  if (st.announce && st.announce.vips.length > 0) out.push('', ...formatAnnounce(st.announce));
  return `${out.join('\n')}\n`;
}

function lastCheck(r: RsView | undefined, now: Date): string {
  if (!r) return '';
  if (!r.health) return 'no check';
  const h = r.health;
  if (h.at === undefined) return 'not checked yet';
  // Counting towards a change of verdict: "1/3 failures"; settled: "42 passes in a row".
  const need = h.lastOk ? h.rise : h.fall;
  const what = h.lastOk ? 'passes' : 'failures';
  const changing = h.lastOk !== (h.verdict === 'up');
  const run = changing ? `${h.run}/${need} ${what}` : `${h.run} ${what} in a row`;
  return `${h.reason ?? ''} (${run}, ${ago(new Date(h.at).toISOString(), now)} ago)`;
}

function formatIpvs(ip: IpvsStatus, views: VsView[], now: Date): string[] {
  const out: string[] = [];
  const mine = ip.services.filter((s) => s.managed).length;
  const head = [`IPVS: ${ip.services.length} service(s), ${mine} managed by vipd`];
  if (ip.lastReconcile) {
    const r = ip.lastReconcile;
    head.push(`last reconcile ${ago(r.at, now)} ago: ${r.ops} operation(s), ${r.failed.length} failed`);
  }
  if (ip.syncDaemon) head.push(`sync daemon ${ip.syncDaemon}`);
  out.push(head.join('; '));
  if (!ip.available) out.push(`  IPVS unavailable: ${ip.error ?? 'unknown error'}`);
  const rows = [['VIRTUAL SERVER', 'SERVICE', 'SCHED', 'STATUS', 'REAL SERVER', 'STATUS', 'FWD', 'WEIGHT', 'ACTIVE', 'INACTIVE', 'CONNS', 'LAST CHECK']];
  const shown = new Set<string>();
  for (const s of ip.services) {
    const view = s.name !== undefined ? views.find((v) => v.name === s.name) : undefined;
    if (view) shown.add(view.name);
    const sched = s.persistence ? `${s.scheduler} p${s.persistence}s` : s.scheduler;
    const first = [s.name ?? (s.managed ? '?' : "(not vipd's)"), s.service, sched, view?.status ?? '-'];
    const lines: string[][] = [];
    const kernel = new Map(s.realServers.map((r) => [destName(r), r]));
    const counters = (k: (typeof s.realServers)[number] | undefined) =>
      k ? [k.forwarding, String(k.weight), String(k.activeConns), String(k.inactiveConns), k.connections !== undefined ? String(k.connections) : '-'] : ['-', '-', '-', '-', '-'];
    for (const r of view?.realServers ?? []) {
      const id = destName(r);
      const k = kernel.get(id);
      kernel.delete(id);
      lines.push([id, r.status, ...counters(k), lastCheck(r, now)]);
    }
    for (const [id, k] of kernel) lines.push([id, view ? (view.sorryServerActive ? 'SORRY' : 'LEAVING') : '-', ...counters(k), '']);
    if (lines.length === 0) rows.push([...first, '(none)']);
    lines.forEach((l, i) => rows.push([...(i === 0 ? first : ['', '', '', '']), ...l]));
  }
  for (const v of views.filter((x) => !shown.has(x.name))) {
    v.realServers.forEach((r, i) => rows.push([...(i === 0 ? [v.name, '(not in the kernel)', '', v.status] : ['', '', '', '']), destName(r), r.status, '-', '-', '-', '-', '-', lastCheck(r, now)]));
  }
  if (rows.length > 1) out.push(table(rows));
  const problems = [...(ip.lastReconcile?.failed.map((f) => f.message) ?? []), ...(ip.routeProblems ?? [])];
  if (problems.length) out.push('', 'problems:', ...problems.map((p) => `  ${p}`));
  return out;
}

/** The ECMP tier: one line per VIP, and the hash every director of the tier must show alike. */
function formatAnnounce(a: AnnounceStatus): string[] {
  const rows = [['ANNOUNCED VIP', 'STATE', 'ROUTE', 'WHY']];
  for (const v of a.vips) rows.push([v.address, v.announced ? 'ANNOUNCED' : 'WITHDRAWN', v.inKernel ? `table ${a.table}` : '-', v.reason.replace(/^(announced|withdrawn): /, '')]);
  return [table(rows), `tier hash ${a.tierHash ?? '-'} (the same on every director: same services, schedulers, real servers in order and weights)`, ...a.problems.map((p) => `problem: ${p}`)];
}
