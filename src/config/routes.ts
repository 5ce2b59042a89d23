// keepalived's virtual_routes and virtual_rules lines, in ip-route / ip-rule
// words (keepalived.conf(5)): "192.168.110.0/24 via 192.168.200.254 dev eth1",
// "from 192.168.2.0/24 table 1 priority 100". Pure: a line to a spec, or what is
// wrong at which word.

import { isIPv4, isIPv6 } from 'node:net';
import { type Prefix, ROUTE_TYPES, type RouteSpec, RULE_ACTIONS, type RuleSpec, SCOPES, specFamily, TABLES } from '../net/rtroute.js';

export type LineResult<T> = { ok: true; spec: T; noTrack: boolean } | { ok: false; why: string; offset: number };

interface Word {
  text: string;
  offset: number;
}

function words(line: string): Word[] {
  const out: Word[] = [];
  for (const m of line.matchAll(/\S+/g)) out.push({ text: m[0], offset: m.index });
  return out;
}

const fail = (w: Word | undefined, why: string, end: number) => ({ ok: false as const, why, offset: w?.offset ?? end });

function prefix(text: string): Prefix | string {
  const [address, len, extra] = text.split('/');
  if (!address || extra !== undefined || !(isIPv4(address) || isIPv6(address))) return `"${text}" is not an address or prefix like 192.0.2.0/24`;
  const max = isIPv4(address) ? 32 : 128;
  const p = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(p >= 0 && p <= max)) return `prefix length "/${len}" is out of range 0..${max}`;
  return { address, prefix: p };
}

