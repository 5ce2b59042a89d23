// keepalived's checkers -> vipd's health checks: every checker of a real server
// becomes one entry of its `health_checks` (a real server is up while all pass,
// as in keepalived); when every real server of a virtual server is checked the
// same way the list moves to the virtual server. A MISC_CHECK's arguments may
// name the real server's address and port: {address} {port}. One entry per keyword.

import { arg, args, type Ctx, numArg, type Table, walk } from './context.js';
import type { Stmt, Word } from './syntax.js';
import type { Obj } from './vrrp.js';

/** Check settings as keepalived layers them: virtual server, real server, checker (each overrides the one before). */
export interface CheckTiming {
  delay_loop?: number;
  connect_timeout?: number;
  retry?: number;
  delay_before_retry?: number;
  warmup?: number;
  virtualhost?: string;
}

export interface Checker {
  kw: Word;
  type: string;
  hc: Obj;
  urls: Obj[];
  timing: CheckTiming;
}

export const timing: Table<{ timing: CheckTiming }> = {
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
  delay_before_retry: (t, s, ctx) => {
    t.timing.delay_before_retry = numArg(s, ctx, 0.01, 86400);
  },
  virtualhost: (t, s, ctx) => {
    t.timing.virtualhost = arg(s, ctx)?.text;
  },
  warmup: (t, s, ctx) => {
    t.timing.warmup = numArg(s, ctx, 0, 86400);
  },
};

export const CHECK_TYPES: Record<string, string> = {
  TCP_CHECK: 'TCP', HTTP_GET: 'HTTP', SSL_GET: 'HTTPS', MISC_CHECK: 'SCRIPT', PING_CHECK: 'PING', UDP_CHECK: 'UDP', DNS_CHECK: 'DNS', SMTP_CHECK: 'SMTP', FILE_CHECK: 'FILE',
};
/** keepalived's retry defaults (1 for the others) and delay_before_retry defaults (1 s for the others). */
const DEFAULT_RETRY: Record<string, number> = { SCRIPT: 0, DNS: 3 };
const retryDelay = (type: string, delay: number): number => (type === 'DNS' ? delay : type === 'HTTP' || type === 'HTTPS' ? 3 : 1);
const PORTED = ['TCP', 'HTTP', 'HTTPS', 'UDP', 'DNS', 'SMTP'];
/** The checkers whose socket vipd sets keepalived's bind_port, bind_if and fwmark on (PING: no port). */
const BINDABLE = ['TCP', 'HTTP', 'HTTPS', 'UDP', 'DNS', 'SMTP'];
const TAKES: Record<string, string[]> = { bind_port: BINDABLE, bind_if: [...BINDABLE, 'PING'], fwmark: [...BINDABLE, 'PING'] };
const NAMES: Record<string, string> = { TCP: 'TCP_CHECK', HTTP: 'HTTP_GET', HTTPS: 'SSL_GET', UDP: 'UDP_CHECK', DNS: 'DNS_CHECK', SMTP: 'SMTP_CHECK', PING: 'PING_CHECK' };
const bindOption = (key: string, read: (s: Stmt, ctx: Ctx) => unknown): Table<Checker>[string] => (k, s, ctx) => {
  const takes = TAKES[key]!;
  if (!takes.includes(k.type)) {
    const why = k.type === 'PING' ? 'ICMP has no port' : `keepalived's ${k.kw.text} has no connection options either`;
    return ctx.leftOut(s.words[0]!, `${why}; vipd sets ${key} on ${takes.map((t) => NAMES[t]).join(', ')}`);
  }
  hcKey(key, read)(k, s, ctx);
};

function url(c: Checker, s: Stmt, ctx: Ctx): void {
  const u: Obj = {};
  walk(s.block ?? [], {
    path: (h, w) => {
      const a = arg(w, ctx);
      if (a) h.path = a.text;
    },
    status_code: (h, w) => {
      h.status_code = args(w).map((x) => x.text).join(', ');
    },
    digest: (h, w) => {
      const a = arg(w, ctx);
      if (a) h.digest = a.text.toLowerCase();
    },
    virtualhost: (h, w) => {
      const a = arg(w, ctx);
      if (a) h.virtualhost = a.text;
    },
    regex: (h, w) => {
      const a = arg(w, ctx);
      if (!a) return;
      if (c.hc.body_regex !== undefined && c.hc.body_regex !== a.text) return ctx.leftOut(a, 'vipd has one body_regex per check (for all its URLs): this url\'s differs from the first');
      c.hc.body_regex = a.text;
      ctx.note(a, 'keepalived matches PCRE2, vipd a JavaScript regular expression; vipd\'s body_regex applies to every url of the check');
      void h;
    },
  }, u, ctx, (k) => `vipd has no url keyword "${k}"`);
  c.urls.push(u);
}

