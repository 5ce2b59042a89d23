// virtual_server -> vipd's virtual_servers. keepalived checks each real server
// with its own checkers; vipd has one health_check per virtual server: it is
// written when every real server has one equivalent checker (a MISC_CHECK's
// arguments may name the real server's address and port: {address} {port}),
// and reported otherwise. One entry per keepalived keyword.

import { isIP } from 'node:net';
import { arg, args, boolArg, Ctx, numArg, scriptArg, type Table, walk, where } from './context.js';
import type { Stmt, Word } from './syntax.js';
import type { Obj, Out } from './vrrp.js';

/** Check settings as keepalived layers them: virtual server, real server, checker (each overrides the one before). */
interface CheckTiming {
  delay_loop?: number;
  connect_timeout?: number;
  retry?: number;
  delay_before_retry?: Word;
  virtualhost?: string;
}

interface Checker {
  kw: Word;
  type: string;
  hc: Obj;
  timing: CheckTiming;
}

interface RealServer {
  s: Stmt;
  rs: Obj;
  timing: CheckTiming;
  checkers: Checker[];
  /** Settings vipd has per virtual server, kept if every real server agrees. */
  shared: Map<string, { value: unknown; word: Word }>;
}

interface Vs {
  o: Obj;
  timing: CheckTiming;
  rss: RealServer[];
}

const FORWARDING: Record<string, string> = { NAT: 'nat', DR: 'dr', TUN: 'tunnel' };

function forwarding(s: Stmt, ctx: Ctx): string | undefined {
  const [kw, m, ...rest] = s.words;
  const f = m ? FORWARDING[m.text.toUpperCase()] : undefined;
  if (!f) {
    ctx.leftOut(m ?? kw!, 'valid: NAT | DR | TUN');
    return undefined;
  }
  if (rest.length) ctx.leftOut(rest[0]!, 'tunnel options (type gue/gre, checksum) are not translated: set real_servers[].tunnel by hand');
  return f;
}

const timing: Table<{ timing: CheckTiming }> = {
  delay_loop: (t, s, ctx) => {
    t.timing.delay_loop = numArg(s, ctx, 0.01, 86400);
  },
  connect_timeout: (t, s, ctx) => {
    t.timing.connect_timeout = numArg(s, ctx, 0.01, 86400);
  },
  retry: (t, s, ctx) => {
    t.timing.retry = numArg(s, ctx, 0, 99, true);
  },
  nb_get_retry: (t, s, ctx) => {
    t.timing.retry = numArg(s, ctx, 0, 99, true);
  },
  delay_before_retry: (t, s) => {
    t.timing.delay_before_retry = s.words[0];
  },
  virtualhost: (t, s, ctx) => {
    t.timing.virtualhost = arg(s, ctx)?.text;
  },
  warmup: (_t, s, ctx) => ctx.note(s.words[0]!, 'vipd always spreads the first checks over the interval'),
};

const shared = (key: string, read: (s: Stmt, ctx: Ctx) => unknown): Table<RealServer>[string] => (r, s, ctx) => {
  const v = read(s, ctx);
  if (v !== undefined) r.shared.set(key, { value: v, word: s.words[0]! });
};

function url(hc: Obj, s: Stmt, ctx: Ctx, seen: { urls: number }): void {
  if (seen.urls++ > 0) return ctx.leftOut(s.words[0]!, 'vipd checks one URL per health check; this further url block is left out');
  walk(s.block ?? [], {
    path: (h, u) => {
      const a = arg(u, ctx);
      if (a) h.url_path = a.text;
    },
    status_code: (h, u) => {
      h.expected_codes = args(u).map((w) => w.text).join(', ');
    },
    digest: (_h, u) => ctx.leftOut(u.words[0]!, 'vipd has no body digest check (body_regex is the nearest)'),
    virtualhost: (h, u) => {
      const a = arg(u, ctx);
      if (a) h.domain_name = a.text;
    },
    regex: (h, u) => {
      const a = arg(u, ctx);
      if (!a) return;
      h.body_regex = a.text;
      ctx.note(a, 'keepalived matches PCRE2, vipd a JavaScript regular expression');
    },
  }, hc, ctx, (k) => `vipd has no url keyword "${k}"`);
}

