// Reads /etc/vipd/vipd.yaml into the typed Config. Every problem is reported
// at once, each as `file:line:col: path.to.key: what is wrong; valid: ...`,
// and nothing is half-applied: a config either loads whole or not at all.

import { Worker } from 'node:worker_threads';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import { isIPv4, isIPv6 } from 'node:net';
import { parseExpectedCodes } from '../health/types.js';
import { serviceName } from '../ipvs/types.js';
import type { ParseReply } from './parse-worker.js';
import { ConfigReadError, readConfigFile } from './read.js';
import { checkScripts, type ScriptRef } from './scripts.js';
import { DEFAULT_CONTROL_SOCKET } from './socket.js';
import type {
  Config,
  IpvsConfig,
  RealServerConfig,
  VirtualServerConfig,
  GarpConfig,
  GlobalConfig,
  HealthCheckConfig,
  NotifyScripts,
  SyncGroupConfig,
  TrackInterface,
  VirtualIp,
  VrrpInstanceConfig,
} from './types.js';

export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = '/etc/vipd/vipd.yaml';

// ---------------------------------------------------------------------------
// Small helpers

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** IFNAMSIZ is 16 bytes with the NUL: a name or label is at most 15 bytes (not characters: "é" is 2). */
const IFNAMSIZ = 16;
const IFNAME = /^[^\s/:]+$/;
/** sun_path is 108 bytes with the NUL. */
const SUN_PATH = 108;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Checks several virtual-server keys share. */
const PORT = num(0, 65535, { integer: true });
const UINT31 = num(0, 0x7fffffff, { integer: true }); // thresholds, hysteresis
const FORWARDING = oneOf(['nat', 'dr', 'tunnel'] as const);
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'sed', 'nq', 'dh', 'lblc', 'lblcr', 'fo', 'ovf', 'twos'];
/** Octavia's pool algorithms (members carry weights, so the weighted schedulers). */
const SCHEDULER_ALIASES: Record<string, string> = { ROUND_ROBIN: 'wrr', LEAST_CONNECTIONS: 'wlc', SOURCE_IP: 'sh' };

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `string "${v}"`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return 'a list';
  return 'a map';
}

// ---------------------------------------------------------------------------
// The walker: typed reads from YAML nodes that record issues with positions.

class Reader {
  readonly issues: ConfigIssue[] = [];
  /** Every script the config names, with its position: checked on the file system after the parse (scripts.ts). */
  readonly scripts: ScriptRef[] = [];

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  issue(node: Node | undefined | null, path: string, message: string, offset?: number): void {
    const at = offset ?? (node?.range ? node.range[0] : 0);
    const { line, col } = this.lines.linePos(at);
    this.issues.push({ file: this.file, line, col, path, message });
  }

  script(node: Node | undefined | null, path: string, script: string): void {
    const { line, col } = this.lines.linePos(node?.range ? node.range[0] : 0);
    this.scripts.push({ file: this.file, line, col, path, script });
  }
}

/** A YAML map under validation: knows its keys, their nodes and positions. */
class MapView {
  private readonly entries = new Map<string, { key: Scalar; value: Node | null }>();

  constructor(
    private readonly r: Reader,
    readonly node: YAMLMap,
    readonly path: string,
  ) {
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || typeof key.value !== 'string') {
        r.issue(key ?? node, path, `keys must be plain names, got ${describe(isScalar(key) ? key.value : undefined)}`);
        continue;
      }
      if (this.entries.has(key.value)) r.issue(key, this.sub(key.value), `duplicate key "${key.value}"; each key may appear once`);
      this.entries.set(key.value, { key, value: pair.value as Node | null });
    }
  }

  sub(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The value node of a key, or undefined when absent. */
  value(key: string): Node | null | undefined {
    return this.entries.get(key)?.value;
  }

  keyNode(key: string): Scalar | undefined {
    return this.entries.get(key)?.key;
  }

  /** Reports every key not in `allowed`, with a suggestion. */
  allowOnly(allowed: readonly string[]): void {
    for (const [k, { key }] of this.entries) {
      if (allowed.includes(k)) continue;
      const guess = didYouMean(k, allowed);
      this.r.issue(key, this.sub(k), `unknown key "${k}"; ${guess ? `did you mean "${guess}"? ` : ''}valid keys: ${allowed.join(', ')}`);
    }
  }
}

type Check<T> = (v: unknown) => { ok: true; value: T } | { ok: false; why: string };

const scalarValue = (n: Node | null | undefined): unknown => (isScalar(n) ? n.value : isMap(n) ? {} : isSeq(n) ? [] : null);

function num(min: number, max: number, opts: { integer?: boolean; unit?: string; step?: number } = {}): Check<number> {
  const what = `${opts.integer ? 'an integer' : 'a number'} ${min}..${max}${opts.unit ? ` (${opts.unit})` : ''}${opts.step ? ` in steps of ${opts.step}` : ''}`;
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, why: `expected ${what}, got ${describe(v)}` };
    if (opts.integer && !Number.isInteger(v)) return { ok: false, why: `${v} is not a whole number; valid: ${what}` };
    if (v < min || v > max) return { ok: false, why: `${v} is out of range; valid: ${what}` };
    if (opts.step) {
      const steps = v / opts.step;
      if (Math.abs(steps - Math.round(steps)) > 1e-6) return { ok: false, why: `${v} is not a multiple of ${opts.step}; valid: ${what}` };
    }
    return { ok: true, value: v };
  };
}

const bool: Check<boolean> = (v) =>
  typeof v === 'boolean'
    ? { ok: true, value: v }
    : { ok: false, why: `expected true or false, got ${describe(v)}${typeof v === 'string' && /^(yes|no|on|off)$/i.test(v) ? ' (YAML 1.2: write true or false)' : ''}` };

function oneOf<T extends string | number>(values: readonly T[]): Check<T> {
  return (v) => {
    if (values.includes(v as T)) return { ok: true, value: v as T };
    const guess = typeof v === 'string' ? didYouMean(v, values.map(String)) : undefined;
    return { ok: false, why: `${describe(v)} is not allowed; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${values.join(' | ')}` };
  };
}

function str(what: string, test: (s: string) => string | undefined = () => undefined): Check<string> {
  return (v) => {
    if (typeof v === 'number') return { ok: false, why: `expected ${what}, got number ${v}; write it in quotes ("${v}") to make it a string` };
    if (typeof v !== 'string' || v === '') return { ok: false, why: `expected ${what}, got ${describe(v)}` };
    const bad = test(v);
    return bad ? { ok: false, why: `${bad}; valid: ${what}` } : { ok: true, value: v };
  };
}

