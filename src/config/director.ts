// The `virtual_servers` section: each virtual server's service (an address and
// port, a fwmark, or a virtual_server_group), scheduling and persistence, real
// servers, health check, quorum, sorry server and scripts. keepalived's and
// Octavia's vocabulary where they have a word (Octavia's listener + pool:
// protocol names, lb_algorithm, session_persistence, admin_state_up,
// connection_limit).

import { isIPv6 } from 'node:net';
import { isMap, type Node } from 'yaml';
import { serviceName } from '../ipvs/types.js';
import { checkAnnounce } from './announce.js';
import { healthChecks, needsBindIf } from './health-check.js';
import { FORWARDING, IP, PORT, realServer, UINT31 } from './real-server.js';
import { bool, didYouMean, DOTTED_QUAD, type Fields, MapView, NAME, num, oneOf, scalarValue, str } from './reader.js';
import type { RealServerConfig, VirtualServerConfig, VsProtocol } from './types.js';
import { serviceKeysOf, type VsGroup, vsGroups } from './vs-group.js';

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'sed', 'nq', 'dh', 'lblc', 'lblcr', 'fo', 'ovf', 'twos'];
/** Octavia's pool algorithms (members carry weights, so the weighted schedulers); SOURCE_IP_PORT is mh with the port hashed. */
const SCHEDULER_ALIASES: Record<string, string> = { ROUND_ROBIN: 'wrr', LEAST_CONNECTIONS: 'wlc', SOURCE_IP: 'sh', SOURCE_IP_PORT: 'mh' };
/** Octavia's listener protocols an L4 director can serve, and what it serves them as. */
const PROTOCOLS: Record<string, VsProtocol> = { tcp: 'tcp', udp: 'udp', sctp: 'sctp', TCP: 'tcp', UDP: 'udp', SCTP: 'sctp', HTTP: 'tcp', HTTPS: 'tcp' };
/** Octavia's protocols that need a proxy (haproxy), with why. */
const L7_PROTOCOLS: Record<string, string> = {
  TERMINATED_HTTPS: 'terminating TLS needs a proxy that holds the certificate',
  PROXY: 'the PROXY protocol header is written by a proxy',
  PROXYV2: 'the PROXY protocol header is written by a proxy',
  PROMETHEUS: 'a metrics listener is served by a proxy',
};

/** The service part: one address + port + protocol, a fwmark, or a group; and the port real servers default to. */
interface Identity {
  address?: string;
  port?: number;
  fwmark?: number;
  group?: VsGroup;
  protocol: VsProtocol;
  family: 'inet' | 'inet6';
  /** The one port all its services have (real servers default to it; direct routing cannot change it). */
  fixedPort: number | undefined;
  /** Some service of it has port 0 (all ports). */
  portZero: boolean;
}

function identity(f: Fields, m: MapView, path: string, groups: ReadonlyMap<string, VsGroup>): Identity | undefined {
  const forms = ['address', 'fwmark', 'group'].filter((k) => m.has(k));
  if (forms.length > 1) f.r.issue(m.keyNode(forms[1]!), m.sub(forms[1]!), `a virtual server is one of address + port, fwmark or group; it has ${forms.join(' and ')}: remove one`);
  if (forms.length === 0) f.r.issue(m.node, path, 'missing "address" (with port and protocol), "fwmark" or "group"; valid: address: 192.0.2.100, port: 80');
  let protocol: VsProtocol = 'tcp';
  if (m.has('protocol')) {
    const raw = String(scalarValue(m.value('protocol')));
    const p = PROTOCOLS[raw];
    if (p) protocol = p;
    else {
      const l7 = L7_PROTOCOLS[raw.toUpperCase()];
      f.r.issue(m.value('protocol') ?? m.node, m.sub('protocol'), `${l7 ? `${raw} cannot be served at layer 4: ${l7}` : `"${raw}" is not a protocol`}; valid: tcp | udp | sctp (Octavia's TCP, UDP, SCTP, and HTTP / HTTPS as TCP passthrough)`);
    }
  }
  if (m.has('fwmark') && (m.has('port') || m.has('protocol'))) f.r.issue(m.keyNode('fwmark'), m.sub('fwmark'), 'a fwmark service has no port or protocol (the mark selects the packets); remove port and protocol');
  if (m.has('group') && m.has('port')) f.r.issue(m.keyNode('port'), m.sub('port'), 'the group\'s lines give the ports; remove port');
  const familyKey = f.get(m, 'family', oneOf(['inet', 'inet6'] as const));
  if (m.has('address')) {
    const address = f.get(m, 'address', IP);
    if (!m.has('port')) f.r.issue(m.node, path, 'missing "port"; valid: port: 1..65535 (0 = all ports, with persistence)');
    const port = f.get(m, 'port', PORT);
    if (address === undefined || port === undefined) return undefined;
    return { address, port, protocol, family: isIPv6(address) ? 'inet6' : 'inet', fixedPort: port, portZero: port === 0 };
  }
  if (m.has('fwmark')) {
    const fwmark = f.get(m, 'fwmark', num(1, 0xffffffff, { integer: true }));
    if (fwmark === undefined) return undefined;
    return { fwmark, protocol, family: familyKey ?? 'inet', fixedPort: undefined, portZero: false };
  }
  if (m.has('group')) {
    const name = f.get(m, 'group', str('the name of a virtual_server_groups entry'));
    if (name === undefined) return undefined;
    const g = groups.get(name);
    if (!g) {
      const guess = didYouMean(name, [...groups.keys()]);
      f.r.issue(m.value('group') ?? m.node, m.sub('group'), `no virtual_server_groups entry "${name}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...groups.keys()].join(', ') || '(no groups defined)'}`);
      return undefined;
    }
    const family = g.family ?? g.fwmarkFamily ?? familyKey ?? 'inet';
    if (familyKey && familyKey !== family) f.r.issue(m.value('family') ?? m.node, m.sub('family'), `group ${name} is ${family}; remove family or make it ${family}`);
    const ports = new Set(g.members.map((x) => (x.fwmark !== undefined ? -1 : x.port)));
    const only = ports.size === 1 ? [...ports][0]! : undefined;
    return { group: g, protocol, family, fixedPort: only !== undefined && only >= 0 ? only : undefined, portZero: ports.has(0) };
  }
  return undefined;
}