const CHECK_TYPES: Record<string, string> = { TCP_CHECK: 'TCP', HTTP_GET: 'HTTP', SSL_GET: 'HTTPS', MISC_CHECK: 'SCRIPT', PING_CHECK: 'PING' };

function checker(r: RealServer, s: Stmt, ctx: Ctx): void {
  const kw = s.words[0]!;
  const c: Checker = { kw, type: CHECK_TYPES[kw.text]!, hc: {}, timing: {} };
  const seen = { urls: 0 };
  walk(s.block ?? [], {
    ...(timing as unknown as Table<Checker>),
    connect_port: (k, cs) => {
      const v = numArg(cs, ctx, 1, 65535, true);
      if (v !== undefined) k.hc.port = v;
    },
    url: (k, cs) => url(k.hc, cs, ctx, seen),
    enable_sni: (k) => {
      k.hc.sni = true;
    },
    http_protocol: (_k, cs) => ctx.note(cs.words[0]!, 'vipd sends HTTP/1.1 requests with Connection: close'),
    misc_path: (k, cs) => {
      const a = arg(cs, ctx);
      if (a) k.hc.script = a.text;
    },
    misc_timeout: (k, cs) => {
      k.timing.connect_timeout = numArg(cs, ctx, 0.01, 86400);
    },
    misc_dynamic: (k) => {
      k.hc['#dynamic'] = true;
    },
  }, c, ctx, (k) => `vipd's health checks have no "${k}" (${kw.text})`);
  r.checkers.push(c);
}

const REAL_SERVER: Table<RealServer> = {
  weight: (r, s, ctx) => {
    const v = numArg(s, ctx, 0, 65535, true);
    if (v !== undefined) r.rs.weight = v;
  },
  uthreshold: (r, s, ctx) => {
    const v = numArg(s, ctx, 0, 0x7fffffff, true);
    if (v !== undefined) r.rs.upper_threshold = v;
  },
  lthreshold: (r, s, ctx) => {
    const v = numArg(s, ctx, 0, 0x7fffffff, true);
    if (v !== undefined) r.rs.lower_threshold = v;
  },
  lvs_method: (r, s, ctx) => {
    const f = forwarding(s, ctx);
    if (f) r.rs.forwarding = f;
  },
  notify_up: shared('notify_up', scriptArg),
  notify_down: shared('notify_down', scriptArg),
  inhibit_on_failure: shared('inhibit_on_failure', boolArg),
  alpha: shared('alpha', boolArg),
  ...(timing as unknown as Table<RealServer>),
  ...Object.fromEntries(Object.keys(CHECK_TYPES).map((k) => [k, checker])),
};
REAL_SERVER.lb_kind = REAL_SERVER.lvs_method!;

function realServer(vs: Vs, s: Stmt, ctx: Ctx): void {
  const [kw, ip, port] = s.words;
  if (!ip || !isIP(ip.text)) return ctx.leftOut(ip ?? kw!, 'valid: real_server IP [PORT]');
  const r: RealServer = { s, rs: { address: ip.text }, timing: {}, checkers: [], shared: new Map() };
  if (port) r.rs.port = Number(port.text);
  walk(s.block ?? [], REAL_SERVER, r, ctx, (k) => `vipd has no real_server keyword "${k}"`);
  vs.rss.push(r);
}

const flag = (name: string): Table<Vs>[string] => (v) => {
  v.o.scheduler_flags = [...((v.o.scheduler_flags as string[]) ?? []), name];
};

const set = (key: string, read: (s: Stmt, ctx: Ctx) => unknown): Table<Vs>[string] => (v, s, ctx) => {
  const x = read(s, ctx);
  if (x !== undefined) v.o[key] = x;
};

