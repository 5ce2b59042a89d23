// The tracking keywords: vrrp_script blocks -> vrrp_scripts, and the track_*
// lists of instances and sync groups ("NAME [weight N [reverse|noreverse]]").

import { boolArg, type Ctx, lines, numArg, walk, where } from './context.js';
import type { Stmt, Word } from './syntax.js';

type Obj = Record<string, unknown>;

/** One track_* line: a bare name, or {name, weight, reverse} when it says more. */
export function trackEntry(words: Word[], ctx: Ctx, what: string, maxWeight: number): unknown {
  const [name, ...rest] = words;
  const out: Obj = { name: name!.text };
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w.text === 'weight') {
      const v = rest[i + 1];
      const n = Number(v?.text);
      if (!v || !/^-?\d+$/.test(v.text) || Math.abs(n) > maxWeight) {
        ctx.leftOut(v ?? w, `${what} ${name!.text}: weight needs a whole number -${maxWeight}..${maxWeight}`);
        return undefined;
      }
      out.weight = n;
      i++;
    } else if (w.text === 'reverse' || w.text === 'noreverse') out.reverse = w.text === 'reverse';
    else {
      ctx.leftOut(w, `${what} ${name!.text}: "${w.text}" is not one of weight N, reverse, noreverse`);
      return undefined;
    }
  }
  return Object.keys(out).length === 1 ? out.name : out;
}

/** A track_* block as a list under `key`. */
export const trackList = (key: string, what: string, maxWeight: number) => (o: Obj, s: Stmt, ctx: Ctx): void => {
  const items = lines(s).map((l) => trackEntry(l, ctx, what, maxWeight)).filter((v) => v !== undefined);
  o[key] = [...((o[key] as unknown[]) ?? []), ...items];
};

const VRRP_SCRIPT = {
  script: (o: Obj, s: Stmt, ctx: Ctx) => {
    const [kw, a, ...extra] = s.words;
    if (!a) return ctx.leftOut(kw!, 'has no command');
    // keepalived joins unquoted words into the command line.
    o.script = [a, ...extra].map((w) => w.text).join(' ');
  },
  interval: (o: Obj, s: Stmt, ctx: Ctx) => {
    const v = numArg(s, ctx, 0.001, 86400);
    if (v !== undefined) o.interval = v;
  },
  timeout: (o: Obj, s: Stmt, ctx: Ctx) => {
    const v = numArg(s, ctx, 0.001, 86400);
    if (v !== undefined) o.timeout = v;
  },
  rise: (o: Obj, s: Stmt, ctx: Ctx) => {
    const v = numArg(s, ctx, 1, 1000, true);
    if (v !== undefined) o.rise = v;
  },
  fall: (o: Obj, s: Stmt, ctx: Ctx) => {
    const v = numArg(s, ctx, 1, 1000, true);
    if (v !== undefined) o.fall = v;
  },
  weight: (o: Obj, s: Stmt, ctx: Ctx) => {
    const [kw, v, r, ...extra] = s.words;
    const n = Number(v?.text);
    if (!v || !/^-?\d+$/.test(v.text) || Math.abs(n) > 253) return ctx.leftOut(v ?? kw!, 'weight needs a whole number -253..253');
    o.weight = n;
    if (r && (r.text === 'reverse' || r.text === 'noreverse')) o.reverse = r.text === 'reverse';
    else if (r) ctx.leftOut(r, `"${r.text}" is not reverse or noreverse`);
    if (extra.length) ctx.leftOut(extra[0]!, 'extra word(s) after weight');
  },
  user: (o: Obj, s: Stmt, ctx: Ctx) => {
    const [kw, u, g, ...extra] = s.words;
    if (!u) return ctx.leftOut(kw!, 'has no user');
    o.user = u.text;
    if (g) ctx.leftOut(g, `vipd runs a vrrp_script with ${u.text}'s primary group; a group of its own ("${g.text}") is not supported`);
    if (extra.length) ctx.leftOut(extra[0]!, 'extra word(s) after user USER [GROUP]');
  },
  init_fail: (o: Obj, s: Stmt, ctx: Ctx) => {
    const v = boolArg(s, ctx);
    if (v) o.init_fail = true;
  },
};

/** `vrrp_script NAME { ... }` -> vrrp_scripts.NAME. */
export function vrrpScript(out: { vrrp_scripts: Record<string, Obj> }, s: Stmt, ctx: Ctx): void {
  const name = s.words[1]?.text;
  if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
  const o: Obj = {};
  walk(s.block ?? [], VRRP_SCRIPT, o, ctx, (k) => `vipd has no equivalent for the vrrp_script keyword "${k}"`);
  out.vrrp_scripts[name] = o;
  ctx.comment(['vrrp_scripts', name], ` vrrp_script ${name} from ${where(s.words[0]!.pos)}`);
}
