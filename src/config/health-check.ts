// `health_check:` (one, Octavia's health monitor keys) or `health_checks:` (several,
// keepalived's checkers: a real server is up while every one passes) of a virtual
// server, or of one real server (its own checkers, replacing the virtual server's).
// keepalived's checker names are accepted for the type (TCP_CHECK, HTTP_GET, ...);
// the keys of each kind of check are in health-check-kinds.ts.

import { isIPv4, isIPv6 } from 'node:net';
import type { Node } from 'yaml';
import { type Fields, type MapView, didYouMean, num, str } from './reader.js';
import { kindKeys, readKind } from './health-check-kinds.js';
import type { HealthCheckConfig, TrackFileConfig } from './types.js';

type Type = HealthCheckConfig['type'];
const TYPES: Record<string, Type> = {
  TCP: 'tcp', HTTP: 'http', HTTPS: 'https', PING: 'ping', SCRIPT: 'script', UDP: 'udp', DNS: 'dns', SMTP: 'smtp', FILE: 'file',
  TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', PING_CHECK: 'ping', MISC_CHECK: 'script', UDP_CHECK: 'udp', DNS_CHECK: 'dns', SMTP_CHECK: 'smtp', FILE_CHECK: 'file',
};
const ALL_TYPES: Type[] = ['tcp', 'http', 'https', 'ping', 'script', 'udp', 'dns', 'smtp', 'file'];
const COMMON = ['type', 'delay', 'timeout', 'max_retries', 'max_retries_down', 'retry', 'delay_before_retry', 'port', 'connect_port', 'connect_ip', 'bindto', 'bind_port', 'bind_if', 'fwmark', 'warmup'];
/** Types that connect to a port (a service without one must say which). */
const PORTED: Type[] = ['tcp', 'http', 'https', 'udp', 'dns', 'smtp'];
/** keepalived's delay_before_retry default when only `retry` is given: delay_loop for DNS, 3 s for HTTP_GET/SSL_GET, else 1 s. */
const retryDefault = (type: Type, delayMs: number): number => (type === 'dns' ? delayMs : type === 'http' || type === 'https' ? 3000 : 1000);
const DEFAULT_PORT: Partial<Record<Type, number>> = { dns: 53, smtp: 25 };

export const IP_ADDRESS = str('an IPv4 or IPv6 address', (v) => (isIPv4(v) || isIPv6(v) ? undefined : `"${v}" is not an IP address`));

/** FILE checks name a vrrp_track_files entry: resolved once every section is read (parse.ts). */
const fileRefs = new WeakMap<Fields['r'], { hc: HealthCheckConfig; node: Node; path: string }[]>();

