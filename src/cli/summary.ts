// `vipd check`'s summary of a valid config: one line per instance, group and virtual server.

import type { Config } from '../config/types.js';
import { tierHash } from '../director/announce.js';

/** A short human summary for `vipd check`. */
export function summarize(cfg: Config): string {
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
  const rs = cfg.virtualServers.reduce((k, v) => k + v.realServers.length, 0);
  const lines = [
    `OK ${cfg.file}: ${n(cfg.instances.length, 'VRRP instance')}, ${n(cfg.syncGroups.length, 'sync group')}, ${n(cfg.virtualServers.length, 'virtual server')} (${n(rs, 'real server')})`,
  ];
  for (const i of cfg.instances) {
    const vips = i.virtualIps.map((v) => `${v.address}/${v.prefix}${v.device !== i.interface ? ` dev ${v.device}` : ''}`);
    const parts = [
      `  ${i.name}`,
      i.interface,
      `vrid ${i.vrid}`,
      `prio ${i.priority}`,
      `VRRPv${i.version}${i.family === 'inet6' ? ' over IPv6' : ''}`,
      `advert ${i.advertIntervalCs / 100}s`,
      vips.join(' '),
      ...(i.excludedIps?.length ? [`excluded ${i.excludedIps.map((v) => `${v.address}/${v.prefix}`).join(' ')}`] : []),
      i.preempt ? (i.preemptDelayMs ? `preempt after ${i.preemptDelayMs / 1000}s` : 'preempt') : 'nopreempt',
      i.unicastPeers.length ? `unicast to ${i.unicastPeers.join(',')}` : 'multicast',
      ...(i.authPass !== undefined ? ['auth PASS'] : []),
      ...(i.trackInterfaces.length ? [`track ${i.trackInterfaces.map((t) => (t.weight ? `${t.name}(${t.weight > 0 ? '+' : ''}${t.weight})` : t.name)).join(',')}`] : []),
    ];
    lines.push(parts.join(' '));
  }
  for (const g of cfg.syncGroups) lines.push(`  group ${g.name}: ${g.instances.join(', ')}`);
  for (const v of cfg.virtualServers) {
    const id = v.fwmark !== undefined ? `FWM ${v.fwmark}` : `${v.protocol!.toUpperCase()} ${v.family === 'inet6' ? `[${v.address}]` : v.address}:${v.port}`;
    const flags = [v.schedFlags.fallback ? 'mh-fallback' : '', v.schedFlags.port ? 'mh-port' : ''].filter(Boolean).map((f) => (v.scheduler === 'sh' ? f.replace('mh', 'sh') : f));
    lines.push(`  ${v.name} ${id} ${v.scheduler}${flags.length ? ` (${flags.join(',')})` : ''}${v.announce ? ' announced' : ''}${v.persistence ? ` persistent ${v.persistence}s` : ''} -> ${v.realServers.map((r) => `${r.address}:${r.port} ${r.forwarding} w${r.weight}`).join(', ') || '(no real servers)'}`);
  }
  const hash = tierHash(cfg.virtualServers);
  if (hash) lines.push(`  announced into kernel table ${cfg.announce.table}, tier hash ${hash} (equal on every director of the tier)`);
  return lines.join('\n');
}