function u32(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

function table(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return TABLES[text] ?? u32(text);
}

const ROUTE_WORDS = 'to, via|gw, dev, src, table, metric|priority|preference, scope, no_track, or a type first (blackhole, unreachable, prohibit, throw)';

/** A virtual_routes line: [type] [to] PREFIX [via|gw ADDR] [dev IF] [src ADDR] [table N] [metric N] [scope S] [no_track]. */
export function parseRouteLine(line: string): LineResult<RouteSpec> {
  const ws = words(line);
  let i = 0;
  let type: RouteSpec['type'] = 'unicast';
  const first = ws[0]?.text;
  if (first !== undefined && first in ROUTE_TYPES && first !== 'unicast') {
    type = first as RouteSpec['type'];
    i++;
  }
  let to: Prefix | undefined;
  const r: Omit<RouteSpec, 'family' | 'type' | 'to' | 'table'> & { table?: number } = {};
  let noTrack = false;
  while (i < ws.length) {
    const w = ws[i]!;
    const arg = ws[i + 1];
    const needs = (what: string) => fail(arg ?? w, `"${w.text}" needs ${what}`, line.length);
    switch (w.text) {
      case 'no_track':
        noTrack = true;
        i++;
        continue;
      case 'or':
        return fail(w, 'multipath routes ("or") are not supported; valid: one gateway per route', line.length);
      case 'to':
      case 'via':
      case 'gw':
      case 'src': {
        if (!arg) return needs(w.text === 'to' ? 'a prefix' : 'an address');
        if (w.text === 'to') {
          const p = prefix(arg.text);
          if (typeof p === 'string') return fail(arg, p, line.length);
          to = p;
        } else {
          if (!isIPv4(arg.text) && !isIPv6(arg.text)) return fail(arg, `"${arg.text}" is not an IP address`, line.length);
          if (w.text === 'src') r.src = arg.text;
          else r.via = arg.text;
        }
        break;
      }
      case 'dev':
        if (!arg) return needs('an interface name');
        r.dev = arg.text;
        break;
      case 'table': {
        const t = table(arg?.text);
        if (t === undefined || t === 0) return fail(arg ?? w, `"${arg?.text ?? ''}" is not a table; valid: 1..4294967295, main, local or default`, line.length);
        r.table = t;
        break;
      }
      case 'metric':
      case 'priority':
      case 'preference': {
        const m = u32(arg?.text);
        if (m === undefined) return needs('a number 0..4294967295');
        r.metric = m;
        break;
      }
      case 'scope': {
        if (!arg || !(arg.text in SCOPES)) return fail(arg ?? w, `"${arg?.text ?? ''}" is not a scope; valid: ${Object.keys(SCOPES).join(' | ')}`, line.length);
        r.scope = arg.text as RouteSpec['scope'];
        break;
      }
      default: {
        if (to === undefined) {
          const p = prefix(w.text);
          if (typeof p === 'string') return fail(w, `${p}; valid words: ${ROUTE_WORDS}`, line.length);
          to = p;
          i++;
          continue;
        }
        return fail(w, `unknown word "${w.text}"; valid: ${ROUTE_WORDS}`, line.length);
      }
    }
    i += 2;
  }
  if (to === undefined) return fail(undefined, 'no destination; valid: e.g. "192.0.2.0/24 via 10.0.0.1 dev eth1"', 0);
  const family = specFamily([to.address]);
  for (const a of [r.via, r.src]) if (a !== undefined && specFamily([a]) !== family) return fail(undefined, `${a} is not of the destination's family (${to.address})`, 0);
  if (type !== 'unicast' && (r.via !== undefined || r.dev !== undefined)) return fail(undefined, `a ${type} route has no gateway or device`, 0);
  if (type === 'unicast' && r.via === undefined && r.dev === undefined) return fail(undefined, 'a route needs "via ADDRESS" or "dev INTERFACE" (or a type: blackhole, unreachable, prohibit, throw)', 0);
  return { ok: true, spec: { family, type, to, table: r.table ?? TABLES.main!, ...r }, noTrack };
}

const RULE_WORDS = 'from, to, table|lookup, priority|preference|pref|order, fwmark N[/MASK], iif|dev, oif, blackhole | unreachable | prohibit, no_track';

/** A virtual_rules line: [from PREFIX|all] [to PREFIX] [fwmark N[/M]] [iif IF] [oif IF] (table N | blackhole | unreachable | prohibit) [priority N] [no_track]. */
export function parseRuleLine(line: string): LineResult<RuleSpec> {
  const ws = words(line);
  const r: Partial<RuleSpec> = {};
  let noTrack = false;
  let i = 0;
  while (i < ws.length) {
    const w = ws[i]!;
    const arg = ws[i + 1];
    if (w.text === 'no_track') {
      noTrack = true;
      i++;
      continue;
    }
    if (w.text in RULE_ACTIONS && w.text !== 'table') {
      r.action = w.text as RuleSpec['action'];
      i++;
      continue;
    }
    switch (w.text) {
      case 'from':
      case 'to': {
        if (!arg) return fail(w, `"${w.text}" needs a prefix`, line.length);
        if (arg.text !== 'all') {
          const p = prefix(arg.text);
          if (typeof p === 'string') return fail(arg, p, line.length);
          r[w.text] = p;
        }
        break;
      }
      case 'table':
      case 'lookup': {
        const t = table(arg?.text);
        if (t === undefined || t === 0) return fail(arg ?? w, `"${arg?.text ?? ''}" is not a table; valid: 1..4294967295, main, local or default`, line.length);
        r.table = t;
        r.action = 'table';
        break;
      }
      case 'priority':
      case 'preference':
      case 'pref':
      case 'order': {
        const p = u32(arg?.text);
        if (p === undefined) return fail(arg ?? w, `"${w.text}" needs a number 0..4294967295`, line.length);
        r.priority = p;
        break;
      }
      case 'fwmark': {
        const [mark, mask] = (arg?.text ?? '').split('/');
        const m = u32(mark);
        const k = mask === undefined ? undefined : u32(mask);
        if (m === undefined || (mask !== undefined && k === undefined)) return fail(arg ?? w, '"fwmark" needs a number, optionally /MASK', line.length);
        r.fwmark = m;
        if (k !== undefined) r.fwmask = k;
        break;
      }
      case 'iif':
      case 'dev':
      case 'oif':
        if (!arg) return fail(w, `"${w.text}" needs an interface name`, line.length);
        if (w.text === 'oif') r.oif = arg.text;
        else r.iif = arg.text;
        break;
      default:
        return fail(w, `unknown word "${w.text}"; valid: ${RULE_WORDS}`, line.length);
    }
    i += 2;
  }
  if (r.action === undefined) return fail(undefined, 'no action; valid: "table N" (or lookup N), blackhole, unreachable or prohibit', 0);
  const family = specFamily([r.from?.address, r.to?.address]);
  if (r.from && r.to && specFamily([r.from.address]) !== specFamily([r.to.address])) return fail(undefined, 'from and to are of different families', 0);
  return { ok: true, spec: { family, action: r.action, table: r.table ?? 0, ...r } as RuleSpec, noTrack };
}