/** One check map. `servicePort` 0: the service has no port (fwmark, port 0), a ported check must name one. */
export function healthCheck(f: Fields, node: Node, path: string, servicePort: number): HealthCheckConfig | undefined {
  const m = f.map(node, path, 'a map {type, delay, timeout, max_retries, max_retries_down, ...}');
  if (!m) return undefined;
  if (!m.has('type')) f.r.issue(m.node, m.sub('type'), `missing "type"; valid: ${Object.keys(TYPES).slice(0, 9).join(' | ')} (or keepalived's TCP_CHECK, HTTP_GET, ...)`);
  const typeName = f.get(m, 'type', str('a check type', (v) => {
    if (TYPES[v.toUpperCase()]) return undefined;
    const guess = didYouMean(v.toUpperCase(), Object.keys(TYPES));
    return `"${v}" is not a check type${guess ? `; did you mean "${guess}"?` : ''}`;
  }));
  const type: Type = typeName ? TYPES[typeName.toUpperCase()]! : 'tcp';
  const own = kindKeys(type);
  const all = [...new Set(ALL_TYPES.flatMap(kindKeys))];
  m.allowOnly([...COMMON, ...all]);
  for (const k of m.keys())
    if (all.includes(k) && !own.includes(k)) {
      const types = ALL_TYPES.filter((t) => kindKeys(t).includes(k)).map((t) => t.toUpperCase());
      f.r.issue(m.keyNode(k), m.sub(k), `${k} applies to ${types.join('/')} checks, not ${type.toUpperCase()}; remove it`);
    }
  const delay = f.get(m, 'delay', num(0.01, 86400, { unit: 'seconds between checks (Octavia delay, keepalived delay_loop)' })) ?? 5;
  const timeout = f.get(m, 'timeout', num(0.01, 86400, { unit: 'seconds (keepalived connect_timeout)' })) ?? Math.min(3, delay / 2);
  if (timeout >= delay) f.r.issue(m.value('timeout') ?? m.value('delay') ?? m.node, m.sub(m.has('timeout') ? 'timeout' : 'delay'), `timeout ${timeout} s is not less than delay ${delay} s; valid: a timeout below the delay (a check must end before the next one starts)`);
  const hc: HealthCheckConfig = { type, intervalMs: Math.round(delay * 1000), timeoutMs: Math.round(timeout * 1000), rise: 3, fall: 3, method: 'GET', path: '/', expectedCodes: '200', verify: false };
  retries(f, m, hc);

  if (m.has('port') && m.has('connect_port')) f.r.issue(m.keyNode('connect_port'), m.sub('connect_port'), 'connect_port is keepalived\'s name for port; set only one');
  const portNum = f.get(m, 'port', num(1, 65535, { integer: true })) ?? f.get(m, 'connect_port', num(1, 65535, { integer: true }));
  const port = portNum ?? DEFAULT_PORT[type];
  if (port !== undefined) hc.port = port;
  if (PORTED.includes(type) && port === undefined && servicePort === 0)
    f.r.issue(m.node, m.sub('port'), 'this service has no port (fwmark or port 0): say which port to check; valid: port: 1..65535 (keepalived connect_port)');
  for (const k of ['port', 'connect_port'])
    if (m.has(k) && (type === 'ping' || type === 'file')) f.r.issue(m.keyNode(k), m.sub(k), `a ${type.toUpperCase()} check has no port; remove ${k}`);
  connection(f, m, hc);
  const warmup = f.get(m, 'warmup', num(0, 86400, { unit: 'seconds: the first check at a random time up to this (keepalived warmup; 0: at once)' }));
  if (warmup !== undefined && type === 'file') f.r.issue(m.keyNode('warmup'), m.sub('warmup'), 'a FILE check runs when its file changes, not on a schedule; remove warmup');
  else if (warmup !== undefined) hc.warmupMs = Math.round(warmup * 1000);

  readKind(f, m, hc);
  if (type === 'file') {
    (fileRefs.get(f.r) ?? fileRefs.set(f.r, []).get(f.r)!).push({ hc, node: m.value('track_file') ?? m.node, path: m.sub('track_file') });
  }
  return hc;
}

/** The checks whose sockets take keepalived's connection options (PING: no port). */
const BINDABLE: Type[] = ['tcp', 'http', 'https', 'udp', 'dns', 'smtp'];
const TAKES: Record<string, Type[]> = { bind_port: BINDABLE, bind_if: [...BINDABLE, 'ping'], fwmark: [...BINDABLE, 'ping'] };
const IFNAME = str('an interface name (1-15 characters, no / or white space)', (v) => (/^[^\s/]{1,15}$/.test(v) && v !== '.' && v !== '..' ? undefined : `"${v}" is not an interface name`));
export const linkLocal = (a: string | undefined): boolean => a !== undefined && isIPv6(a) && /^fe[89ab]/i.test(a);

/**
 * A check that would go to a link-local real server's own address (no connect_ip)
 * without bind_if: the kernel cannot tell which link (keepalived refuses it too).
 */
export function needsBindIf(rsAddress: string, hc: HealthCheckConfig): boolean {
  return linkLocal(rsAddress) && hc.address === undefined && hc.bindIf === undefined && TAKES.bind_if!.includes(hc.type);
}

/** connect_ip, and keepalived's source options: bindto, bind_port, bind_if (SO_BINDTODEVICE), fwmark (SO_MARK). */
function connection(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  const type = hc.type;
  const address = f.get(m, 'connect_ip', IP_ADDRESS);
  if (address !== undefined) hc.address = address;
  const bindto = f.get(m, 'bindto', IP_ADDRESS);
  if (bindto !== undefined) hc.bindto = bindto;
  if (address && bindto && isIPv6(address) !== isIPv6(bindto)) f.r.issue(m.value('bindto') ?? m.node, m.sub('bindto'), `${bindto} is not the family of connect_ip ${address}; valid: a source address of the same family`);
  if (m.has('bindto') && type === 'script') f.r.issue(m.keyNode('bindto'), m.sub('bindto'), 'a SCRIPT check sends nothing itself; remove bindto (the script chooses its source)');
  if (m.has('bindto') && type === 'ping') f.r.issue(m.keyNode('bindto'), m.sub('bindto'), 'PING checks share one raw socket that the kernel gives each target\'s route source; remove bindto (or use a TCP/UDP check with bindto)');
  for (const [k, types] of Object.entries(TAKES))
    if (m.has(k) && !types.includes(type)) {
      const why = type === 'ping' ? 'ICMP has no port; remove it' : `a ${type.toUpperCase()} check opens no socket of its own; remove ${k}`;
      f.r.issue(m.keyNode(k), m.sub(k), `${k} applies to ${types.map((t) => t.toUpperCase()).join(', ')} checks: ${why}`);
    }
  const bindPort = f.get(m, 'bind_port', num(1, 65535, { integer: true, unit: 'the source port of the check (keepalived bind_port)' }));
  if (bindPort !== undefined) hc.bindPort = bindPort;
  const bindIf = f.get(m, 'bind_if', IFNAME);
  if (bindIf !== undefined) hc.bindIf = bindIf;
  const mark = f.get(m, 'fwmark', num(0, 4294967295, { integer: true, unit: 'the mark of the check\'s packets (SO_MARK; 0: none)' }));
  if (mark) hc.fwmark = mark;
  for (const [k, a] of [['connect_ip', address], ['bindto', bindto]] as const)
    if (linkLocal(a) && bindIf === undefined && TAKES.bind_if!.includes(type)) f.r.issue(m.value(k) ?? m.node, m.sub('bind_if'), `${a} is link-local: say which interface it is on; valid: bind_if: IFNAME (keepalived requires it too)`);
}