const ipv4 = (what = 'an IPv4 address like 192.0.2.10'): Check<string> =>
  str(what, (s) => (DOTTED_QUAD.test(s) ? undefined : `"${s}" is not a dotted-quad IPv4 address`));
const ifname = str('an interface name (1..15 bytes, no "/", ":" or spaces)', (s) =>
  !IFNAME.test(s) ? `"${s}" is not a valid interface name` : Buffer.byteLength(s) >= IFNAMSIZ ? `"${s}" is ${Buffer.byteLength(s)} bytes long, over the kernel's 15 (IFNAMSIZ)` : undefined,
);
const script = str('an absolute path to a script, e.g. /etc/vipd/notify.sh', (s) => (s.startsWith('/') ? undefined : `"${s}" must be an absolute path`));

// ---------------------------------------------------------------------------

class Parser {
  constructor(private readonly r: Reader) {}

  /** Reads a key with a check; issues on failure; returns fallback when absent or bad. */
  get<T>(m: MapView, key: string, check: Check<T>): T | undefined {
    if (!m.has(key)) return undefined;
    const node = m.value(key);
    const res = check(scalarValue(node));
    if (!res.ok) {
      this.r.issue(node ?? m.keyNode(key), m.sub(key), res.why);
      return undefined;
    }
    return res.value;
  }

  /** A script key: an absolute path, remembered with its position for the file-system checks. */
  script(m: MapView, key: string): string | undefined {
    const v = this.get(m, key, script);
    if (v !== undefined) this.r.script(m.value(key), m.sub(key), v);
    return v;
  }

  map(node: Node | null | undefined, path: string, what: string): MapView | undefined {
    if (isMap(node)) return new MapView(this.r, node, path);
    this.r.issue(node, path, `expected ${what}, got ${describe(scalarValue(node))}`);
    return undefined;
  }

  /** A list, or a single scalar standing for a list of one. */
  list(m: MapView, key: string): Node[] | undefined {
    const node = m.value(key);
    if (!m.has(key)) return undefined;
    if (isSeq(node)) return node.items as Node[];
    if (isScalar(node)) return [node];
    this.r.issue(node ?? m.keyNode(key), m.sub(key), `expected a list, got ${describe(scalarValue(node))}`);
    return [];
  }

  check<T>(node: Node, path: string, check: Check<T>): T | undefined {
    const res = check(scalarValue(node));
    if (!res.ok) {
      this.r.issue(node, path, res.why);
      return undefined;
    }
    return res.value;
  }

