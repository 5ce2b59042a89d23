// The director sections: `virtual_servers` (services, their real servers, sorry
// server, quorum and notify scripts) and `ipvs` (timeouts, sync daemon, drain,
// resync). Octavia's and keepalived's vocabulary where they have a word.

import { isIPv4, isIPv6 } from 'node:net';
import type { Node } from 'yaml';
import { serviceName } from '../ipvs/types.js';
import { checkAnnounce } from './announce.js';
import { healthCheck } from './health-check.js';
import { bool, didYouMean, DOTTED_QUAD, type Fields, ifname, type MapView, NAME, num, oneOf, scalarValue, str } from './reader.js';
import type { IpvsConfig, RealServerConfig, VirtualServerConfig } from './types.js';

const PORT = num(0, 65535, { integer: true });
const UINT31 = num(0, 0x7fffffff, { integer: true }); // thresholds, hysteresis
const FORWARDING = oneOf(['nat', 'dr', 'tunnel'] as const);
const IP = str('an IPv4 or IPv6 address', (v) => (isIPv4(v) || isIPv6(v) ? undefined : `"${v}" is not an IP address`));
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'sed', 'nq', 'dh', 'lblc', 'lblcr', 'fo', 'ovf', 'twos'];
/** Octavia's pool algorithms (members carry weights, so the weighted schedulers). */
const SCHEDULER_ALIASES: Record<string, string> = { ROUND_ROBIN: 'wrr', LEAST_CONNECTIONS: 'wlc', SOURCE_IP: 'sh' };

/** What virtualServer() checks an `announce` against: VRRP's addresses, and the first virtual server of each address. */
interface AnnounceContext {
  vrrp: ReadonlyMap<string, string>;
  byAddress: Map<string, { name: string; announce: boolean }>;
}

