// virtual_server -> vipd's virtual_servers. keepalived checks each real server
// with its own checkers (checkers.ts): the virtual server gets them when every
// real server is checked the same way, else each real server its own. One entry
// per keepalived keyword.

import { isIP } from 'node:net';
import { CHECK_TYPES, type Checker, checker, type CheckTiming, healthCheckOf, keepCheckedPort, scriptNotes, timing } from './checkers.js';
import { arg, args, boolArg, Ctx, numArg, scriptArg, type Table, walk, where } from './context.js';
import type { Stmt, Word } from './syntax.js';
import type { Obj, Out } from './vrrp.js';

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
  /** The protocol keyword (a fwmark service's is dropped with a note on it). */
  protocolKw?: Word;
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

const shared = (key: string, read: (s: Stmt, ctx: Ctx) => unknown): Table<RealServer>[string] => (r, s, ctx) => {
  const v = read(s, ctx);
  if (v !== undefined) r.shared.set(key, { value: v, word: s.words[0]! });
};

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
  ...Object.fromEntries(Object.keys(CHECK_TYPES).map((k) => [k, (r: RealServer, s: Stmt, ctx: Ctx) => checker(r.checkers, s, ctx)])),
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
  protocol: (v, s, ctx) => {
    const a = arg(s, ctx);
    if (a && ['TCP', 'UDP', 'SCTP'].includes(a.text.toUpperCase())) {
      v.o.protocol = a.text.toLowerCase();
      v.protocolKw = s.words[0];
    } else if (a) ctx.leftOut(a, 'valid: TCP | UDP | SCTP');
  },
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

/**
 * Each real server's checkers as vipd's checks; on the virtual server when every real
 * server has the same (keepalived's checkers are per real server), else on each.
 */
function checksOf(vs: Vs, ctx: Ctx): { shared?: Obj[]; own: (Obj[] | undefined)[] } {
  const servicePort = vs.o.fwmark !== undefined || vs.o.group !== undefined ? undefined : vs.o.port;
  let first: string | undefined;
  const lists = vs.rss.map((r) => {
    const portLost = servicePort === undefined || ((r.rs.forwarding ?? vs.o.forwarding ?? 'nat') !== 'nat' && r.rs.port !== undefined && r.rs.port !== servicePort);
    const build = (c: Ctx) => {
      const l = r.checkers.map((k) => healthCheckOf(vs.timing, r.timing, r.rs, k, c));
      keepCheckedPort(l, r.rs.port, portLost);
      return l;
    };
    const quiet = build(new Ctx()); // the notes once per distinct list
    const key = JSON.stringify(quiet);
    if (first === undefined) first = key;
    return key === first && r !== vs.rss[0] ? quiet : build(ctx);
  });
  const all = lists.map((l) => JSON.stringify(l));
  scriptNotes(lists.flat(), vs.rss[0]?.s.words[0] ?? ({} as Word), ctx);
  if (lists.length > 0 && lists[0]!.length > 0 && all.every((x) => x === all[0])) return { shared: lists[0]!, own: [] };
  return { own: lists.map((l) => (l.length ? l : undefined)) };
}

/**
 * Direct routing and tunnels deliver to the service's own port whatever port a real server
 * names (ipvsadm writes the service's; vipd refuses another): such ports are dropped, and
 * the check keeps testing the port keepalived tested (health_check.port) when they agree.
 */
function directPorts(vs: Vs, rss: Obj[], kw: Word, ctx: Ctx): void {
  const servicePort = vs.o.fwmark !== undefined || vs.o.group !== undefined ? undefined : vs.o.port;
  const moved = rss.filter((r) => (r.forwarding ?? vs.o.forwarding ?? 'nat') !== 'nat' && r.port !== undefined && r.port !== (servicePort ?? 0));
  if (moved.length === 0) return;
  const ports = [...new Set(moved.map((r) => r.port))];
  const checked = vs.rss.some((r) => r.checkers.length > 0) ? '; the checks keep testing the port keepalived tested (their port)' : '';
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
  if (vs.o.fwmark !== undefined && vs.o.protocol !== undefined) {
    ctx.note(vs.protocolKw!, 'a vipd fwmark service has no protocol: the mark selects the packets (as IPVS does); protocol dropped');
    delete vs.o.protocol;
  }
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
  const { shared: hcs, own } = checksOf(vs, ctx);
  own.forEach((l, i) => l && (rss[i]!.health_checks = l));
  directPorts(vs, rss, kw!, ctx);
  const o = { ...vs.o, real_servers: rss, ...(hcs?.length === 1 ? { health_check: hcs[0] } : hcs ? { health_checks: hcs } : {}) };
  const name = serviceName(o, out.virtual_servers);
  out.virtual_servers[name] = o;
  ctx.comment(['virtual_servers', name], ` virtual_server ${args(s).map((w) => w.text).join(' ')} from ${where(kw!.pos)}`);
  if (hcs) ctx.comment(['virtual_servers', name, hcs.length === 1 ? 'health_check' : 'health_checks'], ` keepalived's checker defaults written out (delay_loop 60, connect_timeout 5, up after 1 pass, down after retry + 1 failures, delay_before_retry apart)`);
}
