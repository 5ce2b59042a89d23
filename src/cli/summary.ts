// `vipd check`'s summary of a valid config: one line per instance, group and virtual server.

import type { Config, GarpConfig, VirtualIp } from '../config/types.js';
import { serviceKeysOf } from '../config/vs-group.js';
import { tierHash } from '../director/announce.js';
import { servicesName } from '../director/desired.js';
import { serviceName } from '../ipvs/types.js';

const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** A VIP in `ip addr add`'s words, with only what differs from the defaults. */
function vipWords(v: VirtualIp, iface: string): string {
  const w = [`${v.address}/${v.prefix}`];
  if (v.peer) w.push(`peer ${v.peer}`);
  if (v.brd) w.push(`brd ${v.brd}`);
  if (v.scope !== undefined) w.push(`scope ${SCOPE_NAMES[v.scope] ?? v.scope}`);
  if (v.device !== iface) w.push(`dev ${v.device}`);
  if (v.label) w.push(`label ${v.label}`);
  for (const flag of ['home', 'mngtmpaddr', 'noprefixroute'] as const) if (v[flag]) w.push(flag);
  if (v.nodad === false) w.push('-nodad');
  if (v.preferredLft !== undefined) w.push(`preferred_lft ${v.preferredLft}`);
  return w.join(' ');
}

/** The GARP plan: now (+ the second burst), after a lower-priority advert, refresh. */
function garpWords(g: GarpConfig): string {
  const burst = (n: number, delayMs: number) => `${n}${delayMs ? `+${n}@${delayMs / 1000}s` : ''}`;
  return `garp ${burst(g.count, g.repeatDelayMs)} lower-prio ${burst(g.lowerPrioCount, g.lowerPrioDelayMs)}${g.refreshMs ? ` refresh ${g.refreshCount}/${g.refreshMs / 1000}s` : ''}`;
}

/** A short human summary for `vipd check`. */
export function summarize(cfg: Config): string {
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  const rs = cfg.virtualServers.reduce((k, v) => k + v.realServers.length, 0);
  const lines = [
    `OK ${cfg.file}: ${n(cfg.instances.length, 'VRRP instance')}, ${n(cfg.syncGroups.length, 'sync group')}, ${n(cfg.virtualServers.length, 'virtual server')} (${n(rs, 'real server')})`,
  ];
  for (const i of cfg.instances) {
    const vips = i.virtualIps.map((v) => vipWords(v, i.interface));
    const parts = [
      `  ${i.name}`,
      i.interface,
      `vrid ${i.vrid}`,
      `prio ${i.priority}`,
      `VRRPv${i.version}${i.family === 'inet6' ? ' over IPv6' : ''}`,
      `advert ${i.advertIntervalCs / 100}s`,
      vips.join(', '),
      ...(i.excludedIps?.length ? [`excluded ${i.excludedIps.map((v) => vipWords(v, i.interface)).join(', ')}`] : []),
      i.preempt ? (i.preemptDelayMs ? `preempt after ${i.preemptDelayMs / 1000}s` : 'preempt') : 'nopreempt',
      i.unicastPeers.length ? `unicast to ${i.unicastPeers.join(',')}` : 'multicast',
      ...(i.authPass !== undefined ? ['auth PASS'] : []),
      ...(i.accept ? [] : [i.priority === 255 ? 'no_accept (owner: accepts)' : 'no_accept']),
      garpWords(i.garp),
      ...(i.trackInterfaces.length ? [`track ${i.trackInterfaces.map((t) => (t.weight ? `${t.name}(${t.weight > 0 ? '+' : ''}${t.weight})` : t.name)).join(',')}`] : []),
    ];
    lines.push(parts.join(' '));
  }
  for (const g of cfg.syncGroups) lines.push(`  group ${g.name}: ${g.instances.join(', ')}`);
  for (const v of cfg.virtualServers) {
    const id = v.group ? `${v.protocol!.toUpperCase()} ${servicesName(v)}` : serviceName(serviceKeysOf(v)[0]!);
    const sched = [v.schedFlags.fallback ? 'mh-fallback' : '', v.schedFlags.port ? 'mh-port' : ''].filter(Boolean).map((f) => (v.scheduler === 'sh' ? f.replace('mh', 'sh') : f));
    const flags = [
      ...(v.announce ? ['announced'] : []),
      ...(v.persistence ? [`persistent ${v.persistence}s`] : []),
      ...(v.connectionLimit ? [`limit ${v.connectionLimit}`] : []),
      ...(v.adminUp ? [] : ['ADMIN DOWN']),
    ];
    const rs = (r: Config['virtualServers'][number]['realServers'][number]) => `${r.address}:${r.port} ${r.forwarding} w${r.weight}${r.adminUp ? '' : ' admin-down'}`;
    lines.push(`  ${v.name} ${id} ${v.scheduler}${sched.length ? ` (${sched.join(',')})` : ''}${flags.map((f) => ` ${f}`).join('')} -> ${v.realServers.map(rs).join(', ') || '(no real servers)'}`);
  }
  const hash = tierHash(cfg.virtualServers);
  if (hash) lines.push(`  announced into kernel table ${cfg.announce.table}, tier hash ${hash} (equal on every director of the tier)`);
  return lines.join('\n');
}