// The VRRP sections: `vrrp_instances` (with their virtual IPs, tracking, GARP
// and notify scripts) and `vrrp_sync_groups`. Keys carry keepalived's names and
// meanings (keepalived.conf(5)).

import { isIPv6 } from 'node:net';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { bool, didYouMean, type Fields, ifname, MapView, NAME, num, oneOf, scalarValue, str } from './reader.js';
import { parseRouteLine, parseRuleLine } from './routes.js';
import { type TrackDefaults, trackRefs } from './track.js';
import { heldLines, peerAddr, vipList } from './addresses.js';
import { notify } from './notify.js';
import { GARP_KEYS, instanceGarp } from './garp.js';
import { findNft, NFT_MISSING } from '../net/nft.js';
import type { GlobalConfig, SyncGroupConfig, TrackInterface, VrrpInstanceConfig } from './types.js';

/** The trackers defined at the top level, which track_script / track_file entries name. */
export interface Known {
  scripts: TrackDefaults;
  files: TrackDefaults;
  processes: TrackDefaults;
}
const NONE: Known = { scripts: new Map(), files: new Map(), processes: new Map() };

/**
 * A tracker's `weight` (keepalived: -max..max, default 0 = FAULT while down). An address
 * owner (priority 255) is never moved by tracking: keepalived requires weight 0 there.
 */
export function trackWeight(f: Fields, t: MapView, priority: number | undefined, max: number): number {
  const w = f.get(t, 'weight', num(-max, max, { integer: true, unit: '0 = FAULT while down; > 0 added while up; < 0 added while down' })) ?? 0;
  if (w !== 0 && priority === 255) {
    f.r.issue(t.value('weight') ?? t.node, t.sub('weight'), `an address owner (priority 255) is not moved by tracking (keepalived requires weight 0 for it); valid: weight 0 (FAULT while down), or a priority below 255`);
    return 0;
  }
  return w;
}

/** keepalived's keyword pairs like preempt / nopreempt: `yes` (default true), or `no: true` for false; both set true is a conflict. */
function flagPair(f: Fields, m: MapView, yes: string, no: string): boolean {
  const on = f.get(m, yes, bool) ?? true;
  if (f.get(m, no, bool) !== true) return on;
  if (m.has(yes) && on) f.r.issue(m.keyNode(no), m.sub(no), `conflicts with ${yes}: true; valid: set only one of them`);
  return false;
}