const VIRTUAL_SERVER: Table<Vs> = {
  lvs_sched: set('scheduler', (s, ctx) => arg(s, ctx)?.text),
  lvs_method: set('forwarding', forwarding),
  persistence_timeout: set('persistence_timeout', (s, ctx) => (s.words[1] ? numArg(s, ctx, 0, 2678400, true) : 360)),
  persistence_granularity: set('persistence_netmask', (s, ctx) => arg(s, ctx)?.text),
  protocol: set('protocol', (s, ctx) => {
    const a = arg(s, ctx);
    if (a && ['TCP', 'UDP', 'SCTP'].includes(a.text.toUpperCase())) return a.text.toLowerCase();
    if (a) ctx.leftOut(a, 'valid: TCP | UDP | SCTP');
    return undefined;
  }),
  quorum: set('quorum', (s, ctx) => numArg(s, ctx, 1, 0x7fffffff, true)),
  hysteresis: set('hysteresis', (s, ctx) => numArg(s, ctx, 0, 0x7fffffff, true)),
  quorum_up: set('quorum_up', scriptArg),
  quorum_down: set('quorum_down', scriptArg),
  alpha: set('alpha', boolArg),
  inhibit_on_failure: set('inhibit_on_failure', boolArg),
  ops: (v) => {
    v.o.one_packet = true;
  },
  'sh-port': flag('port'),
  'sh-fallback': flag('fallback'),
  'mh-port': flag('port'),
  'mh-fallback': flag('fallback'),
  ip_family: set('family', (s, ctx) => arg(s, ctx)?.text),
  omega: set('omega', boolArg),
  sorry_server_inhibit: set('sorry_server_inhibit', boolArg),
  sorry_server: set('sorry_server', (s, ctx) => {
    const [kw, ip, port] = s.words;
    if (!ip || !isIP(ip.text)) return ctx.leftOut(ip ?? kw!, 'valid: sorry_server IP [PORT]');
    return { address: ip.text, ...(port ? { port: Number(port.text) } : {}) };
  }),
  sorry_server_lvs_method: (v, s, ctx) => {
    const f = forwarding(s, ctx);
    if (f && v.o.sorry_server) (v.o.sorry_server as Obj).forwarding = f;
    else if (f) ctx.leftOut(s.words[0]!, 'sorry_server_lvs_method before sorry_server');
  },
  real_server: realServer,
  ...(timing as unknown as Table<Vs>),
};
VIRTUAL_SERVER.lb_algo = VIRTUAL_SERVER.lvs_sched!;
VIRTUAL_SERVER.lb_kind = VIRTUAL_SERVER.lvs_method!;

const DEFAULT_RETRY: Record<string, number> = { SCRIPT: 0 };

/** The checker as vipd's health_check, the real server's own address and port written as {address} / {port} in a script. */
function healthCheckOf(vs: Vs, r: RealServer, c: Checker, ctx: Ctx): Obj {
  const t: CheckTiming = { ...vs.timing, ...r.timing, ...c.timing };
  const delay = t.delay_loop ?? 60;
  let timeout = t.connect_timeout ?? (c.type === 'SCRIPT' ? delay : 5);
  if (timeout >= delay) {
    const fixed = Math.max(0.01, Math.round(delay * 90) / 100);
    if (t.connect_timeout !== undefined || c.type !== 'SCRIPT')
      ctx.note(c.kw, `timeout ${timeout} s is not below delay_loop ${delay} s, which vipd requires: timeout ${fixed} s`);
    timeout = fixed;
  }
  const hc: Obj = { type: c.type, delay, timeout, max_retries: 1, max_retries_down: (t.retry ?? DEFAULT_RETRY[c.type] ?? 1) + 1 };
  const { sni, script, ...rest } = c.hc;
  delete rest['#dynamic'];
  if (c.type === 'HTTP' || c.type === 'HTTPS') {
    hc.url_path = rest.url_path ?? '/';
    hc.expected_codes = rest.expected_codes ?? '200-299';
    const host = rest.domain_name ?? t.virtualhost;
    if (host !== undefined) hc.domain_name = host;
    if (sni && host !== undefined) hc.sni = host;
    else if (sni) ctx.note(c.kw, 'enable_sni without a virtualhost: vipd sends no SNI (set health_check.sni)');
    delete rest.url_path;
    delete rest.expected_codes;
    delete rest.domain_name;
  }
  Object.assign(hc, rest);
  if (typeof script === 'string') {
    const words = script.trim().split(/\s+/).map((w) => (w === r.rs.address ? '{address}' : r.rs.port !== undefined && w === String(r.rs.port) ? '{port}' : w));
    hc.script = words.join(' ');
  }
  return hc;
}

