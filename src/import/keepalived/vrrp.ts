// global_defs, vrrp_instance and vrrp_sync_group -> vipd's global,
// vrrp_instances and vrrp_sync_groups. One entry per keepalived keyword.

import { isIP } from 'node:net';
import { arg, args, boolArg, copyNum, type Ctx, lines, numArg, type Table, walk, where } from './context.js';
import { type LineResult, parseRouteLine, parseRuleLine } from '../../config/routes.js';
import type { Stmt, Word } from './syntax.js';
import { trackList } from './track.js';

export type Obj = Record<string, unknown>;

export interface Out {
  global: Obj;
  vrrp_scripts: Record<string, Obj>;
  vrrp_track_files: Record<string, Obj>;
  vrrp_track_processes: Record<string, Obj>;
  vrrp_instances: Record<string, Obj>;
  vrrp_sync_groups: Record<string, Obj>;
  virtual_server_groups: Record<string, string[]>;
  virtual_servers: Record<string, Obj>;
  ipvs: Obj;
}

const GARP = ['garp_master_delay', 'garp_master_repeat', 'garp_interval', 'garp_master_refresh', 'garp_master_refresh_repeat', 'garp_lower_prio_delay', 'garp_lower_prio_repeat', 'gna_interval'];

/** notify_fifo FIFO [USER [GROUP]]: vipd creates a missing FIFO owned by root, mode 0600. */
function fifo(key: string): Table<Out>[string] {
  return (o, s, ctx) => {
    const [kw, path, ...owner] = s.words;
    if (!path) return ctx.leftOut(kw!, 'has no FIFO path');
    o.global[key] = path.text;
    if (owner.length) ctx.note(owner[0]!, `vipd creates a missing FIFO as root with mode 0600; the owner "${owner.map((w) => w.text).join(' ')}" is not applied (create the FIFO beforehand to choose its owner)`);
  };
}

export const GLOBAL_DEFS: Table<Out> = {
  router_id: (o, s, ctx) => {
    const a = arg(s, ctx);
    if (a) o.global.router_id = a.text;
  },
  enable_script_security: (o, s, ctx) => {
    o.global.enable_script_security = boolArg(s, ctx) ?? true;
  },
  vrrp_version: (_o, s, ctx) => {
    const v = numArg(s, ctx, 2, 3, true);
    if (v !== undefined) ctx.vrrpVersion = v;
  },
  script_user: (o, s, ctx) => {
    const [kw, u, g, ...extra] = s.words;
    if (!u) return ctx.leftOut(kw!, 'has no user');
    if (extra.length) ctx.leftOut(extra[0]!, 'extra word(s) after script_user USER [GROUP]');
    o.global.script_user = g ? `${u.text} ${g.text}` : u.text;
  },
  notify_fifo: fifo('notify_fifo'),
  vrrp_notify_fifo: fifo('vrrp_notify_fifo'),
  vrrp_check_unicast_src: (o, s, ctx) => {
    const v = boolArg(s, ctx);
    if (v !== undefined) o.global.vrrp_check_unicast_src = v;
  },
  lvs_sync_daemon: (o, s, ctx) => {
    const [kw, iface, inst, id, ...rest] = s.words;
    if (!iface || !inst) return ctx.leftOut(kw!, 'needs an interface and a VRRP instance');
    const syncId = id && /^\d+$/.test(id.text) ? Number(id.text) : undefined;
    if (id && syncId === undefined) rest.unshift(id);
    if (rest.length) ctx.leftOut(rest[0]!, 'vipd\'s sync_daemon has interface, sync_id and instance only (no maxlen, port, ttl, group)');
    o.ipvs.sync_daemon = { interface: iface.text, ...(syncId !== undefined ? { sync_id: syncId } : {}), instance: inst.text };
  },
  lvs_timeouts: (o, s, ctx) => {
    const t: Obj = {};
    const names: Record<string, string> = { tcp: 'tcp', tcpfin: 'tcp_fin', udp: 'udp' };
    const a = args(s);
    for (let i = 0; i < a.length; i += 2) {
      const k = names[a[i]!.text];
      const v = Number(a[i + 1]?.text);
      if (!k || !Number.isInteger(v)) ctx.leftOut(a[i]!, 'valid: tcp N tcpfin N udp N');
      else t[k] = v;
    }
    o.ipvs.timeouts = t;
  },
  // vipd has keepalived's global GARP defaults under the same names.
  ...Object.fromEntries(GARP.map((k) => [`vrrp_${k}`, ((o, s, ctx) => {
    const v = numArg(s, ctx, 0, 86400);
    if (v !== undefined) o.global[`vrrp_${k}`] = v;
  }) as Table<Out>[string]])),
  vrrp_min_garp: (o, s, ctx) => {
    const v = boolArg(s, ctx);
    if (v !== undefined) o.global.vrrp_min_garp = v;
  },
};