function instance(f: Fields, name: string, keyNode: Node, node: Node | null, g: GlobalConfig, known: Known): VrrpInstanceConfig | undefined {
  const path = `vrrp_instances.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `instance name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map of instance settings');
  if (!m) return undefined;
  m.allowOnly([
    'interface', 'vrid', 'priority', 'advert_int', 'version', 'v3_checksum', 'virtual_ipaddress', 'virtual_ipaddress_excluded',
    'unicast_src_ip', 'unicast_peer', 'authentication', 'preempt', 'nopreempt', 'preempt_delay',
    'answer_lower_priority', 'track_interface', 'track_script', 'track_file', 'track_process', 'notify_master', 'notify_backup', 'notify_fault',
    'notify_stop', 'notify', ...GARP_KEYS, 'virtual_routes', 'virtual_rules',
    'unicast_ttl', 'check_unicast_src', 'accept', 'no_accept',
  ]);
  const required = (key: string, hint: string): void => {
    if (!m.has(key)) f.r.issue(m.node, path, `missing required key "${key}"; valid: ${hint}`);
  };
  required('interface', 'the interface VRRP runs on, e.g. interface: eth0');
  required('vrid', 'vrid: 1..255, the same on both directors');
  required('virtual_ipaddress', 'a list of addresses, e.g. virtual_ipaddress: [192.0.2.100/24]');

  const iface = f.get(m, 'interface', ifname);
  const vrid = f.get(m, 'vrid', num(1, 255, { integer: true }));
  const priority = f.get(m, 'priority', num(1, 255, { integer: true })) ?? 100;
  const version = f.get(m, 'version', oneOf([2, 3] as const)) ?? 3;

  let advertIntervalCs = 100;
  if (m.has('advert_int')) {
    const check = version === 2 ? num(1, 255, { integer: true, unit: 'seconds, VRRPv2 counts whole seconds' }) : num(0.01, 40.95, { unit: 'seconds', step: 0.01 });
    const v = f.get(m, 'advert_int', check);
    if (v !== undefined) advertIntervalCs = Math.round(v * 100);
  }
  const v3Checksum = f.get(m, 'v3_checksum', oneOf(['pseudo-header', 'message'] as const)) ?? 'pseudo-header';
  if (m.has('v3_checksum') && version === 2) f.r.issue(m.keyNode('v3_checksum'), m.sub('v3_checksum'), 'v3_checksum applies to VRRPv3 only; remove it or set version: 3');

  const vipSeen = new Set<string>();
  const vipNodes = f.list(m, 'virtual_ipaddress');
  if (vipNodes && vipNodes.length === 0 && m.has('virtual_ipaddress'))
    f.r.issue(m.value('virtual_ipaddress') ?? m.keyNode('virtual_ipaddress'), m.sub('virtual_ipaddress'), 'the list is empty; valid: at least one address, e.g. [192.0.2.100/24]');
  const listed = vipList(f, m, 'virtual_ipaddress', iface ?? '', vipSeen);
  const virtualIps = listed.vips;
  // The adverts carry one family: the first address decides it (keepalived's rule).
  const family = virtualIps[0] && isIPv6(virtualIps[0].address) ? 'inet6' : 'inet';
  virtualIps.forEach((v, i) => {
    if ((isIPv6(v.address) ? 'inet6' : 'inet') === family) return;
    const fam = (x: string) => (x === 'inet6' ? 'IPv6' : 'IPv4');
    f.r.issue(listed.at[i]!.node, listed.at[i]!.path, `${v.address} is ${fam(family === 'inet' ? 'inet6' : 'inet')} but this instance's first virtual IP is ${fam(family)}: an advert carries one family; valid: move it to virtual_ipaddress_excluded (added and removed with the VIPs, not advertised) or to an instance of its own`);
  });
  const excludedIps = vipList(f, m, 'virtual_ipaddress_excluded', iface ?? '', vipSeen).vips;
  if (family === 'inet6') {
    if (version === 2) f.r.issue(m.value('version') ?? m.node, m.sub('version'), 'VRRPv2 has no IPv6 (RFC 3768), and this instance is IPv6 (its virtual_ipaddress are); valid: version: 3');
    if (m.has('v3_checksum') && v3Checksum === 'message')
      f.r.issue(m.value('v3_checksum') ?? m.node, m.sub('v3_checksum'), 'over IPv6 the checksum always covers the pseudo-header (RFC 5798 5.2.8); valid: pseudo-header, or remove it');
  }

  const unicastSrcIp = m.has('unicast_src_ip') ? peerAddr(f, m.value('unicast_src_ip') ?? m.node, m.sub('unicast_src_ip'), family) : undefined;
  const unicastPeers: string[] = [];
  (f.list(m, 'unicast_peer') ?? []).forEach((n, i) => {
    const p = peerAddr(f, n, `${m.sub('unicast_peer')}[${i}]`, family);
    if (p !== undefined) unicastPeers.push(p);
  });
  const unicastTtl = f.get(m, 'unicast_ttl', num(0, 255, { integer: true })) ?? 255;
  const checkUnicastSrc = f.get(m, 'check_unicast_src', bool) ?? g.vrrpCheckUnicastSrc;
  for (const key of ['unicast_ttl', 'check_unicast_src'])
    if (m.has(key) && unicastPeers.length === 0)
      f.r.issue(m.keyNode(key), m.sub(key), `${key} applies to unicast adverts only and this instance has no unicast_peer; remove it or add unicast_peer: [...]`);

  let authPass: string | undefined;
  if (m.has('authentication')) {
    const a = f.map(m.value('authentication') ?? m.keyNode('authentication'), m.sub('authentication'), 'a map {auth_type: PASS, auth_pass: ...}');
    if (a) {
      a.allowOnly(['auth_type', 'auth_pass']);
      if (version !== 2) f.r.issue(m.keyNode('authentication'), m.sub('authentication'), 'authentication is VRRPv2 only (RFC 5798 removed it); remove it or set version: 2');
      const t = f.get(a, 'auth_type', oneOf(['PASS'] as const));
      if (a.has('auth_type') && t === undefined && scalarValue(a.value('auth_type')) === 'AH') {
        // oneOf already reported it; AH is the one a keepalived user may try.
      }
      if (!a.has('auth_type')) f.r.issue(a.node, a.sub('auth_type'), 'missing key "auth_type"; valid: PASS');
      if (!a.has('auth_pass')) f.r.issue(a.node, a.sub('auth_pass'), 'missing key "auth_pass"; valid: a password of 1..8 characters');
      authPass = f.get(a, 'auth_pass', str('a password of 1..8 characters', (s) => (Buffer.byteLength(s) <= 8 ? undefined : `"${s}" is longer than 8 bytes (VRRPv2 carries 8)`)));
    }
  }

  const preempt = flagPair(f, m, 'preempt', 'nopreempt');
  // RFC 5798 Accept_Mode; keepalived's default without vrrp_strict is accept.
  const accept = flagPair(f, m, 'accept', 'no_accept');
  // Like a script, checked on this host at every load: a master must not find out at its first takeover.
  if (!accept && priority !== 255 && findNft() === undefined) f.r.issue(m.keyNode('no_accept'), m.sub('no_accept'), NFT_MISSING);
  const preemptDelay = f.get(m, 'preempt_delay', num(0, 1000, { unit: 'seconds' })) ?? 0;
  const answerLowerPriority = f.get(m, 'answer_lower_priority', bool) ?? true;

  const trackInterfaces: TrackInterface[] = [];
  (f.list(m, 'track_interface') ?? []).forEach((n, i) => {
    const p = `${m.sub('track_interface')}[${i}]`;
    if (isMap(n)) {
      const t = new MapView(f.r, n, p);
      t.allowOnly(['name', 'weight', 'reverse']);
      if (!t.has('name')) f.r.issue(n, p, 'missing key "name"; valid: {name: eth1, weight: -20}');
      const tn = f.get(t, 'name', ifname);
      const w = trackWeight(f, t, priority, 253);
      const reverse = f.get(t, 'reverse', bool) ?? false;
      if (tn !== undefined) trackInterfaces.push({ name: tn, weight: w, reverse });
    } else {
      const tn = f.check(n, p, ifname);
      if (tn !== undefined) trackInterfaces.push({ name: tn, weight: 0, reverse: false });
    }
  });

  const trackScripts = trackRefs(f, m, 'track_script', known.scripts, 'vrrp_script', priority, 253);
  const trackFiles = trackRefs(f, m, 'track_file', known.files, 'vrrp_track_files entry', priority, 254);
  const trackProcesses = trackRefs(f, m, 'track_process', known.processes, 'vrrp_track_processes entry', priority, 254);

  const garp = instanceGarp(f, m, g.garp);

  const notifyScripts = notify(f, m, g);
  const virtualRoutes = heldLines(f, m, 'virtual_routes', parseRouteLine, '"192.0.2.0/24 via 10.0.0.1 dev eth1"');
  const virtualRules = heldLines(f, m, 'virtual_rules', parseRuleLine, '"from 192.0.2.0/24 table 100"');
  if (iface === undefined || vrid === undefined) return undefined;
  return {
    name,
    interface: iface,
    vrid,
    priority,
    advertIntervalCs,
    version,
    v3Checksum,
    virtualIps,
    ...(family === 'inet6' ? { family } : {}),
    ...(excludedIps.length > 0 ? { excludedIps } : {}),
    ...(unicastSrcIp !== undefined ? { unicastSrcIp } : {}),
    unicastPeers,
    unicastTtl,
    checkUnicastSrc,
    ...(authPass !== undefined ? { authPass } : {}),
    preempt,
    preemptDelayMs: Math.round(preemptDelay * 1000),
    answerLowerPriority,
    accept,
    trackInterfaces,
    trackScripts,
    trackFiles,
    trackProcesses,
    notify: notifyScripts,
    garp,
    virtualRoutes,
    virtualRules,
  };
}

