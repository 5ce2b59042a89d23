// `vipd status` for a person: one line per VRRP instance and per IPVS real
// server, read at a glance.

import type { IpvsStatus } from '../daemon/ipvs.js';
import type { RouterStatus } from '../vrrp/router.js';

export interface DaemonStatus {
  routerId: string;
  pid: number;
  config: string;
  startedAt: string;
  vrrp: RouterStatus;
  ipvs?: IpvsStatus;
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
      n.push(`  ${i.name}: ${i.lastReason}`);
      const drops = Object.entries(i.counters.dropped);
      if (drops.length) n.push(`  ${i.name}: dropped adverts: ${drops.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      return n;
    });
    out.push('', 'last transition:', ...notes);
  }
  if (st.vrrp.groups.length) {
    out.push('', table([['SYNC GROUP', 'STATE', 'MEMBERS'], ...st.vrrp.groups.map((g) => [g.name, g.state, g.members.join(', ')])]));
  }
  if (st.ipvs) out.push('', ...formatIpvs(st.ipvs, now));
  return `${out.join('\n')}\n`;
}

function formatIpvs(ip: IpvsStatus, now: Date): string[] {
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
  if (ip.services.length) {
    const rows = [['VIRTUAL SERVER', 'SERVICE', 'SCHED', 'REAL SERVER', 'FWD', 'WEIGHT', 'ACTIVE', 'INACTIVE', 'CONNS']];
    for (const s of ip.services) {
      const sched = s.persistence ? `${s.scheduler} p${s.persistence}s` : s.scheduler;
      const first = [s.name ?? (s.managed ? '?' : "(not vipd's)"), s.service, sched];
      if (s.realServers.length === 0) rows.push([...first, '(none)']);
      s.realServers.forEach((r, i) => {
        const addr = r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
        rows.push([...(i === 0 ? first : ['', '', '']), addr, r.forwarding, String(r.weight), String(r.activeConns), String(r.inactiveConns), r.connections !== undefined ? String(r.connections) : '-']);
      });
    }
    out.push(table(rows));
  }
  const problems = [...(ip.lastReconcile?.failed.map((f) => f.message) ?? []), ...(ip.routeProblems ?? [])];
  if (problems.length) out.push('', 'problems:', ...problems.map((p) => `  ${p}`));
  return out;
}