/** persistence_timeout / persistence_netmask, or Octavia's session_persistence (SOURCE_IP, or the map with its timeout and granularity). */
function persistenceOf(f: Fields, m: MapView, family: 'inet' | 'inet6'): { persistence: number; netmask: string } {
  const timeout = num(0, 2678400, { integer: true, unit: 'seconds' });
  const mask = str(family === 'inet' ? 'a netmask like 255.255.255.0' : 'a prefix length 1..128', (v) =>
    family === 'inet' ? (DOTTED_QUAD.test(v) ? undefined : `"${v}" is not a netmask`) : /^\d+$/.test(v) && +v >= 1 && +v <= 128 ? undefined : `"${v}" is not a prefix length`,
  );
  let persistence = f.get(m, 'persistence_timeout', timeout) ?? 0;
  let netmask = f.get(m, 'persistence_netmask', mask);
  const spNode = m.value('session_persistence');
  let type: unknown;
  if (spNode && isMap(spNode)) {
    const sp = new MapView(f.r, spNode, m.sub('session_persistence'));
    sp.allowOnly(['type', 'persistence_timeout', 'persistence_granularity', 'cookie_name']);
    for (const [inner, outer] of [['persistence_timeout', 'persistence_timeout'], ['persistence_granularity', 'persistence_netmask']] as const)
      if (sp.has(inner) && m.has(outer)) f.r.issue(sp.keyNode(inner), sp.sub(inner), `${outer} is set beside it; set only one`);
    if (!sp.has('type')) f.r.issue(spNode, sp.sub('type'), 'missing "type"; valid: SOURCE_IP');
    type = scalarValue(sp.value('type'));
    if (sp.has('cookie_name')) f.r.issue(sp.keyNode('cookie_name'), sp.sub('cookie_name'), 'cookies are HTTP, which an L4 director does not read; remove it (SOURCE_IP persistence keeps a client on one real server)');
    const t = f.get(sp, 'persistence_timeout', timeout);
    persistence = t ?? (type === 'SOURCE_IP' && !m.has('persistence_timeout') ? 360 : persistence);
    netmask = f.get(sp, 'persistence_granularity', mask) ?? netmask;
  } else if (spNode) {
    type = scalarValue(spNode);
    if (type === 'SOURCE_IP' && !m.has('persistence_timeout')) persistence = 360; // Octavia's default persistence_timeout for SOURCE_IP
  }
  if (type !== undefined && type !== 'SOURCE_IP') {
    const cookie = type === 'HTTP_COOKIE' || type === 'APP_COOKIE';
    const at = spNode && isMap(spNode) ? (new MapView(f.r, spNode, m.sub('session_persistence')).value('type') ?? spNode) : spNode;
    f.r.issue(at ?? m.node, m.sub('session_persistence'), `${cookie ? `${type} persistence reads HTTP cookies, which an L4 director does not see; the nearest L4 equivalent is SOURCE_IP (a client's connections go to one real server for persistence_timeout)` : `"${String(type)}" is not a persistence type`}; valid: SOURCE_IP`);
  }
  return { persistence, netmask: netmask ?? (family === 'inet' ? '255.255.255.255' : '128') };
}

/** What virtualServer() checks an `announce` against: VRRP's addresses, and the first virtual server of each address. */
interface AnnounceContext {
  vrrp: ReadonlyMap<string, string>;
  byAddress: Map<string, { name: string; announce: boolean }>;
}

function virtualServer(f: Fields, name: string, keyNode: Node, node: Node | null, groups: ReadonlyMap<string, VsGroup>, actx: AnnounceContext): VirtualServerConfig | undefined {
  const path = `virtual_servers.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `virtual server name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map of virtual server settings');
  if (!m) return undefined;
  m.allowOnly([
    'address', 'port', 'protocol', 'fwmark', 'group', 'family', 'scheduler', 'scheduler_flags', 'persistence_timeout',
    'persistence_netmask', 'session_persistence', 'forwarding', 'one_packet', 'real_servers',
    'health_check', 'health_checks', 'inhibit_on_failure', 'alpha', 'omega', 'remove_on_stop', 'quorum', 'hysteresis', 'sorry_server', 'sorry_server_inhibit',
    'notify_up', 'notify_down', 'quorum_up', 'quorum_down', 'admin_state_up', 'connection_limit', 'announce',
  ]);
  const announce = f.get(m, 'announce', bool) ?? false;
  const id = identity(f, m, path, groups);
  const family = id?.family ?? 'inet';
  // Announced (the ECMP tier): Maglev hashing by default, so every director sends a flow to the same real server.
  const rawSched = f.get(m, 'scheduler', str('a scheduler')) ?? (announce ? 'mh' : 'wlc');
  const scheduler = SCHEDULER_ALIASES[rawSched] ?? rawSched;
  if (!SCHEDULERS.includes(scheduler)) {
    const guess = didYouMean(rawSched, [...SCHEDULERS, ...Object.keys(SCHEDULER_ALIASES)]);
    f.r.issue(m.value('scheduler') ?? m.node, m.sub('scheduler'), `unknown scheduler "${rawSched}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${SCHEDULERS.join(' | ')} or ${Object.keys(SCHEDULER_ALIASES).join(' | ')}`);
  }
  // mh-fallback: a flow whose real server is out goes to the next one (others' flows stay); mh-port: the source port hashed too.
  const flags = announce && !m.has('scheduler') && !m.has('scheduler_flags') ? { fallback: true, port: true } : { fallback: false, port: rawSched === 'SOURCE_IP_PORT' };
  (f.list(m, 'scheduler_flags') ?? []).forEach((n, i) => {
    const flag = f.check(n, `${m.sub('scheduler_flags')}[${i}]`, oneOf(['fallback', 'port'] as const));
    if (flag) flags[flag] = true;
  });
  if ((flags.fallback || flags.port) && scheduler !== 'sh' && scheduler !== 'mh')
    f.r.issue(m.keyNode('scheduler_flags'), m.sub('scheduler_flags'), `scheduler flags apply to sh and mh only, not ${scheduler}; remove them or use scheduler: sh`);
  const { persistence, netmask } = persistenceOf(f, m, family);
  if (id?.portZero && persistence === 0)
    f.r.issue(m.value(id.group ? 'group' : 'port') ?? m.node, m.sub(id.group ? 'group' : 'port'), 'port 0 (all ports) needs persistence: ipvsadm refuses a zero port for a service that is not persistent; valid: persistence_timeout: 360 (or session_persistence: SOURCE_IP), or a port');
  const forwarding = f.get(m, 'forwarding', FORWARDING) ?? 'nat';
  const onePacket = f.get(m, 'one_packet', bool) ?? false;
  // A fwmark service's packets may be UDP: the kernel applies one-packet scheduling to those (as keepalived's ops on a fwmark).
  if (onePacket && id?.protocol !== 'udp' && id?.fwmark === undefined) f.r.issue(m.keyNode('one_packet'), m.sub('one_packet'), 'one_packet scheduling is for UDP services (and the UDP packets of a fwmark service); remove it or set protocol: udp');

  const rsPort = id?.fixedPort ?? 0;
  const realServers: RealServerConfig[] = [];
  const rsAt: { node: Parameters<typeof f.r.issue>[0]; path: string }[] = [];
  const rsSeen = new Set<string>(); // address|port: a Set, not a scan of the list (160,000 real servers took minutes)
  (f.list(m, 'real_servers') ?? []).forEach((n, i) => {
    const p = `${m.sub('real_servers')}[${i}]`;
    const rs = realServer(f, n, p, { address: id?.address ?? (family === 'inet6' ? '::' : '0.0.0.0'), port: rsPort, forwarding, fixedPort: id?.fixedPort });
    if (!rs) return;
    const key = `${rs.address}|${rs.port}`;
    if (rsSeen.has(key)) {
      f.r.issue(n, p, `${rs.address}:${rs.port} is listed twice; list each real server once`);
      return;
    }
    rsSeen.add(key);
    realServers.push(rs);
    rsAt.push({ node: n, path: p });
  });
  const checks = healthChecks(f, m, realServers.some((r) => r.port === 0) || realServers.length === 0 ? rsPort : 1) ?? [];
  realServers.forEach((rs, i) => {
    const hc = (rs.healthChecks ?? checks).find((c) => needsBindIf(rs.address, c));
    if (hc) f.r.issue(rsAt[i]!.node, rsAt[i]!.path, `${rs.address} is link-local: its ${hc.type.toUpperCase()} check must say which interface it is on; valid: bind_if: IFNAME in the check, or connect_ip (keepalived refuses it too)`);
  });
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
      const sfwd = f.get(ss, 'forwarding', FORWARDING) ?? forwarding;
      const sp = f.get(ss, 'port', PORT) ?? rsPort;
      if (sfwd !== 'nat' && ss.has('port') && sp !== (id?.fixedPort ?? 0))
        f.r.issue(ss.value('port') ?? ss.node, ss.sub('port'), `${sfwd === 'dr' ? 'direct routing' : 'a tunnel'} does not change the destination port; valid: remove port`);
      if (sa !== undefined) sorryServer = { address: sa, port: sfwd === 'nat' ? sp : (id?.fixedPort ?? 0), forwarding: sfwd };
    }
  }
  const sorryServerInhibit = f.get(m, 'sorry_server_inhibit', bool) ?? false;
  if (sorryServerInhibit && !m.has('sorry_server')) f.r.issue(m.keyNode('sorry_server_inhibit'), m.sub('sorry_server_inhibit'), 'there is no sorry_server to keep at weight 0; remove it or add sorry_server: {address: ...}');
  const notify: VirtualServerConfig['notify'] = {};
  for (const [key, field] of [['notify_up', 'up'], ['notify_down', 'down'], ['quorum_up', 'quorumUp'], ['quorum_down', 'quorumDown']] as const) {
    const v = f.script(m, key);
    if (v !== undefined) notify[field] = v;
  }
  if (announce && id?.group) f.r.issue(m.keyNode('announce'), m.sub('announce'), 'a virtual_server_group is not announced (its addresses are many); announce the virtual servers of single addresses');
  else checkAnnounce(f, m, { name, address: id?.address, announce }, actx.vrrp, actx.byAddress);
  if (!id) return undefined;
  return {
    name,
    family,
    ...(id.group ? { protocol: id.protocol, group: { name: id.group.name, members: id.group.members } } : id.fwmark !== undefined ? { fwmark: id.fwmark } : { protocol: id.protocol, address: id.address!, port: id.port! }),
    scheduler,
    schedFlags: flags,
    persistence,
    netmask,
    onePacket,
    realServers,
    healthChecks: checks,
    inhibitOnFailure: f.get(m, 'inhibit_on_failure', bool) ?? false,
    alpha: f.get(m, 'alpha', bool) ?? false,
    omega: f.get(m, 'omega', bool) ?? false,
    removeOnStop: f.get(m, 'remove_on_stop', bool) ?? false,
    notify,
    quorum,
    hysteresis,
    ...(sorryServer ? { sorryServer } : {}),
    sorryServerInhibit,
    adminUp: f.get(m, 'admin_state_up', bool) ?? true,
    connectionLimit: f.get(m, 'connection_limit', num(0, 0x7fffffff, { integer: true, unit: 'connections, 0 = no limit' })) ?? 0,
    announce,
  };
}