function syncGroup(f: Fields, name: string, keyNode: Node, node: Node | null, instances: Map<string, Node>, taken: Map<string, string>, g: GlobalConfig, known: Known): SyncGroupConfig | undefined {
  const path = `vrrp_sync_groups.${name}`;
  if (!NAME.test(name)) f.r.issue(keyNode, path, `group name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
  const m = f.map(node ?? keyNode, path, 'a map {group: [VI_1, VI_2]}');
  if (!m) return undefined;
  m.allowOnly(['group', 'track_script', 'track_file', 'track_process', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify']);
  if (!m.has('group')) f.r.issue(m.node, path, 'missing required key "group"; valid: a list of vrrp_instances names');
  const members: string[] = [];
  (f.list(m, 'group') ?? []).forEach((n, i) => {
    const p = `${m.sub('group')}[${i}]`;
    const member = f.check(n, p, str('the name of a VRRP instance'));
    if (member === undefined) return;
    if (!instances.has(member)) {
      const guess = didYouMean(member, [...instances.keys()]);
      f.r.issue(n, p, `no VRRP instance "${member}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...instances.keys()].join(', ') || '(no instances defined)'}`);
      return;
    }
    const other = taken.get(member);
    if (other !== undefined) {
      f.r.issue(n, p, `instance "${member}" is already in sync group "${other}"; valid: an instance belongs to at most one group`);
      return;
    }
    if (members.includes(member)) {
      f.r.issue(n, p, `"${member}" is listed twice; list each instance once`);
      return;
    }
    taken.set(member, name);
    members.push(member);
  });
  if (m.has('group') && members.length === 0 && isSeq(m.value('group')) && (m.value('group') as { items: unknown[] }).items.length === 0)
    f.r.issue(m.value('group') ?? m.node, m.sub('group'), 'the list is empty; valid: one or more instance names');
  return {
    name,
    instances: members,
    trackScripts: trackRefs(f, m, 'track_script', known.scripts, 'vrrp_script', undefined, 253),
    trackFiles: trackRefs(f, m, 'track_file', known.files, 'vrrp_track_files entry', undefined, 254),
    trackProcesses: trackRefs(f, m, 'track_process', known.processes, 'vrrp_track_processes entry', undefined, 254),
    notify: notify(f, m, g),
  };
}