function virtualServer(f: Fields, name: string, keyNode: Node, node: Node | null, ctx: AnnounceContext): VirtualServerConfig | undefined {
  const path = `virtual_servers.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `virtual server name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map of virtual server settings');
  if (!m) return undefined;
  m.allowOnly([
    'address', 'port', 'protocol', 'fwmark', 'family', 'scheduler', 'scheduler_flags', 'persistence_timeout',
    'persistence_netmask', 'session_persistence', 'forwarding', 'one_packet', 'real_servers',
    'health_check', 'inhibit_on_failure', 'alpha', 'omega', 'quorum', 'hysteresis', 'sorry_server',
    'notify_up', 'notify_down', 'quorum_up', 'quorum_down', 'announce',
  ]);
  const announce = f.get(m, 'announce', bool) ?? false;
  const address = f.get(m, 'address', IP);
  const fwmark = f.get(m, 'fwmark', num(1, 0xffffffff, { integer: true }));
  if (m.has('fwmark') && (m.has('address') || m.has('port') || m.has('protocol')))
    f.r.issue(m.keyNode('fwmark'), m.sub('fwmark'), 'a service is either address + port + protocol or a fwmark; remove one');
  if (!m.has('fwmark') && !m.has('address')) f.r.issue(m.node, path, 'missing "address" (with port and protocol) or "fwmark"; valid: address: 192.0.2.100, port: 80');
  const port = f.get(m, 'port', PORT);
  if (m.has('address') && !m.has('port')) f.r.issue(m.node, path, 'missing "port"; valid: port: 1..65535 (0 = all ports, with persistence)');
  const protocol = f.get(m, 'protocol', oneOf(['tcp', 'udp', 'sctp'] as const)) ?? 'tcp';
  const family = address !== undefined ? (isIPv6(address) ? 'inet6' : 'inet') : (f.get(m, 'family', oneOf(['inet', 'inet6'] as const)) ?? 'inet');
  // Announced (the ECMP tier): Maglev hashing by default, so every director sends a flow to the same real server.
  const rawSched = f.get(m, 'scheduler', str('a scheduler')) ?? (announce ? 'mh' : 'wlc');
  const scheduler = SCHEDULER_ALIASES[rawSched] ?? rawSched;
  if (!SCHEDULERS.includes(scheduler)) {
    const guess = didYouMean(rawSched, [...SCHEDULERS, ...Object.keys(SCHEDULER_ALIASES)]);
    f.r.issue(m.value('scheduler') ?? m.node, m.sub('scheduler'), `unknown scheduler "${rawSched}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${SCHEDULERS.join(' | ')} or ${Object.keys(SCHEDULER_ALIASES).join(' | ')}`);
  }
  // mh-fallback: a flow whose real server is out goes to the next one (others' flows stay); mh-port: the source port hashed too.
  const flags = announce && !m.has('scheduler') && !m.has('scheduler_flags') ? { fallback: true, port: true } : { fallback: false, port: false };
  (f.list(m, 'scheduler_flags') ?? []).forEach((n, i) => {
    const flag = f.check(n, `${m.sub('scheduler_flags')}[${i}]`, oneOf(['fallback', 'port'] as const));
    if (flag) flags[flag] = true;
  });
  if ((flags.fallback || flags.port) && scheduler !== 'sh' && scheduler !== 'mh')
    f.r.issue(m.keyNode('scheduler_flags'), m.sub('scheduler_flags'), `scheduler flags apply to sh and mh only, not ${scheduler}; remove them or use scheduler: sh`);
  let persistence = f.get(m, 'persistence_timeout', num(0, 2678400, { integer: true, unit: 'seconds' })) ?? 0;
  const sp = f.get(m, 'session_persistence', oneOf(['SOURCE_IP'] as const));
  if (sp === 'SOURCE_IP' && !m.has('persistence_timeout')) persistence = 360; // Octavia's default persistence_timeout for SOURCE_IP
  const netmask = f.get(m, 'persistence_netmask', str(family === 'inet' ? 'a netmask like 255.255.255.0' : 'a prefix length 1..128', (v) =>
    family === 'inet' ? (DOTTED_QUAD.test(v) ? undefined : `"${v}" is not a netmask`) : /^\d+$/.test(v) && +v >= 1 && +v <= 128 ? undefined : `"${v}" is not a prefix length`,
  )) ?? (family === 'inet' ? '255.255.255.255' : '128');
  const forwarding = f.get(m, 'forwarding', FORWARDING) ?? 'nat';
  const onePacket = f.get(m, 'one_packet', bool) ?? false;
  if (onePacket && protocol !== 'udp') f.r.issue(m.keyNode('one_packet'), m.sub('one_packet'), 'one_packet scheduling is for UDP services; remove it or set protocol: udp');

  const realServers: RealServerConfig[] = [];
  const rsSeen = new Set<string>(); // address|port: a Set, not a scan of the list (160,000 real servers took minutes)
  (f.list(m, 'real_servers') ?? []).forEach((n, i) => {
    const p = `${m.sub('real_servers')}[${i}]`;
    const rs = realServer(f, n, p, { address, port, forwarding });
    if (!rs) return;
    const key = `${rs.address}|${rs.port}`;
    if (rsSeen.has(key)) {
      f.r.issue(n, p, `${rs.address}:${rs.port} is listed twice; list each real server once`);
      return;
    }
    rsSeen.add(key);
    realServers.push(rs);
  });
  const check = m.has('health_check') ? healthCheck(f, m.value('health_check') ?? m.keyNode('health_check')!, m.sub('health_check'), port ?? 0) : undefined;
  const quorum = f.get(m, 'quorum', num(1, 0x7fffffff, { integer: true, unit: 'total weight of healthy real servers' })) ?? 1;
  const hysteresis = f.get(m, 'hysteresis', UINT31) ?? 0;
  if (hysteresis >= quorum && m.has('hysteresis')) f.r.issue(m.value('hysteresis') ?? m.node, m.sub('hysteresis'), `${hysteresis} is not below quorum ${quorum}; valid: 0..${quorum - 1}`);
  let sorryServer: VirtualServerConfig['sorryServer'];
  if (m.has('sorry_server')) {
    const ss = f.map(m.value('sorry_server') ?? m.node, m.sub('sorry_server'), 'a map {address, port, forwarding}');
    if (ss) {
      ss.allowOnly(['address', 'port', 'forwarding']);
      if (!ss.has('address')) f.r.issue(ss.node, ss.sub('address'), 'missing "address"');
      const sa = f.get(ss, 'address', IP);
      const sp2 = f.get(ss, 'port', PORT) ?? port ?? 0;
      if (sa !== undefined) sorryServer = { address: sa, port: sp2, forwarding: f.get(ss, 'forwarding', FORWARDING) ?? forwarding };
    }
  }
  const inhibitOnFailure = f.get(m, 'inhibit_on_failure', bool) ?? false;
  const alpha = f.get(m, 'alpha', bool) ?? false;
  const omega = f.get(m, 'omega', bool) ?? false;
  const notify: VirtualServerConfig['notify'] = {};
  for (const [key, field] of [['notify_up', 'up'], ['notify_down', 'down'], ['quorum_up', 'quorumUp'], ['quorum_down', 'quorumDown']] as const) {
    const v = f.script(m, key);
    if (v !== undefined) notify[field] = v;
  }
  checkAnnounce(f, m, { name, address, announce }, ctx.vrrp, ctx.byAddress);
  if ((address === undefined && fwmark === undefined) || (address !== undefined && port === undefined)) return undefined;
  return {
    name,
    family,
    ...(fwmark !== undefined ? { fwmark } : { protocol, address: address!, port: port! }),
    scheduler,
    schedFlags: flags,
    persistence,
    netmask,
    onePacket,
    realServers,
    ...(check ? { healthCheck: check } : {}),
    inhibitOnFailure,
    alpha,
    omega,
    notify,
    quorum,
    hysteresis,
    ...(sorryServer ? { sorryServer } : {}),
    announce,
  };
}