const hcKey = (key: string, read: (s: Stmt, ctx: Ctx) => unknown): Table<Checker>[string] => (k, s, ctx) => {
  const v = read(s, ctx);
  if (v !== undefined) k.hc[key] = v;
};
const text = (s: Stmt, ctx: Ctx) => arg(s, ctx)?.text;

/** Keywords keepalived does not take in these checkers (reported, not carried into a check they would break). */
const NOT_IN: Record<string, { keys: string[]; why: string }> = {
  FILE_CHECK: { keys: ['delay_loop', 'connect_timeout', 'retry', 'nb_get_retry', 'delay_before_retry', 'warmup', 'connect_port', 'connect_ip', 'bindto'], why: 'keepalived\'s FILE_CHECK has track_file, weight and dynamic only (the file is read when it changes)' },
  MISC_CHECK: { keys: ['connect_port', 'connect_ip', 'bindto'], why: 'keepalived\'s MISC_CHECK has no connection options (misc_timeout is its timeout; the script connects as it likes)' },
};
const onlyOwn = (type: string, table: Table<Checker>): Table<Checker> => {
  const not = NOT_IN[type];
  if (!not) return table;
  return { ...table, ...Object.fromEntries(not.keys.map((k) => [k, (_c: Checker, st: Stmt, ctx: Ctx) => ctx.leftOut(st.words[0]!, not.why)])) };
};

/** One checker block of a real server. */
export function checker(checkers: Checker[], s: Stmt, ctx: Ctx): void {
  const kw = s.words[0]!;
  const c: Checker = { kw, type: CHECK_TYPES[kw.text]!, hc: {}, urls: [], timing: {} };
  walk(s.block ?? [], onlyOwn(kw.text, {
    ...(timing as unknown as Table<Checker>),
    connect_port: hcKey('connect_port', (cs) => numArg(cs, ctx, 1, 65535, true)),
    connect_ip: hcKey('connect_ip', text),
    bindto: hcKey('bindto', text),
    bind_port: bindOption('bind_port', (cs) => numArg(cs, ctx, 1, 65535, true)),
    bind_if: bindOption('bind_if', text),
    fwmark: bindOption('fwmark', (cs) => numArg(cs, ctx, 0, 4294967295, true) || undefined),
    url: (k, cs) => url(k, cs, ctx),
    enable_sni: (k) => {
      k.hc['#sni'] = true;
    },
    http_protocol: hcKey('http_protocol', (cs) => {
      const a = arg(cs, ctx);
      const v = a && ['1.0', '1.0C', '1.1'].find((p) => p === a.text.toUpperCase());
      if (a && !v) ctx.leftOut(a, `http_protocol "${a.text}" is not one of keepalived's: 1.0 | 1.0C | 1.1`);
      return v;
    }),
    misc_path: hcKey('script', text),
    misc_timeout: (k, cs) => {
      k.timing.connect_timeout = numArg(cs, ctx, 0.01, 86400);
    },
    misc_dynamic: (k) => {
      k.hc.misc_dynamic = true;
    },
    helo_name: hcKey('helo_name', text),
    type: hcKey('dns_type', (cs) => text(cs, ctx)?.toUpperCase()),
    name: hcKey('dns_name', text),
    payload: hcKey('payload', (cs) => args(cs).map((w) => w.text).join(' ')),
    require_reply: hcKey('require_reply', (cs) => (args(cs).length ? args(cs).map((w) => w.text).join(' ') : true)),
    min_reply_length: hcKey('min_reply_length', (cs) => numArg(cs, ctx, 0, 65507, true)),
    max_reply_length: hcKey('max_reply_length', (cs) => numArg(cs, ctx, 0, 65507, true)),
    // FILE_CHECK: its track_file block is translated as vrrp_track_files.NAME (track.ts).
    track_file: hcKey('track_file', text),
    // keepalived's FILE_CHECK with a non-zero weight adds the file's value times the weight to the real
    // server's weight (and so to the quorum's sum): dynamic names that, and vipd's FILE check does the same.
    dynamic: (k, cs) => {
      if (k.type !== 'FILE') return ctx.leftOut(cs.words[0]!, `vipd's health checks have no "dynamic" (${kw.text}); MISC_CHECK's is misc_dynamic`);
      k.hc['#dynamic'] = cs.words[0];
    },
    weight: (k, cs) => {
      const [kw2, w, rev] = cs.words;
      const n = w && /^-?\d+$/.test(w.text) ? Number(w.text) : undefined;
      if (n === undefined || Math.abs(n) > 65535) return ctx.leftOut(w ?? kw2!, 'valid: weight -65535..65535 [reverse]');
      k.hc.weight = n;
      if (rev?.text === 'reverse') k.hc.reverse = true;
      else if (rev && rev.text !== 'noreverse') ctx.leftOut(rev, 'valid: weight N [reverse]');
    },
  }), c, ctx, (k) => `vipd's health checks have no "${k}" (${kw.text})`);
  checkers.push(c);
}