/** Octavia's max_retries (rise) / max_retries_down (fall), or keepalived's retry (fall = retry + 1) and delay_before_retry. */
function retries(f: Fields, m: MapView, hc: HealthCheckConfig): void {
  const retry = f.get(m, 'retry', num(0, 100, { integer: true, unit: 'tries after a failure before down (keepalived)' }));
  if (retry !== undefined && m.has('max_retries_down'))
    f.r.issue(m.keyNode('retry'), m.sub('retry'), 'retry is keepalived\'s count of tries after the first failure (max_retries_down = retry + 1); set only one');
  // keepalived: one pass brings a failed checker back; Octavia: max_retries passes (3).
  hc.rise = f.get(m, 'max_retries', num(1, 100, { integer: true, unit: 'passes to come back up' })) ?? (retry !== undefined ? 1 : 3);
  hc.fall = retry !== undefined ? retry + 1 : (f.get(m, 'max_retries_down', num(1, 100, { integer: true, unit: 'failures to go down' })) ?? 3);
  const dbr = f.get(m, 'delay_before_retry', num(0.01, 86400, { unit: 'seconds from a failure to the next try (keepalived)' }));
  if (dbr !== undefined) hc.retryDelayMs = Math.round(dbr * 1000);
  else if (retry !== undefined) hc.retryDelayMs = retryDefault(hc.type, hc.intervalMs);
  if (hc.type === 'file') hc.rise = hc.fall = 1; // keepalived applies a file's value at once
}

/** `health_check` or `health_checks` of a virtual server or real server; undefined when it has neither. */
export function healthChecks(f: Fields, m: MapView, servicePort: number): HealthCheckConfig[] | undefined {
  if (m.has('health_check') && m.has('health_checks')) {
    f.r.issue(m.keyNode('health_checks'), m.sub('health_checks'), 'health_check is one check, health_checks a list of them; set only one (put the check in the list)');
    return undefined;
  }
  if (m.has('health_check')) {
    const hc = healthCheck(f, m.value('health_check') ?? m.keyNode('health_check')!, m.sub('health_check'), servicePort);
    return hc ? [hc] : [];
  }
  if (!m.has('health_checks')) return undefined;
  const out: HealthCheckConfig[] = [];
  const items = f.list(m, 'health_checks') ?? [];
  items.forEach((n, i) => {
    const hc = healthCheck(f, n, `${m.sub('health_checks')}[${i}]`, servicePort);
    if (hc) out.push(hc);
  });
  if (items.length === 0) f.r.issue(m.value('health_checks') ?? m.keyNode('health_checks'), m.sub('health_checks'), 'an empty list; valid: one or more checks, or remove the key');
  return out;
}

/** FILE checks: their track_file must be a vrrp_track_files entry; its file, and its weight unless the check sets one. */
export function resolveFileChecks(f: Fields, files: readonly TrackFileConfig[]): void {
  for (const { hc, node, path } of fileRefs.get(f.r) ?? []) {
    const tf = files.find((t) => t.name === hc.trackFile);
    if (!tf) {
      if (hc.trackFile !== undefined) f.r.issue(node, path, `no vrrp_track_files entry "${hc.trackFile}"; valid: ${files.map((t) => t.name).join(', ') || '(none: add vrrp_track_files: {NAME: {file: /path}})'}`);
      continue;
    }
    hc.file = tf.file;
    if (hc.fileWeight === undefined) {
      hc.fileWeight = tf.weight;
      hc.fileReverse = tf.reverse;
    }
  }
  fileRefs.delete(f.r);
}