/** One health_check for the virtual server if every real server is checked the same way; each difference reported. */
function consolidate(vs: Vs, ctx: Ctx): Obj | undefined {
  const checked = vs.rss.filter((r) => r.checkers.length > 0);
  if (checked.length === 0) return undefined;
  for (const r of vs.rss) for (const extra of r.checkers.slice(1)) ctx.leftOut(extra.kw, 'vipd has one health check per virtual server: a real server\'s second checker is left out');
  const first = checked[0]!;
  const hc = healthCheckOf(vs, first, first.checkers[0]!, ctx);
  const key = JSON.stringify(hc);
  for (const r of vs.rss.slice(1)) {
    const c = r.checkers[0];
    if (!c) ctx.leftOut(r.s.words[0]!, `this real server has no checker while ${where(first.checkers[0]!.kw.pos)} has one: vipd checks every real server of a virtual server the same way (health_check from the first)`);
    else if (JSON.stringify(healthCheckOf(vs, r, c, new Ctx())) !== key) // its notes are the first's
      ctx.leftOut(c.kw, `this checker differs from the one at ${where(first.checkers[0]!.kw.pos)}: vipd has one health check per virtual server (health_check from the first)`);
  }
  const c0 = first.checkers[0]!;
  if (c0.type === 'SCRIPT') {
    if (!c0.hc['#dynamic'])
      ctx.note(c0.kw, 'without misc_dynamic keepalived reads any non-zero exit as down; vipd reads exit 2..255 as up with weight = exit - 2 (keepalived\'s misc_dynamic)');
    if (typeof hc.script === 'string' && !/\{address\}|\{port\}/.test(hc.script)) ctx.note(c0.kw, 'vipd passes the real server\'s address and port as two more arguments');
  }
  const t = { ...vs.timing, ...first.timing, ...c0.timing };
  if (t.delay_before_retry) ctx.note(t.delay_before_retry, 'vipd retries at the check interval (delay), not after delay_before_retry');
  return hc;
}

/**
 * Direct routing and tunnels deliver to the service's own port whatever port a real server
 * names (ipvsadm writes the service's; vipd refuses another): such ports are dropped, and
 * the check keeps testing the port keepalived tested (health_check.port) when they agree.
 */