function vip(words: Stmt['words'], ctx: Ctx): unknown {
  const [addr, ...opts] = words;
  const [ip, len] = addr!.text.split('/');
  if (!isIP(ip ?? '')) {
    ctx.leftOut(addr!, `"${addr!.text}" is not an address`);
    return undefined;
  }
  const out: Obj = { address: len === undefined ? ip : addr!.text };
  // keepalived's words -> vipd's keys: those taking a value, and the flags.
  const valued: Record<string, string> = { dev: 'device', label: 'label', brd: 'brd', broadcast: 'brd', scope: 'scope', peer: 'peer', preferred_lft: 'preferred_lft' };
  const flags: Record<string, [string, boolean]> = { no_track: ['no_track', true], home: ['home', true], mngtmpaddr: ['mngtmpaddr', true], noprefixroute: ['noprefixroute', true], '-nodad': ['nodad', false] };
  for (let i = 0; i < opts.length; i++) {
    const w = opts[i]!;
    const key = valued[w.text];
    if (key && opts[i + 1]) {
      const v = opts[++i]!.text;
      out[key] = key === 'scope' && /^\d+$/.test(v) ? Number(v) : key === 'preferred_lft' && /^\d+$/.test(v) ? Number(v) : v;
    } else if (flags[w.text]) out[flags[w.text]![0]] = flags[w.text]![1];
    else {
      ctx.leftOut(w, `virtual_ipaddress option "${w.text}" is not supported by vipd (${w.text === 'autojoin' ? 'a multicast address cannot be a VIP' : 'valid: dev, label, no_track, brd, scope, peer, home, -nodad, mngtmpaddr, noprefixroute, preferred_lft'})`);
      if (w.text === 'metric') i++;
    }
  }
  return Object.keys(out).length === 1 ? out.address : out;
}

/** A virtual_routes / virtual_rules line as vipd's own parser reads it; a line it refuses is reported at the word it names. */
function ipLine(words: Word[], ctx: Ctx, parse: (line: string) => LineResult<unknown>, key: string): string | undefined {
  const line = words.map((w) => w.text).join(' ');
  const r = parse(line);
  if (r.ok) return line;
  let off = 0;
  const at = words.find((w) => (off += w.text.length + 1) > r.offset) ?? words[0]!;
  ctx.leftOut(at, `${key}: ${r.why}`);
  return undefined;
}

function srcIp(o: Obj, s: Stmt, ctx: Ctx): void {
  const a = arg(s, ctx);
  if (a && isIP(a.text)) o.unicast_src_ip = a.text;
  else if (a) ctx.leftOut(a, `"${a.text}" is not an address`);
}

const list = (key: string, one: (words: Stmt['words'], ctx: Ctx) => unknown): Table<Obj>[string] => (o, s, ctx) => {
  const items = lines(s).map((l) => one(l, ctx)).filter((v) => v !== undefined);
  o[key] = [...((o[key] as unknown[]) ?? []), ...items];
};

/** notify* COMMAND-LINE [USER [GROUP]]: the command line as vipd reads it (keepalived's quoting), with its user. */
const script = (key: string): Table<Obj>[string] => (o, s, ctx) => {
  const [kw, cmd, user, group, ...extra] = s.words;
  if (!cmd) return ctx.leftOut(kw!, 'has no script');
  if (extra.length) ctx.leftOut(extra[0]!, `extra word(s) after ${kw!.text} COMMAND [USER [GROUP]]`);
  o[key] = user ? { command: cmd.text, user: user.text, ...(group ? { group: group.text } : {}) } : cmd.text;
};