/** `vrrp_instances`: each instance, a vrid unique per interface. Also returns every name's key node, for the sync groups' references. */
export function vrrpInstances(f: Fields, top: MapView, g: GlobalConfig, known: Known = NONE): { instances: VrrpInstanceConfig[]; nodes: Map<string, Node> } {
  const instances: VrrpInstanceConfig[] = [];
  const nodes = new Map<string, Node>();
  if (!top.has('vrrp_instances')) {
    if (!top.has('virtual_servers'))
      f.r.issue(top.node, 'vrrp_instances', 'missing (and no virtual_servers either); valid: a map of VRRP instances, e.g. vrrp_instances: {VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24]}}');
    return { instances, nodes };
  }
  const im = f.map(top.value('vrrp_instances') ?? top.keyNode('vrrp_instances'), 'vrrp_instances', 'a map of instance name -> settings');
  if (!im) return { instances, nodes };
  if (im.keys().length === 0) f.r.issue(im.node, 'vrrp_instances', 'no instances; valid: at least one instance');
  const seen = new Map<string, string>();
  for (const name of im.keys()) {
    const keyNode = im.keyNode(name)!;
    nodes.set(name, keyNode);
    const inst = instance(f, name, keyNode, im.value(name) ?? null, g, known);
    if (!inst) continue;
    const id = `${inst.interface}/${inst.vrid}`;
    const other = seen.get(id);
    if (other !== undefined) {
      const value = im.value(name);
      const vridNode = isMap(value) ? (value.items.find((p) => isScalar(p.key) && p.key.value === 'vrid')?.value as Node | undefined) : undefined;
      f.r.issue(vridNode ?? keyNode, `vrrp_instances.${name}.vrid`, `vrid ${inst.vrid} on ${inst.interface} is already used by instance "${other}"; valid: a vrid unique per interface`);
      continue;
    }
    seen.set(id, name);
    instances.push(inst);
  }
  return { instances, nodes };
}

/** `vrrp_sync_groups`: each names instances (by their key nodes in `instances`), an instance in at most one group. */
export function vrrpSyncGroups(f: Fields, top: MapView, instances: Map<string, Node>, g: GlobalConfig, known: Known = NONE): SyncGroupConfig[] {
  const groups: SyncGroupConfig[] = [];
  const gv = top.value('vrrp_sync_groups');
  if (!top.has('vrrp_sync_groups') || (isScalar(gv) && gv.value === null)) return groups;
  const gm = f.map(gv ?? top.keyNode('vrrp_sync_groups'), 'vrrp_sync_groups', 'a map of group name -> {group: [...]}');
  const taken = new Map<string, string>();
  for (const name of gm?.keys() ?? []) {
    const sg = syncGroup(f, name, gm!.keyNode(name)!, gm!.value(name) ?? null, instances, taken, g, known);
    if (sg) groups.push(sg);
  }
  return groups;
}