  global(node: Node | null | undefined): GlobalConfig {
    const def: GlobalConfig = { routerId: hostname(), controlSocket: DEFAULT_CONTROL_SOCKET, logLevel: 'info', scriptTimeoutMs: 10_000, enableScriptSecurity: false };
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return def;
    const m = this.map(node, 'global', 'a map of global settings');
    if (!m) return def;
    m.allowOnly(['router_id', 'log_level', 'control_socket', 'script_timeout', 'enable_script_security']);
    const abs = str(`an absolute path of at most ${SUN_PATH - 1} bytes`, (s) =>
      !s.startsWith('/') ? `"${s}" is not absolute` : Buffer.byteLength(s) >= SUN_PATH ? `${Buffer.byteLength(s)} bytes is longer than a unix socket path can be (sun_path: ${SUN_PATH - 1} bytes and a NUL)` : undefined,
    );
    const t = this.get(m, 'script_timeout', num(0.1, 3600, { unit: 'seconds' }));
    return {
      routerId: this.get(m, 'router_id', str('a name for this host')) ?? def.routerId,
      logLevel: this.get(m, 'log_level', oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)) ?? def.logLevel,
      controlSocket: this.get(m, 'control_socket', abs) ?? def.controlSocket,
      scriptTimeoutMs: t !== undefined ? Math.round(t * 1000) : def.scriptTimeoutMs,
      enableScriptSecurity: this.get(m, 'enable_script_security', bool) ?? def.enableScriptSecurity,
    };
  }

  notify(m: MapView): NotifyScripts {
    const out: NotifyScripts = {};
    const keys = [
      ['notify_master', 'master'],
      ['notify_backup', 'backup'],
      ['notify_fault', 'fault'],
      ['notify_stop', 'stop'],
      ['notify', 'any'],
    ] as const;
    for (const [key, field] of keys) {
      const v = this.script(m, key);
      if (v !== undefined) out[field] = v;
    }
    return out;
  }

  vip(node: Node, path: string, iface: string): VirtualIp | undefined {
    let addrNode: Node = node;
    let device = iface;
    let label: string | undefined;
    let addrPath = path;
    if (isMap(node)) {
      const m = new MapView(this.r, node, path);
      m.allowOnly(['address', 'device', 'label']);
      if (!m.has('address')) {
        this.r.issue(node, path, 'missing key "address"; valid: {address: 192.0.2.100/24, device: eth0, label: eth0:vip}');
        return undefined;
      }
      addrNode = m.value('address') ?? node;
      addrPath = m.sub('address');
      device = this.get(m, 'device', ifname) ?? iface;
      label = this.get(m, 'label', str('a label "<device>:<name>", at most 15 bytes'));
      if (label !== undefined && (!label.startsWith(`${device}:`) || Buffer.byteLength(label) >= IFNAMSIZ)) {
        const long = Buffer.byteLength(label) >= IFNAMSIZ ? ` (it is ${Buffer.byteLength(label)})` : '';
        this.r.issue(m.value('label') ?? node, m.sub('label'), `label "${label}" must start with "${device}:" and be at most 15 bytes${long} (a Linux rule, IFNAMSIZ); valid: e.g. ${device}:vip`.slice(0, 200));
        label = undefined;
      }
    }
    const text = this.check(addrNode, addrPath, str('an address like 192.0.2.100/24'));
    if (text === undefined) return undefined;
    const [addr, len, extra] = text.split('/');
    const valid = 'valid: an IPv4 address with an optional prefix length 1..32, e.g. 192.0.2.100/24';
    if (extra !== undefined || !addr || !DOTTED_QUAD.test(addr)) {
      this.r.issue(addrNode, addrPath, `"${text}" is not an IPv4 address; ${valid}`);
      return undefined;
    }
    const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
    if (!(prefix >= 1 && prefix <= 32)) {
      this.r.issue(addrNode, addrPath, `prefix length "/${len}" is out of range; ${valid}`);
      return undefined;
    }
    const first = Number(addr.split('.')[0]);
    if (addr === '0.0.0.0' || addr === '255.255.255.255' || (first >= 224 && first <= 239)) {
      this.r.issue(addrNode, addrPath, `${addr} cannot be a virtual IP (unspecified, broadcast or multicast); ${valid}`);
      return undefined;
    }
    return { address: addr, prefix, device, ...(label !== undefined ? { label } : {}) };
  }

  instance(name: string, keyNode: Node, node: Node | null): VrrpInstanceConfig | undefined {
    const path = `vrrp_instances.${name}`;
    if (!NAME.test(name)) this.r.issue(keyNode, path, `instance name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
    const m = this.map(node ?? keyNode, path, 'a map of instance settings');
    if (!m) return undefined;
    m.allowOnly([
      'interface', 'vrid', 'priority', 'advert_int', 'version', 'v3_checksum', 'virtual_ipaddress',
      'unicast_src_ip', 'unicast_peer', 'authentication', 'preempt', 'nopreempt', 'preempt_delay',
      'answer_lower_priority', 'track_interface', 'notify_master', 'notify_backup', 'notify_fault',
      'notify_stop', 'notify', 'garp_master_repeat', 'garp_interval', 'garp_master_delay', 'garp_master_refresh',
    ]);
    const required = (key: string, hint: string): void => {
      if (!m.has(key)) this.r.issue(m.node, path, `missing required key "${key}"; valid: ${hint}`);
    };
    required('interface', 'the interface VRRP runs on, e.g. interface: eth0');
    required('vrid', 'vrid: 1..255, the same on both directors');
    required('virtual_ipaddress', 'a list of addresses, e.g. virtual_ipaddress: [192.0.2.100/24]');

    const iface = this.get(m, 'interface', ifname);
    const vrid = this.get(m, 'vrid', num(1, 255, { integer: true }));
    const priority = this.get(m, 'priority', num(1, 255, { integer: true })) ?? 100;
    const version = this.get(m, 'version', oneOf([2, 3] as const)) ?? 3;

    let advertIntervalCs = 100;
    if (m.has('advert_int')) {
      const check = version === 2 ? num(1, 255, { integer: true, unit: 'seconds, VRRPv2 counts whole seconds' }) : num(0.01, 40.95, { unit: 'seconds', step: 0.01 });
      const v = this.get(m, 'advert_int', check);
      if (v !== undefined) advertIntervalCs = Math.round(v * 100);
    }
    const v3Checksum = this.get(m, 'v3_checksum', oneOf(['pseudo-header', 'message'] as const)) ?? 'pseudo-header';
    if (m.has('v3_checksum') && version === 2) this.r.issue(m.keyNode('v3_checksum'), m.sub('v3_checksum'), 'v3_checksum applies to VRRPv3 only; remove it or set version: 3');

    const virtualIps: VirtualIp[] = [];
    const vipSeen = new Set<string>();
    const vipNodes = this.list(m, 'virtual_ipaddress');
    if (vipNodes && vipNodes.length === 0 && m.has('virtual_ipaddress'))
      this.r.issue(m.value('virtual_ipaddress') ?? m.keyNode('virtual_ipaddress'), m.sub('virtual_ipaddress'), 'the list is empty; valid: at least one address, e.g. [192.0.2.100/24]');
    (vipNodes ?? []).forEach((n, i) => {
      const v = this.vip(n, `${m.sub('virtual_ipaddress')}[${i}]`, iface ?? '');
      if (!v) return;
      if (vipSeen.has(v.address)) this.r.issue(n, `${m.sub('virtual_ipaddress')}[${i}]`, `${v.address} is listed twice; list each virtual IP once`);
      else {
        vipSeen.add(v.address);
        virtualIps.push(v);
      }
    });

    const unicastSrcIp = this.get(m, 'unicast_src_ip', ipv4());
    const unicastPeers: string[] = [];
    (this.list(m, 'unicast_peer') ?? []).forEach((n, i) => {
      const p = this.check(n, `${m.sub('unicast_peer')}[${i}]`, ipv4('a peer IPv4 address like 192.0.2.12'));
      if (p !== undefined) unicastPeers.push(p);
    });

    let authPass: string | undefined;
    if (m.has('authentication')) {
      const a = this.map(m.value('authentication') ?? m.keyNode('authentication'), m.sub('authentication'), 'a map {auth_type: PASS, auth_pass: ...}');
      if (a) {
        a.allowOnly(['auth_type', 'auth_pass']);
        if (version !== 2) this.r.issue(m.keyNode('authentication'), m.sub('authentication'), 'authentication is VRRPv2 only (RFC 5798 removed it); remove it or set version: 2');
        const t = this.get(a, 'auth_type', oneOf(['PASS'] as const));
        if (a.has('auth_type') && t === undefined && scalarValue(a.value('auth_type')) === 'AH') {
          // oneOf already reported it; AH is the one a keepalived user may try.
        }
        if (!a.has('auth_type')) this.r.issue(a.node, a.sub('auth_type'), 'missing key "auth_type"; valid: PASS');
        if (!a.has('auth_pass')) this.r.issue(a.node, a.sub('auth_pass'), 'missing key "auth_pass"; valid: a password of 1..8 characters');
        authPass = this.get(a, 'auth_pass', str('a password of 1..8 characters', (s) => (Buffer.byteLength(s) <= 8 ? undefined : `"${s}" is longer than 8 bytes (VRRPv2 carries 8)`)));
      }
    }

    let preempt = this.get(m, 'preempt', bool) ?? true;
    const nopreempt = this.get(m, 'nopreempt', bool);
    if (nopreempt === true) {
      if (m.has('preempt') && preempt) this.r.issue(m.keyNode('nopreempt'), m.sub('nopreempt'), 'conflicts with preempt: true; valid: set only one of them');
      preempt = false;
    }
    const preemptDelay = this.get(m, 'preempt_delay', num(0, 1000, { unit: 'seconds' })) ?? 0;
    const answerLowerPriority = this.get(m, 'answer_lower_priority', bool) ?? true;

    const trackInterfaces: TrackInterface[] = [];
    (this.list(m, 'track_interface') ?? []).forEach((n, i) => {
      const p = `${m.sub('track_interface')}[${i}]`;
      if (isMap(n)) {
        const t = new MapView(this.r, n, p);
        t.allowOnly(['name', 'weight']);
        if (!t.has('name')) this.r.issue(n, p, 'missing key "name"; valid: {name: eth1, weight: -20}');
        const tn = this.get(t, 'name', ifname);
        const w = this.get(t, 'weight', num(-253, 253, { integer: true, unit: '0 = FAULT while down' })) ?? 0;
        if (tn !== undefined) trackInterfaces.push({ name: tn, weight: w });
      } else {
        const tn = this.check(n, p, ifname);
        if (tn !== undefined) trackInterfaces.push({ name: tn, weight: 0 });
      }
    });

    const secs = (key: string, min: number, max: number, def: number): number => {
      const v = this.get(m, key, num(min, max, { unit: 'seconds' }));
      return Math.round((v ?? def) * 1000);
    };
    const garp: GarpConfig = {
      count: this.get(m, 'garp_master_repeat', num(1, 100, { integer: true })) ?? 5,
      intervalMs: secs('garp_interval', 0, 1, 0),
      repeatDelayMs: secs('garp_master_delay', 0, 1000, 5),
      refreshMs: secs('garp_master_refresh', 0, 86400, 0),
    };
    if (garp.refreshMs > 0 && garp.refreshMs < 1000)
      this.r.issue(m.value('garp_master_refresh') ?? m.node, m.sub('garp_master_refresh'), `${garp.refreshMs / 1000} is too short; valid: 0 (off) or at least 1 second`);

    const notify = this.notify(m);
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
      ...(unicastSrcIp !== undefined ? { unicastSrcIp } : {}),
      unicastPeers,
      ...(authPass !== undefined ? { authPass } : {}),
      preempt,
      preemptDelayMs: Math.round(preemptDelay * 1000),
      answerLowerPriority,
      trackInterfaces,
      notify,
      garp,
    };
  }

  virtualServer(name: string, keyNode: Node, node: Node | null): VirtualServerConfig | undefined {
    const path = `virtual_servers.${name}`;
    if (!NAME.test(name)) this.r.issue(keyNode, path, `virtual server name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
    const m = this.map(node ?? keyNode, path, 'a map of virtual server settings');
    if (!m) return undefined;
    m.allowOnly([
      'address', 'port', 'protocol', 'fwmark', 'family', 'scheduler', 'scheduler_flags', 'persistence_timeout',
      'persistence_netmask', 'session_persistence', 'forwarding', 'one_packet', 'real_servers',
      'health_check', 'inhibit_on_failure', 'alpha', 'omega', 'quorum', 'hysteresis', 'sorry_server',
      'notify_up', 'notify_down', 'quorum_up', 'quorum_down',
    ]);
    const ip = str('an IPv4 or IPv6 address', (v) => (isIPv4(v) || isIPv6(v) ? undefined : `"${v}" is not an IP address`));
    const address = this.get(m, 'address', ip);
    const fwmark = this.get(m, 'fwmark', num(1, 0xffffffff, { integer: true }));
    if (m.has('fwmark') && (m.has('address') || m.has('port') || m.has('protocol')))
      this.r.issue(m.keyNode('fwmark'), m.sub('fwmark'), 'a service is either address + port + protocol or a fwmark; remove one');
    if (!m.has('fwmark') && !m.has('address')) this.r.issue(m.node, path, 'missing "address" (with port and protocol) or "fwmark"; valid: address: 192.0.2.100, port: 80');
    const port = this.get(m, 'port', PORT);
    if (m.has('address') && !m.has('port')) this.r.issue(m.node, path, 'missing "port"; valid: port: 1..65535 (0 = all ports, with persistence)');
    const protocol = this.get(m, 'protocol', oneOf(['tcp', 'udp', 'sctp'] as const)) ?? 'tcp';
    const family = address !== undefined ? (isIPv6(address) ? 'inet6' : 'inet') : (this.get(m, 'family', oneOf(['inet', 'inet6'] as const)) ?? 'inet');
    const rawSched = this.get(m, 'scheduler', str('a scheduler')) ?? 'wlc';
    const scheduler = SCHEDULER_ALIASES[rawSched] ?? rawSched;
    if (!SCHEDULERS.includes(scheduler)) {
      const guess = didYouMean(rawSched, [...SCHEDULERS, ...Object.keys(SCHEDULER_ALIASES)]);
      this.r.issue(m.value('scheduler') ?? m.node, m.sub('scheduler'), `unknown scheduler "${rawSched}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${SCHEDULERS.join(' | ')} or ${Object.keys(SCHEDULER_ALIASES).join(' | ')}`);
    }
    const flags = { fallback: false, port: false };
    (this.list(m, 'scheduler_flags') ?? []).forEach((n, i) => {
      const f = this.check(n, `${m.sub('scheduler_flags')}[${i}]`, oneOf(['fallback', 'port'] as const));
      if (f) flags[f] = true;
    });
    if ((flags.fallback || flags.port) && scheduler !== 'sh' && scheduler !== 'mh')
      this.r.issue(m.keyNode('scheduler_flags'), m.sub('scheduler_flags'), `scheduler flags apply to sh and mh only, not ${scheduler}; remove them or use scheduler: sh`);
    let persistence = this.get(m, 'persistence_timeout', num(0, 2678400, { integer: true, unit: 'seconds' })) ?? 0;
    const sp = this.get(m, 'session_persistence', oneOf(['SOURCE_IP'] as const));
    if (sp === 'SOURCE_IP' && !m.has('persistence_timeout')) persistence = 360; // Octavia's default persistence_timeout for SOURCE_IP
    const netmask = this.get(m, 'persistence_netmask', str(family === 'inet' ? 'a netmask like 255.255.255.0' : 'a prefix length 1..128', (v) =>
      family === 'inet' ? (DOTTED_QUAD.test(v) ? undefined : `"${v}" is not a netmask`) : /^\d+$/.test(v) && +v >= 1 && +v <= 128 ? undefined : `"${v}" is not a prefix length`,
    )) ?? (family === 'inet' ? '255.255.255.255' : '128');
    const forwarding = this.get(m, 'forwarding', FORWARDING) ?? 'nat';
    const onePacket = this.get(m, 'one_packet', bool) ?? false;
    if (onePacket && protocol !== 'udp') this.r.issue(m.keyNode('one_packet'), m.sub('one_packet'), 'one_packet scheduling is for UDP services; remove it or set protocol: udp');

    const realServers: RealServerConfig[] = [];
    const rsSeen = new Set<string>(); // address|port: a Set, not a scan of the list (160,000 real servers took minutes)
    (this.list(m, 'real_servers') ?? []).forEach((n, i) => {
      const p = `${m.sub('real_servers')}[${i}]`;
      const rs = this.map(n, p, 'a map {address, port, weight}');
      if (!rs) return;
      rs.allowOnly(['address', 'port', 'weight', 'upper_threshold', 'connection_limit', 'lower_threshold', 'forwarding', 'tunnel']);
      if (!rs.has('address')) this.r.issue(n, p, 'missing "address"; valid: address: 10.0.0.2');
      const ra = this.get(rs, 'address', ip);
      if (ra !== undefined && address !== undefined && isIPv6(ra) !== isIPv6(address) && (rs.has('forwarding') ? scalarValue(rs.value('forwarding')) : forwarding) !== 'tunnel')
        this.r.issue(rs.value('address') ?? n, rs.sub('address'), `${ra} is not the same address family as the service (${address}); valid: a real server of the same family`);
      const rport = this.get(rs, 'port', PORT) ?? port ?? 0;
      if (rs.has('upper_threshold') && rs.has('connection_limit'))
        this.r.issue(rs.keyNode('connection_limit'), rs.sub('connection_limit'), 'connection_limit is another name for upper_threshold; set only one');
      const upper = this.get(rs, 'upper_threshold', UINT31) ?? this.get(rs, 'connection_limit', UINT31) ?? 0;
      const lower = this.get(rs, 'lower_threshold', UINT31) ?? 0;
      if (upper > 0 && lower > upper) this.r.issue(rs.value('lower_threshold') ?? n, rs.sub('lower_threshold'), `${lower} is above upper_threshold ${upper}; valid: 0..${upper}`);
      const fwd = this.get(rs, 'forwarding', FORWARDING) ?? forwarding;
      let tunnel: RealServerConfig['tunnel'];
      if (rs.has('tunnel')) {
        const t = this.map(rs.value('tunnel') ?? n, rs.sub('tunnel'), 'a map {type: ipip|gue|gre, port, checksum}');
        if (t) {
          t.allowOnly(['type', 'port', 'checksum']);
          const type = this.get(t, 'type', oneOf(['ipip', 'gue', 'gre'] as const)) ?? 'ipip';
          const tport = this.get(t, 'port', num(1, 65535, { integer: true }));
          const checksum = this.get(t, 'checksum', oneOf(['none', 'csum', 'remcsum'] as const));
          if (type === 'gue' && tport === undefined) this.r.issue(t.node, t.sub('port'), 'a GUE tunnel needs its UDP port; valid: port: 1..65535');
          if (type !== 'gue' && t.has('port')) this.r.issue(t.keyNode('port'), t.sub('port'), `only GUE tunnels have a port, not ${type}`);
          if (type === 'ipip' && checksum !== undefined) this.r.issue(t.keyNode('checksum'), t.sub('checksum'), 'IPIP has no checksum option; valid for gue and gre');
          tunnel = { type, ...(tport !== undefined ? { port: tport } : {}), ...(checksum && checksum !== 'none' ? { checksum } : {}) };
        }
        if (fwd !== 'tunnel') this.r.issue(rs.keyNode('tunnel'), rs.sub('tunnel'), `tunnel settings need forwarding: tunnel (this real server forwards by ${fwd})`);
      }
      if (ra === undefined) return;
      const rsKey = `${ra}|${rport}`;
      if (rsSeen.has(rsKey)) {
        this.r.issue(n, p, `${ra}:${rport} is listed twice; list each real server once`);
        return;
      }
      rsSeen.add(rsKey);
      realServers.push({
        address: ra,
        port: rport,
        weight: this.get(rs, 'weight', num(0, 65535, { integer: true })) ?? 1,
        upperThreshold: upper,
        lowerThreshold: lower,
        forwarding: fwd,
        ...(fwd === 'tunnel' ? { tunnel: tunnel ?? { type: 'ipip' } } : {}),
      });
    });
    const healthCheck = m.has('health_check') ? this.healthCheck(m.value('health_check') ?? m.keyNode('health_check')!, m.sub('health_check'), port ?? 0) : undefined;
    const quorum = this.get(m, 'quorum', num(1, 0x7fffffff, { integer: true, unit: 'total weight of healthy real servers' })) ?? 1;
    const hysteresis = this.get(m, 'hysteresis', UINT31) ?? 0;
    if (hysteresis >= quorum && m.has('hysteresis')) this.r.issue(m.value('hysteresis') ?? m.node, m.sub('hysteresis'), `${hysteresis} is not below quorum ${quorum}; valid: 0..${quorum - 1}`);
    let sorryServer: VirtualServerConfig['sorryServer'];
    if (m.has('sorry_server')) {
      const ss = this.map(m.value('sorry_server') ?? m.node, m.sub('sorry_server'), 'a map {address, port, forwarding}');
      if (ss) {
        ss.allowOnly(['address', 'port', 'forwarding']);
        if (!ss.has('address')) this.r.issue(ss.node, ss.sub('address'), 'missing "address"');
        const sa = this.get(ss, 'address', ip);
        const sp2 = this.get(ss, 'port', PORT) ?? port ?? 0;
        if (sa !== undefined) sorryServer = { address: sa, port: sp2, forwarding: this.get(ss, 'forwarding', FORWARDING) ?? forwarding };
      }
    }
    const inhibitOnFailure = this.get(m, 'inhibit_on_failure', bool) ?? false;
    const alpha = this.get(m, 'alpha', bool) ?? false;
    const omega = this.get(m, 'omega', bool) ?? false;
    const notify: VirtualServerConfig['notify'] = {};
    for (const [key, field] of [['notify_up', 'up'], ['notify_down', 'down'], ['quorum_up', 'quorumUp'], ['quorum_down', 'quorumDown']] as const) {
      const v = this.script(m, key);
      if (v !== undefined) notify[field] = v;
    }
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
      ...(healthCheck ? { healthCheck } : {}),
      inhibitOnFailure,
      alpha,
      omega,
      notify,
      quorum,
      hysteresis,
      ...(sorryServer ? { sorryServer } : {}),
    };
  }

  /** health_check: Octavia's health monitor keys (keepalived's names accepted where they differ). */
  healthCheck(node: Node, path: string, servicePort: number): HealthCheckConfig | undefined {
    const m = this.map(node, path, 'a map {type, delay, timeout, max_retries, max_retries_down, ...}');
    if (!m) return undefined;
    m.allowOnly([
      'type', 'delay', 'timeout', 'max_retries', 'max_retries_down', 'port', 'send', 'expect', 'http_method', 'url_path',
      'domain_name', 'expected_codes', 'body_regex', 'sni', 'ca_file', 'verify', 'script',
    ]);
    const TYPES: Record<string, HealthCheckConfig['type']> = { TCP: 'tcp', HTTP: 'http', HTTPS: 'https', PING: 'ping', SCRIPT: 'script', TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', PING_CHECK: 'ping', MISC_CHECK: 'script' };
    if (!m.has('type')) this.r.issue(m.node, m.sub('type'), 'missing "type"; valid: TCP | HTTP | HTTPS | PING | SCRIPT');
    const typeName = this.get(m, 'type', str('a check type', (v) => (TYPES[v.toUpperCase()] ? undefined : `"${v}" is not a check type${didYouMean(v.toUpperCase(), Object.keys(TYPES)) ? `; did you mean "${didYouMean(v.toUpperCase(), Object.keys(TYPES))}"?` : ''}`)));
    const type = typeName ? TYPES[typeName.toUpperCase()]! : 'tcp';
    const delay = this.get(m, 'delay', num(0.01, 86400, { unit: 'seconds between checks (Octavia delay, keepalived delay_loop)' })) ?? 5;
    const timeout = this.get(m, 'timeout', num(0.01, 86400, { unit: 'seconds' })) ?? Math.min(3, delay / 2);
    if (timeout >= delay) this.r.issue(m.value('timeout') ?? m.value('delay') ?? m.node, m.sub(m.has('timeout') ? 'timeout' : 'delay'), `timeout ${timeout} s is not less than delay ${delay} s; valid: a timeout below the delay (a check must end before the next one starts)`);
    const rise = this.get(m, 'max_retries', num(1, 100, { integer: true, unit: 'passes to come back up' })) ?? 3;
    const fall = this.get(m, 'max_retries_down', num(1, 100, { integer: true, unit: 'failures to go down' })) ?? 3;
    const text = str('a string');
    const hc: HealthCheckConfig = {
      type,
      intervalMs: Math.round(delay * 1000),
      timeoutMs: Math.round(timeout * 1000),
      rise,
      fall,
      method: 'GET',
      path: '/',
      expectedCodes: '200',
      verify: false,
    };
    const portNum = this.get(m, 'port', num(1, 65535, { integer: true }));
    if (portNum !== undefined) hc.port = portNum;
    if ((type === 'tcp' || type === 'http' || type === 'https') && portNum === undefined && servicePort === 0)
      this.r.issue(m.node, m.sub('port'), 'this service has no port (fwmark or port 0): say which port to check; valid: port: 1..65535');
    const only = (keys: string[], types: HealthCheckConfig['type'][]) => {
      for (const k of keys) if (m.has(k) && !types.includes(type)) this.r.issue(m.keyNode(k)!, m.sub(k), `${k} applies to ${types.map((t) => t.toUpperCase()).join('/')} checks, not ${type.toUpperCase()}; remove it`);
    };
    only(['send', 'expect'], ['tcp']);
    only(['http_method', 'url_path', 'domain_name', 'expected_codes', 'body_regex'], ['http', 'https']);
    only(['sni', 'ca_file', 'verify'], ['https']);
    only(['script'], ['script']);
    const send = this.get(m, 'send', text);
    if (send !== undefined) hc.send = send;
    const expect = this.get(m, 'expect', text);
    if (expect !== undefined) hc.expect = expect;
    hc.method = this.get(m, 'http_method', oneOf(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'] as const)) ?? 'GET';
    hc.path = this.get(m, 'url_path', str('a path starting with /', (v) => (v.startsWith('/') ? undefined : `"${v}" does not start with /`))) ?? '/';
    const host = this.get(m, 'domain_name', str('a host name for the Host header'));
    if (host !== undefined) hc.host = host;
    const codesRaw = m.has('expected_codes') ? scalarValue(m.value('expected_codes')) : undefined;
    if (codesRaw !== undefined) {
      const codes = String(codesRaw);
      const parsed = parseExpectedCodes(codes);
      if (typeof parsed === 'string') this.r.issue(m.value('expected_codes') ?? m.node, m.sub('expected_codes'), `${parsed}; valid: "200", "200, 202", "200-204"`);
      else hc.expectedCodes = codes;
    }
    const re = this.get(m, 'body_regex', str('a regular expression', (v) => {
      try {
        new RegExp(v);
        return undefined;
      } catch (err) {
        return `not a valid regular expression: ${(err as Error).message}`;
      }
    }));
    if (re !== undefined) hc.bodyRegex = re;
    const sni = this.get(m, 'sni', text);
    if (sni !== undefined) hc.sni = sni;
    const ca = this.get(m, 'ca_file', str('an absolute path to a PEM file', (v) => (v.startsWith('/') ? undefined : `"${v}" must be an absolute path`)));
    if (ca !== undefined) hc.caFile = ca;
    hc.verify = this.get(m, 'verify', bool) ?? ca !== undefined;
    if (type === 'script') {
      if (!m.has('script')) this.r.issue(m.node, m.sub('script'), 'missing "script"; valid: script: /etc/vipd/check.sh (gets the address and port as {address} {port} or at the end)');
      const sv = scalarValue(m.value('script'));
      const argv = Array.isArray(sv) ? (this.list(m, 'script') ?? []).map((n) => String(scalarValue(n))) : typeof sv === 'string' ? sv.trim().split(/\s+/) : [];
      if (m.has('script') && (!argv[0] || !argv[0].startsWith('/'))) this.r.issue(m.value('script') ?? m.node, m.sub('script'), `"${argv[0] ?? ''}" must be an absolute path; valid: script: /etc/vipd/check.sh`);
      else if (argv[0]) this.r.script(m.value('script'), m.sub('script'), argv[0]);
      if (argv[0]?.startsWith('/')) hc.command = argv.some((a) => a.includes('{address}') || a.includes('{port}')) ? argv : [...argv, '{address}', '{port}'];
    }
    return hc;
  }

  ipvs(node: Node | null | undefined, instanceNames: ReadonlySet<string>): IpvsConfig {
    const def: IpvsConfig = { drainMs: 0, flushOnStop: false, resyncMs: 60_000 };
    if (node === undefined || node === null) return def;
    const m = this.map(node, 'ipvs', 'a map of IPVS settings');
    if (!m) return def;
    m.allowOnly(['timeouts', 'sync_daemon', 'drain_delay', 'flush_on_stop', 'resync_interval']);
    const out: IpvsConfig = {
      drainMs: Math.round((this.get(m, 'drain_delay', num(0, 86400, { unit: 'seconds' })) ?? 0) * 1000),
      flushOnStop: this.get(m, 'flush_on_stop', bool) ?? false,
      resyncMs: Math.round((this.get(m, 'resync_interval', num(0, 86400, { unit: 'seconds' })) ?? 60) * 1000),
    };
    if (m.has('timeouts')) {
      const t = this.map(m.value('timeouts') ?? m.node, m.sub('timeouts'), 'a map {tcp, tcp_fin, udp} in seconds');
      if (t) {
        t.allowOnly(['tcp', 'tcp_fin', 'udp']);
        const sec = (k: string) => this.get(t, k, num(0, 2147483, { integer: true, unit: 'seconds, 0 = unchanged' })) ?? 0;
        out.timeouts = { tcp: sec('tcp'), tcpFin: sec('tcp_fin'), udp: sec('udp') };
      }
    }
    if (m.has('sync_daemon')) {
      const d = this.map(m.value('sync_daemon') ?? m.node, m.sub('sync_daemon'), 'a map {interface, sync_id, instance}');
      if (d) {
        d.allowOnly(['interface', 'sync_id', 'instance']);
        for (const k of ['interface', 'instance']) if (!d.has(k)) this.r.issue(d.node, d.sub(k), `missing "${k}"`);
        const iface = this.get(d, 'interface', ifname);
        const syncId = this.get(d, 'sync_id', num(0, 255, { integer: true })) ?? 0;
        const inst = this.get(d, 'instance', str('the VRRP instance whose state the sync daemon follows'));
        if (inst !== undefined && !instanceNames.has(inst)) {
          const guess = didYouMean(inst, [...instanceNames]);
          this.r.issue(d.value('instance') ?? d.node, d.sub('instance'), `no VRRP instance "${inst}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...instanceNames].join(', ') || '(none defined)'}`);
        }
        if (iface !== undefined && inst !== undefined) out.syncDaemon = { interface: iface, syncId, instance: inst };
      }
    }
    return out;
  }

  syncGroup(name: string, keyNode: Node, node: Node | null, instances: Map<string, Node>, taken: Map<string, string>): SyncGroupConfig | undefined {
    const path = `vrrp_sync_groups.${name}`;
    if (!NAME.test(name)) this.r.issue(keyNode, path, `group name "${name}" is not valid; valid: 1..64 of A-Z a-z 0-9 _ . -`);
    const m = this.map(node ?? keyNode, path, 'a map {group: [VI_1, VI_2]}');
    if (!m) return undefined;
    m.allowOnly(['group', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify']);
    if (!m.has('group')) this.r.issue(m.node, path, 'missing required key "group"; valid: a list of vrrp_instances names');
    const members: string[] = [];
    (this.list(m, 'group') ?? []).forEach((n, i) => {
      const p = `${m.sub('group')}[${i}]`;
      const member = this.check(n, p, str('the name of a VRRP instance'));
      if (member === undefined) return;
      if (!instances.has(member)) {
        const guess = didYouMean(member, [...instances.keys()]);
        this.r.issue(n, p, `no VRRP instance "${member}"; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${[...instances.keys()].join(', ') || '(no instances defined)'}`);
        return;
      }
      const other = taken.get(member);
      if (other !== undefined) {
        this.r.issue(n, p, `instance "${member}" is already in sync group "${other}"; valid: an instance belongs to at most one group`);
        return;
      }
      if (members.includes(member)) {
        this.r.issue(n, p, `"${member}" is listed twice; list each instance once`);
        return;
      }
      taken.set(member, name);
      members.push(member);
    });
    if (m.has('group') && members.length === 0 && isSeq(m.value('group')) && (m.value('group') as { items: unknown[] }).items.length === 0)
      this.r.issue(m.value('group') ?? m.node, m.sub('group'), 'the list is empty; valid: one or more instance names');
    return { name, instances: members, notify: this.notify(m) };
  }
}

/** Parses and validates YAML text, scripts included (they must exist and be executable). Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string): Config {
  return parseAndCheck(text, file).cfg;
}

/** parseConfig(), with the scripts the file names: a reload of the same text checks them again without a parse. */
export function parseAndCheck(text: string, file: string): { cfg: Config; scripts: ScriptRef[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const r = new Reader(file, lineCounter);
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    r.issues.push({ file, line, col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}` });
  }
  if (r.issues.length > 0) throw new ConfigError(r.issues);

  const p = new Parser(r);
  const root = doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null)) {
    r.issue(undefined, '', 'the file is empty; valid: a map with global, vrrp_instances and vrrp_sync_groups (see etc/vipd/vipd.yaml)');
    throw new ConfigError(r.issues);
  }
  const top = p.map(root, '', 'a map with global, vrrp_instances and vrrp_sync_groups');
  if (!top) throw new ConfigError(r.issues);
  top.allowOnly(['global', 'vrrp_instances', 'vrrp_sync_groups', 'virtual_servers', 'ipvs']);

  const global = p.global(top.value('global'));

  const instances: VrrpInstanceConfig[] = [];
  const instanceNodes = new Map<string, Node>();
  if (!top.has('vrrp_instances') && !top.has('virtual_servers')) r.issue(top.node, 'vrrp_instances', 'missing (and no virtual_servers either); valid: a map of VRRP instances, e.g. vrrp_instances: {VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24]}}');
  else if (top.has('vrrp_instances')) {
    const im = p.map(top.value('vrrp_instances') ?? top.keyNode('vrrp_instances'), 'vrrp_instances', 'a map of instance name -> settings');
    if (im && im.keys().length === 0) r.issue(im.node, 'vrrp_instances', 'no instances; valid: at least one instance');
    const seen = new Map<string, string>();
    for (const name of im?.keys() ?? []) {
      const keyNode = im!.keyNode(name)!;
      instanceNodes.set(name, keyNode);
      const inst = p.instance(name, keyNode, im!.value(name) ?? null);
      if (!inst) continue;
      const id = `${inst.interface}/${inst.vrid}`;
      const other = seen.get(id);
      if (other !== undefined) {
        const vm = isMap(im!.value(name)) ? new MapView(new Reader(file, lineCounter), im!.value(name) as YAMLMap, '') : undefined;
        r.issue(vm?.value('vrid') ?? keyNode, `vrrp_instances.${name}.vrid`, `vrid ${inst.vrid} on ${inst.interface} is already used by instance "${other}"; valid: a vrid unique per interface`);
        continue;
      }
      seen.set(id, name);
      instances.push(inst);
    }
  }

  const syncGroups: SyncGroupConfig[] = [];
  if (top.has('vrrp_sync_groups')) {
    const gv = top.value('vrrp_sync_groups');
    if (!(isScalar(gv) && gv.value === null)) {
      const gm = p.map(gv ?? top.keyNode('vrrp_sync_groups'), 'vrrp_sync_groups', 'a map of group name -> {group: [...]}');
      const taken = new Map<string, string>();
      for (const name of gm?.keys() ?? []) {
        const g = p.syncGroup(name, gm!.keyNode(name)!, gm!.value(name) ?? null, instanceNodes, taken);
        if (g) syncGroups.push(g);
      }
    }
  }

  const virtualServers: VirtualServerConfig[] = [];
  const names = new Set(instances.map((i) => i.name));
  if (top.has('virtual_servers')) {
    const vm = p.map(top.value('virtual_servers') ?? top.keyNode('virtual_servers'), 'virtual_servers', 'a map of virtual server name -> settings');
    const seen = new Map<string, string>();
    for (const name of vm?.keys() ?? []) {
      const v = p.virtualServer(name, vm!.keyNode(name)!, vm!.value(name) ?? null);
      if (!v) continue;
      const id = serviceName(v.fwmark !== undefined ? { family: v.family, fwmark: v.fwmark } : { family: v.family, protocol: v.protocol!, address: v.address!, port: v.port! });
      const other = seen.get(id);
      if (other !== undefined) {
        r.issue(vm!.keyNode(name), `virtual_servers.${name}`, `${id} is already defined by virtual server "${other}"; valid: each service once`);
        continue;
      }
      seen.set(id, name);
      virtualServers.push(v);
    }
  }
  const ipvs = p.ipvs(top.value('ipvs'), names);
  r.issues.push(...checkScripts(r.scripts, global.enableScriptSecurity));

  if (r.issues.length > 0) {
    r.issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(r.issues);
  }
  return { cfg: { file, global, instances, syncGroups, virtualServers, ipvs }, scripts: r.scripts };
}

/** The last file parsed and its result: a reload of an unchanged file costs no parse (11,000 lines of YAML take 0.3 s natively). */
let lastParsed: { abs: string; text: string; cfg: Config; scripts: ScriptRef[] } | undefined;

/** The file's text: a regular file of at most MAX_CONFIG_BYTES (read.ts), else a ConfigError at 1:1. */
function readConfigText(file: string): { abs: string; text: string } {
  const abs = resolve(file);
  try {
    return { abs, text: readConfigFile(abs) };
  } catch (err) {
    if (!(err instanceof ConfigReadError)) throw err;
    throw new ConfigError([{ file: abs, line: 1, col: 1, path: '', message: err.message }]);
  }
}

/** Reads and validates a config file (validation is pure: the same text gives the same Config, returned as is). */
export function loadConfig(file: string = DEFAULT_CONFIG_FILE): Config {
  const { abs, text } = readConfigText(file);
  return parseCached(abs, text);
}

/** The last parse of the same text, with its scripts checked again (one may have been removed or made writable since). */
function cached(abs: string, text: string): Config | undefined {
  if (lastParsed?.abs !== abs || lastParsed.text !== text) return undefined;
  const issues = checkScripts(lastParsed.scripts, lastParsed.cfg.global.enableScriptSecurity);
  if (issues.length > 0) throw new ConfigError(issues);
  return lastParsed.cfg;
}

function parseCached(abs: string, text: string): Config {
  const hit = cached(abs, text);
  if (hit) return hit;
  const { cfg, scripts } = parseAndCheck(text, abs);
  lastParsed = { abs, text, cfg, scripts };
  return cfg;
}

/** Files larger than this are parsed in the parser thread on reload (~2,000 lines: some 40 ms of YAML natively). */
export const OFF_THREAD_BYTES = 64 * 1024;

/**
 * The parser thread (parse-worker.ts): started for the first big file and kept
 * (unref'd: it never holds the process), so only the first big reload pays for
 * starting a thread and loading the YAML library into it.
 */
class ParserThread {
  private worker: Worker | undefined;
  private readonly waiting: ((r: ParseReply | Error) => void)[] = [];

  parse(text: string, file: string): Promise<ParseReply> {
    const w = (this.worker ??= this.spawn());
    return new Promise((resolveReply, reject) => {
      this.waiting.push((r) => (r instanceof Error ? reject(r) : resolveReply(r)));
      w.postMessage({ text, file });
    });
  }

  warm(): void {
    this.worker ??= this.spawn();
  }

  private spawn(): Worker {
    // stdout/stderr: true, as for the checker thread: fd 1 must stay blocking for the logger.
    const w = new Worker(new URL('./parse-worker.js', import.meta.url), { stdout: true, stderr: true });
    w.unref();
    w.stdout.resume();
    w.stderr.resume();
    w.on('message', (m: ParseReply) => this.waiting.shift()?.(m));
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = undefined;
      for (const f of this.waiting.splice(0)) f(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the config parser thread exited (${code}) without an answer`)));
    return w;
  }
}

const parserThread = new ParserThread();

/** A daemon whose config is big starts the parser thread early, so its first reload does not wait for it. */
export function warmConfigParser(cfg: Config): void {
  if (lastParsed?.abs === cfg.file && lastParsed.text.length > OFF_THREAD_BYTES) parserThread.warm();
}

/**
 * What a running daemon loads on reload: loadConfig(), with a big file parsed in the
 * parser thread so it never holds the event loop — and the VRRP adverts on it. The
 * file is read here, so the thread parses exactly this text.
 */
export async function loadConfigOffThread(file: string = DEFAULT_CONFIG_FILE): Promise<Config> {
  const { abs, text } = readConfigText(file);
  if ((lastParsed?.abs === abs && lastParsed.text === text) || text.length <= OFF_THREAD_BYTES) return parseCached(abs, text);
  const reply = await parserThread.parse(text, abs);
  if (!reply.ok) throw 'issues' in reply ? new ConfigError(reply.issues) : new Error(reply.message);
  const cfg = reply.cfg as Config;
  lastParsed = { abs, text, cfg, scripts: reply.scripts };
  return cfg;
}

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
      `v${i.version}`,
      `advert ${i.advertIntervalCs / 100}s`,
      vips.join(' '),
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
    lines.push(`  ${v.name} ${id} ${v.scheduler}${v.persistence ? ` persistent ${v.persistence}s` : ''} -> ${v.realServers.map((r) => `${r.address}:${r.port} ${r.forwarding} w${r.weight}`).join(', ') || '(no real servers)'}`);
  }
  return lines.join('\n');
}