const NOTIFY: Table<Obj> = Object.fromEntries(['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify'].map((k) => [k, script(k)]));

export const VRRP_INSTANCE: Table<Obj> = {
  state: (o, s, ctx) => {
    ctx.note(s.words[0]!, `state ${s.words[1]?.text ?? ''}: vipd has no start state, the priority decides (255 = address owner)`);
    o['#state'] = s.words[1]?.text ?? '';
  },
  interface: (o, s, ctx) => {
    const a = arg(s, ctx);
    if (a) o.interface = a.text;
  },
  virtual_router_id: copyNum('virtual_router_id', 1, 255, true, 'vrid'),
  priority: copyNum('priority', 1, 255, true),
  advert_int: (o, s, ctx) => {
    copyNum('advert_int', 0.01, 255)(o, s, ctx);
    o['#advert_int'] = s.words[1];
  },
  version: (o, st, ctx) => {
    copyNum('version', 2, 3, true)(o, st, ctx);
    o['#version'] = st.words[0];
  },
  virtual_ipaddress: list('virtual_ipaddress', vip),
  virtual_ipaddress_excluded: list('virtual_ipaddress_excluded', vip),
  unicast_src_ip: srcIp,
  mcast_src_ip: srcIp, // keepalived: one setting, the advert's source
  unicast_peer: list('unicast_peer', (words, ctx) => {
    const [ip, ...rest] = words;
    if (rest.length) ctx.leftOut(rest[0]!, 'unicast_peer options (min_ttl, max_ttl) are not supported by vipd');
    if (!isIP(ip!.text)) {
      ctx.leftOut(ip!, `"${ip!.text}" is not an address`);
      return undefined;
    }
    return ip!.text;
  }),
  authentication: (o, s, ctx) => {
    const a: Obj = {};
    for (const l of s.block ?? []) {
      const [kw, v] = l.words;
      if (kw!.text === 'auth_type' && v?.text === 'PASS') a.auth_type = 'PASS';
      else if (kw!.text === 'auth_type') ctx.leftOut(v ?? kw!, 'vipd has PASS authentication only (not AH)');
      else if (kw!.text === 'auth_pass' && v) a.auth_pass = v.text.slice(0, 8);
      else ctx.leftOut(kw!, 'valid in authentication: auth_type PASS, auth_pass');
      if (kw!.text === 'auth_pass' && v && v.text.length > 8) ctx.note(v, 'keepalived uses the first 8 characters; so does vipd, written out');
    }
    if (a.auth_type && a.auth_pass) {
      o.authentication = a;
      o['#authentication'] = s.words[0];
    }
  },
  nopreempt: (o) => {
    o.preempt = false;
  },
  preempt: (o, s, ctx) => {
    o.preempt = boolArg(s, ctx) ?? true;
  },
  preempt_delay: copyNum('preempt_delay', 0, 1000),
  lower_prio_no_advert: (o, s, ctx) => {
    const v = boolArg(s, ctx);
    if (v !== undefined) o.answer_lower_priority = !v;
  },
  unicast_ttl: copyNum('unicast_ttl', 0, 255, true),
  check_unicast_src: (o, s, ctx) => {
    const v = boolArg(s, ctx);
    if (v !== undefined) o.check_unicast_src = v;
  },
  track_interface: trackList('track_interface', 'track_interface', 253),
  track_script: trackList('track_script', 'track_script', 253),
  track_file: trackList('track_file', 'track_file', 254),
  track_process: trackList('track_process', 'track_process', 254),
  accept: (o, s, ctx) => {
    if (boolArg(s, ctx) !== undefined) o.accept = true;
  },
  no_accept: (o, s, ctx) => {
    if (boolArg(s, ctx) !== undefined) o.no_accept = true;
  },
  ...NOTIFY,
  ...Object.fromEntries(GARP.map((k) => [k, copyNum(k, 0, 86400)])),
  virtual_routes: list('virtual_routes', (words, ctx) => ipLine(words, ctx, parseRouteLine, 'virtual_routes')),
  virtual_rules: list('virtual_rules', (words, ctx) => ipLine(words, ctx, parseRuleLine, 'virtual_rules')),
};