/** `virtual_servers` (and the `virtual_server_groups` they name): each IPVS service defined once. */
export function virtualServers(f: Fields, top: MapView, vrrp: ReadonlyMap<string, string> = new Map()): VirtualServerConfig[] {
  const actx: AnnounceContext = { vrrp, byAddress: new Map() };
  const out: VirtualServerConfig[] = [];
  const groups = vsGroups(f, top);
  if (!top.has('virtual_servers')) return out;
  const vm = f.map(top.value('virtual_servers') ?? top.keyNode('virtual_servers'), 'virtual_servers', 'a map of virtual server name -> settings');
  const seen = new Map<string, string>();
  for (const name of vm?.keys() ?? []) {
    const v = virtualServer(f, name, vm!.keyNode(name)!, vm!.value(name) ?? null, groups, actx);
    if (!v) continue;
    const clash = serviceKeysOf(v).map(serviceName).find((id) => seen.has(id));
    if (clash !== undefined) {
      f.r.issue(vm!.keyNode(name), `virtual_servers.${name}`, `${clash} is already defined by virtual server "${seen.get(clash)}"; valid: each service once`);
      continue;
    }
    for (const id of serviceKeysOf(v).map(serviceName)) seen.set(id, name);
    out.push(v);
  }
  return out;
}