/** One entry of `real_servers`; `service` gives the defaults (port, forwarding) and the address family. */
function realServer(f: Fields, n: Node, p: string, service: { address: string | undefined; port: number | undefined; forwarding: RealServerConfig['forwarding'] }): RealServerConfig | undefined {
  const { address, port, forwarding } = service;
  const rs = f.map(n, p, 'a map {address, port, weight}');
  if (!rs) return undefined;
  rs.allowOnly(['address', 'port', 'weight', 'upper_threshold', 'connection_limit', 'lower_threshold', 'forwarding', 'tunnel']);
  if (!rs.has('address')) f.r.issue(n, p, 'missing "address"; valid: address: 10.0.0.2');
  const ra = f.get(rs, 'address', IP);
  if (ra !== undefined && address !== undefined && isIPv6(ra) !== isIPv6(address) && (rs.has('forwarding') ? scalarValue(rs.value('forwarding')) : forwarding) !== 'tunnel')
    f.r.issue(rs.value('address') ?? n, rs.sub('address'), `${ra} is not the same address family as the service (${address}); valid: a real server of the same family`);
  const rport = f.get(rs, 'port', PORT) ?? port ?? 0;
  if (rs.has('upper_threshold') && rs.has('connection_limit'))
    f.r.issue(rs.keyNode('connection_limit'), rs.sub('connection_limit'), 'connection_limit is another name for upper_threshold; set only one');
  const upper = f.get(rs, 'upper_threshold', UINT31) ?? f.get(rs, 'connection_limit', UINT31) ?? 0;
  const lower = f.get(rs, 'lower_threshold', UINT31) ?? 0;
  if (upper > 0 && lower > upper) f.r.issue(rs.value('lower_threshold') ?? n, rs.sub('lower_threshold'), `${lower} is above upper_threshold ${upper}; valid: 0..${upper}`);
  const fwd = f.get(rs, 'forwarding', FORWARDING) ?? forwarding;
  let tunnel: RealServerConfig['tunnel'];
  if (rs.has('tunnel')) {
    const t = f.map(rs.value('tunnel') ?? n, rs.sub('tunnel'), 'a map {type: ipip|gue|gre, port, checksum}');
    if (t) {
      t.allowOnly(['type', 'port', 'checksum']);
      const type = f.get(t, 'type', oneOf(['ipip', 'gue', 'gre'] as const)) ?? 'ipip';
      const tport = f.get(t, 'port', num(1, 65535, { integer: true }));
      const checksum = f.get(t, 'checksum', oneOf(['none', 'csum', 'remcsum'] as const));
      if (type === 'gue' && tport === undefined) f.r.issue(t.node, t.sub('port'), 'a GUE tunnel needs its UDP port; valid: port: 1..65535');
      if (type !== 'gue' && t.has('port')) f.r.issue(t.keyNode('port'), t.sub('port'), `only GUE tunnels have a port, not ${type}`);
      if (type === 'ipip' && checksum !== undefined) f.r.issue(t.keyNode('checksum'), t.sub('checksum'), 'IPIP has no checksum option; valid for gue and gre');
      tunnel = { type, ...(tport !== undefined ? { port: tport } : {}), ...(checksum && checksum !== 'none' ? { checksum } : {}) };
    }
    if (fwd !== 'tunnel') f.r.issue(rs.keyNode('tunnel'), rs.sub('tunnel'), `tunnel settings need forwarding: tunnel (this real server forwards by ${fwd})`);
  }
  if (ra === undefined) return undefined;
  return {
    address: ra,
    port: rport,
    weight: f.get(rs, 'weight', num(0, 65535, { integer: true })) ?? 1,
    upperThreshold: upper,
    lowerThreshold: lower,
    forwarding: fwd,
    ...(fwd === 'tunnel' ? { tunnel: tunnel ?? { type: 'ipip' } } : {}),
  };
}

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

/**
 * `virtual_servers`: each service defined once (by address/port/protocol or fwmark).
 * `vrrp`: VRRP's addresses (canonical -> instance), which no virtual server may announce.
 */
export function virtualServers(f: Fields, top: MapView, vrrp: ReadonlyMap<string, string> = new Map()): VirtualServerConfig[] {
  const ctx: AnnounceContext = { vrrp, byAddress: new Map() };
  const out: VirtualServerConfig[] = [];
  if (!top.has('virtual_servers')) return out;
  const vm = f.map(top.value('virtual_servers') ?? top.keyNode('virtual_servers'), 'virtual_servers', 'a map of virtual server name -> settings');
  const seen = new Map<string, string>();
  for (const name of vm?.keys() ?? []) {
    const v = virtualServer(f, name, vm!.keyNode(name)!, vm!.value(name) ?? null, ctx);
    if (!v) continue;
    const id = serviceName(v.fwmark !== undefined ? { family: v.family, fwmark: v.fwmark } : { family: v.family, protocol: v.protocol!, address: v.address!, port: v.port! });
    const other = seen.get(id);
    if (other !== undefined) {
      f.r.issue(vm!.keyNode(name), `virtual_servers.${name}`, `${id} is already defined by virtual server "${other}"; valid: each service once`);
      continue;
    }
    seen.set(id, name);
    out.push(v);
  }
  return out;
}