const WHY_INSTANCE: Record<string, string> = {
  track_bfd: 'vipd has no BFD',
  use_vmac: 'vipd has no VMAC interfaces',
  vmac_xmit_base: 'vipd has no VMAC interfaces',
  notify_fifo: 'vipd has one global notify_fifo and vrrp_notify_fifo (no per-instance FIFO)',
  smtp_alert: 'vipd sends no mail',
  strict_mode: 'vipd has no strict mode switch',
  dont_track_primary: 'vipd always tracks the VRRP interface',
};

export function vrrpInstance(out: Out, s: Stmt, ctx: Ctx): void {
  const name = s.words[1]?.text;
  if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
  const o: Obj = {};
  walk(s.block ?? [], VRRP_INSTANCE, o, ctx, (k) => WHY_INSTANCE[k] ?? `vipd has no equivalent for the vrrp_instance keyword "${k}"`);
  const state = o['#state'];
  delete o['#state'];
  const explicit = 'version' in o;
  if (!explicit) o.version = ctx.vrrpVersion;
  // keepalived: an IPv6 instance (its first virtual_ipaddress) speaks VRRPv3 whatever version or vrrp_version say.
  const first = Array.isArray(o.virtual_ipaddress) ? String(o.virtual_ipaddress[0] ?? '') : '';
  const v6 = /^[0-9a-f]*:[0-9a-f:.]*(\/\d+)?(\s|$)/i.test(first);
  if (v6 && o.version === 2) {
    o.version = 3;
    if (explicit) ctx.note(o['#version'] as Word, 'an IPv6 instance speaks VRRPv3 (keepalived uses 3 for IPv6 whatever version says)');
  }
  delete o['#version'];
  versionRules(o, ctx);
  out.vrrp_instances[name] = o;
  ctx.comment(['vrrp_instances', name], ` vrrp_instance ${name} from ${where(s.words[0]!.pos)}${state ? ` (state ${state}: no vipd equivalent, the priority decides)` : ''}`);
  if (!explicit) ctx.comment(['vrrp_instances', name, 'version'], v6 ? ' keepalived\'s for an IPv6 instance' : ` keepalived's ${ctx.vrrpVersion === 2 ? 'default' : 'global_defs vrrp_version'} (vipd's default is 3)`);
}

/** What VRRPv2 and v3 allow, as vipd checks it: authentication is v2's, v2 counts whole seconds. */
function versionRules(o: Obj, ctx: Ctx): void {
  const auth = o['#authentication'] as Word | undefined;
  const advert = o['#advert_int'] as Word | undefined;
  delete o['#authentication'];
  delete o['#advert_int'];
  if (auth && o.version === 3) {
    ctx.leftOut(auth, 'authentication is VRRPv2 only (RFC 5798 removed it) and this instance speaks VRRPv3');
    delete o.authentication;
  }
  if (advert && o.version === 2 && typeof o.advert_int === 'number' && !Number.isInteger(o.advert_int)) {
    ctx.leftOut(advert, `advert_int ${o.advert_int}: VRRPv2 counts whole seconds (use version 3 for sub-second adverts)`);
    delete o.advert_int;
  }
}

export function vrrpSyncGroup(out: Out, s: Stmt, ctx: Ctx): void {
  const name = s.words[1]?.text;
  if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
  const o: Obj = {};
  walk(s.block ?? [], {
    group: (g, gs) => {
      g.group = lines(gs).flat().map((w) => w.text);
    },
    ...NOTIFY,
    track_script: trackList('track_script', 'track_script', 253),
    track_file: trackList('track_file', 'track_file', 254),
    track_process: trackList('track_process', 'track_process', 254),
  }, o, ctx, (k) => WHY_INSTANCE[k] ?? `vipd has no equivalent for the vrrp_sync_group keyword "${k}"`);
  out.vrrp_sync_groups[name] = o;
  ctx.comment(['vrrp_sync_groups', name], ` vrrp_sync_group ${name} from ${where(s.words[0]!.pos)}`);
}