function directPorts(vs: Vs, rss: Obj[], hc: Obj | undefined, kw: Word, ctx: Ctx): void {
  const servicePort = vs.o.fwmark !== undefined || vs.o.group !== undefined ? undefined : vs.o.port;
  const moved = rss.filter((r) => (r.forwarding ?? vs.o.forwarding ?? 'nat') !== 'nat' && r.port !== undefined && r.port !== (servicePort ?? 0));
  if (moved.length === 0) return;
  const ports = [...new Set(moved.map((r) => r.port))];
  let checked = '';
  if (hc && hc.port === undefined && ['TCP', 'HTTP', 'HTTPS'].includes(String(hc.type)) && ports.length === 1 && moved.length === rss.length) {
    hc.port = ports[0];
    checked = `; the check keeps testing port ${String(ports[0])} (health_check.port)`;
  }
  for (const r of moved) delete r.port;
  ctx.note(kw, `direct routing and tunnels deliver to ${servicePort === undefined ? "each packet's own port" : `the service's port ${servicePort}`}: real server port ${ports.join(', ')} dropped${checked}`);
}

function serviceName(o: Obj, taken: Record<string, unknown>): string {
  const base = o.group !== undefined ? `group-${String(o.group)}-${o.protocol ?? 'tcp'}` : o.fwmark !== undefined ? `fwmark-${o.fwmark}` : `${String(o.address).replace(/:/g, '_')}-${o.port}-${o.protocol ?? 'tcp'}`;
  let name = base;
  for (let n = 2; name in taken; n++) name = `${base}-${n}`;
  return name;
}

export function virtualServer(out: Out, s: Stmt, ctx: Ctx): void {
  const [kw, a, b] = s.words;
  const vs: Vs = { o: {}, timing: {}, rss: [] };
  if (a?.text === 'group' && b) vs.o.group = b.text;
  else if (a?.text === 'fwmark' && b && /^\d+$/.test(b.text)) vs.o.fwmark = Number(b.text);
  else if (a && isIP(a.text)) {
    vs.o.address = a.text;
    vs.o.port = b ? Number(b.text) : 0;
  } else return ctx.leftOut(a ?? kw!, 'valid: virtual_server IP [PORT] | fwmark N | group NAME');
  walk(s.block ?? [], VIRTUAL_SERVER, vs, ctx, (k) => `vipd has no virtual_server keyword "${k}"`);
  // keepalived's defaults where vipd's differ: NAT is both's; keepalived's scheduler default is made explicit.
  if (vs.o.protocol === undefined && vs.o.fwmark === undefined) vs.o.protocol = 'tcp';
  if (vs.o.group !== undefined) delete vs.o.family; // the group's lines say it
  const rss: Obj[] = vs.rss.map((r) => ({ ...r.rs }));
  for (const key of ['notify_up', 'notify_down', 'inhibit_on_failure', 'alpha']) {
    const vals = vs.rss.map((r) => r.shared.get(key));
    const firstSet = vals.find((v) => v !== undefined);
    if (!firstSet) continue;
    const same = vals.every((v) => v !== undefined && JSON.stringify(v.value) === JSON.stringify(firstSet.value));
    if (same) vs.o[key] = firstSet.value;
    else for (const v of vals) if (v) ctx.leftOut(v.word, `vipd has ${key} per virtual server: the real servers of this one differ`);
  }
  if (vs.o.notify_up || vs.o.notify_down) ctx.note(kw!, 'vipd runs notify_up/notify_down with the arguments VS ADDRESS PORT UP|DOWN (keepalived: none)');
  const hc = consolidate(vs, ctx);
  if (hc && vs.o.fwmark !== undefined && hc.port === undefined && ['TCP', 'HTTP', 'HTTPS'].includes(String(hc.type))) {
    const ports = new Set(vs.rss.map((r) => r.rs.port));
    if (ports.size === 1 && [...ports][0] !== undefined) hc.port = [...ports][0];
    else ctx.leftOut(kw!, 'a fwmark service\'s check needs one port (connect_port) and its real servers have several');
  }
  directPorts(vs, rss, hc, kw!, ctx);
  const o = { ...vs.o, real_servers: rss, ...(hc ? { health_check: hc } : {}) };
  const name = serviceName(o, out.virtual_servers);
  out.virtual_servers[name] = o;
  ctx.comment(['virtual_servers', name], ` virtual_server ${args(s).map((w) => w.text).join(' ')} from ${where(kw!.pos)}`);
  if (hc) ctx.comment(['virtual_servers', name, 'health_check'], ` keepalived's checker defaults written out (delay_loop 60, connect_timeout 5, up after 1 pass, down after retry + 1 failures)`);
}
