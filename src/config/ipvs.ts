// The `ipvs:` section: the kernel's connection timeouts, the connection sync
// daemon, drain and resync periods, and what happens to the table at stop.

import type { Node } from 'yaml';
import { bool, didYouMean, type Fields, ifname, num, str } from './reader.js';
import type { IpvsConfig } from './types.js';

/** `announced`: whether some virtual server is announced (the ECMP tier: a sync daemon needs no VRRP instance then). */
export function ipvs(f: Fields, node: Node | null | undefined, instanceNames: ReadonlySet<string>, announced = false): IpvsConfig {
  const def: IpvsConfig = { drainMs: 0, flushOnStop: false, resyncMs: 60_000 };
  if (node === undefined || node === null) return def;
  const m = f.map(node, 'ipvs', 'a map of IPVS settings');
  if (!m) return def;
  m.allowOnly(['timeouts', 'sync_daemon', 'drain_delay', 'flush_on_stop', 'resync_interval']);
  const out: IpvsConfig = {
    drainMs: Math.round((f.get(m, 'drain_delay', num(0, 86400, { unit: 'seconds' })) ?? 0) * 1000),
    flushOnStop: f.get(m, 'flush_on_stop', bool) ?? false,
    resyncMs: Math.round((f.get(m, 'resync_interval', num(0, 86400, { unit: 'seconds' })) ?? 60) * 1000),
  };
  if (m.has('timeouts')) {
    const t = f.map(m.value('timeouts') ?? m.node, m.sub('timeouts'), 'a map {tcp, tcp_fin, udp} in seconds');
    if (t) {
      t.allowOnly(['tcp', 'tcp_fin', 'udp']);
      const sec = (k: string) => f.get(t, k, num(0, 2147483, { integer: true, unit: 'seconds, 0 = unchanged' })) ?? 0;
      out.timeouts = { tcp: sec('tcp'), tcpFin: sec('tcp_fin'), udp: sec('udp') };
    }
  }
  if (m.has('sync_daemon')) {
    const d = f.map(m.value('sync_daemon') ?? m.node, m.sub('sync_daemon'), 'a map {interface, sync_id, instance}');
    if (d) {
      d.allowOnly(['interface', 'sync_id', 'instance']);
      if (!d.has('interface')) f.r.issue(d.node, d.sub('interface'), 'missing "interface"');
      // No instance: master and backup at once, for an ECMP tier (every director active); only with announced services.
      if (!d.has('instance') && !announced)
        f.r.issue(d.node, d.sub('instance'), 'missing "instance"; valid: the VRRP instance whose state the sync daemon follows (without one, master and backup run at once: for an ECMP tier of announced virtual servers)');
      const iface = f.get(d, 'interface', ifname);
      const syncId = f.get(d, 'sync_id', num(0, 255, { integer: true })) ?? 0;
      const inst = f.get(d, 'instance', str('the VRRP instance whose state the sync daemon follows'));
      if (inst !== undefined && !instanceNames.has(inst)) {
        const guess = didYouMean(inst, [...instanceNames]);
        f.r.issue(d.value('instance') ?? d.node, d.sub('instance'), `no VRRP instance "${inst}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...instanceNames].join(', ') || '(none defined)'}`);
      }
      if (iface !== undefined && (inst !== undefined || !d.has('instance'))) out.syncDaemon = { interface: iface, syncId, ...(inst !== undefined ? { instance: inst } : {}) };
    }
  }
  return out;
}