/** The checker as a vipd health check, the real server's own address and port written as {address} / {port} in a script. */
export function healthCheckOf(vsTiming: CheckTiming, rsTiming: CheckTiming, rs: Obj, c: Checker, ctx: Ctx): Obj {
  // keepalived's FILE_CHECK has none of the timing options: the file's value applies when it changes.
  if (c.type === 'FILE') {
    const { '#dynamic': dynamic, ...hc } = c.hc;
    if (dynamic && hc.weight === 0) ctx.note(dynamic as Word, 'with weight 0 the file\'s value sets the check up (0) or down, not the weight (keepalived\'s rule too)');
    return { type: 'FILE', ...hc };
  }
  const t: CheckTiming = { ...vsTiming, ...rsTiming, ...c.timing };
  const delay = t.delay_loop ?? 60;
  let timeout = t.connect_timeout ?? (c.type === 'SCRIPT' ? delay : 5);
  if (timeout >= delay) {
    const fixed = Math.max(0.01, Math.round(delay * 90) / 100);
    if (t.connect_timeout !== undefined || c.type !== 'SCRIPT') ctx.note(c.kw, `timeout ${timeout} s is not below delay_loop ${delay} s, which vipd requires: timeout ${fixed} s`);
    timeout = fixed;
  }
  const retry = t.retry ?? DEFAULT_RETRY[c.type] ?? 1;
  const hc: Obj = { type: c.type, delay, timeout, max_retries: 1, max_retries_down: retry + 1 };
  if (retry > 0) hc.delay_before_retry = t.delay_before_retry ?? retryDelay(c.type, delay);
  // keepalived's default warmup is delay_loop: vipd's own spread of the first checks over the interval.
  if (t.warmup !== undefined) hc.warmup = t.warmup;
  const { '#sni': sni, script, connect_port, ...rest } = c.hc;
  if (connect_port !== undefined) hc.port = connect_port;
  if (c.type === 'HTTP' || c.type === 'HTTPS') {
    const host = t.virtualhost;
    if (host !== undefined) hc.domain_name = host;
    const urls = c.urls.length ? c.urls : [{}];
    if (urls.length === 1 && urls[0]!.digest === undefined) {
      hc.url_path = urls[0]!.path ?? '/';
      hc.expected_codes = urls[0]!.status_code ?? '200-299';
      if (urls[0]!.virtualhost !== undefined) hc.domain_name = urls[0]!.virtualhost;
    } else hc.urls = urls.map((u) => ({ path: u.path ?? '/', ...(u.status_code !== undefined ? { status_code: u.status_code } : {}), ...(u.digest !== undefined ? { digest: u.digest } : {}), ...(u.virtualhost !== undefined ? { virtualhost: u.virtualhost } : {}) }));
    // keepalived's default request is HTTP/1.0 without Connection: close (vipd's: 1.1 with it).
    hc.http_protocol = '1.0';
    if (sni && hc.domain_name !== undefined) hc.sni = hc.domain_name;
    else if (sni) ctx.note(c.kw, 'enable_sni without a virtualhost: vipd sends no SNI (set sni on the check)');
  }
  Object.assign(hc, rest);
  if (typeof script === 'string') {
    const words = script.trim().split(/\s+/).map((w) => (w === rs.address ? '{address}' : rs.port !== undefined && w === String(rs.port) ? '{port}' : w));
    hc.script = words.join(' ');
  }
  return hc;
}

/**
 * A real server whose port vipd will not carry (a fwmark service; direct routing or a
 * tunnel, whose port is the service's): its ported checks test the port keepalived
 * tested, written as the check's port.
 */
export function keepCheckedPort(checks: Obj[], rsPort: unknown, portLost: boolean): void {
  if (!portLost || rsPort === undefined) return;
  for (const hc of checks) if (hc.port === undefined && PORTED.includes(String(hc.type))) hc.port = rsPort;
}

/** Notes once per virtual server: MISC_CHECK's extra arguments. */
export function scriptNotes(checks: Obj[], kw: Word, ctx: Ctx): void {
  if (checks.some((hc) => typeof hc.script === 'string' && !/\{address\}|\{port\}/.test(hc.script))) ctx.note(kw, 'vipd passes the real server\'s address and port as two more arguments');
}

