// The tracking keywords: vrrp_script blocks -> vrrp_scripts, and the track_*
// lists of instances and sync groups ("NAME [weight N [reverse|noreverse]]").

import { boolArg, copyNum, type Ctx, lines, walk, where } from './context.js';
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
  interval: copyNum('interval', 0.001, 86400),
  timeout: copyNum('timeout', 0.001, 86400),
  rise: copyNum('rise', 1, 1000, true),
  fall: copyNum('fall', 1, 1000, true),
  weight: (o: Obj, s: Stmt, ctx: Ctx) => {
    const extra = s.words[3];
    if (weightLine(o, s, ctx, 253) && extra) ctx.leftOut(extra, 'extra word(s) after weight');
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

type Section = { vrrp_track_files: Record<string, Obj>; vrrp_track_processes: Record<string, Obj> };

/** weight N [reverse|noreverse] of a tracker block; false when N is not a weight (reported). */
function weightLine(o: Obj, s: Stmt, ctx: Ctx, max: number): boolean {
  const [kw, v, r] = s.words;
  const n = Number(v?.text);
  if (!v || !/^-?\d+$/.test(v.text) || Math.abs(n) > max) {
    ctx.leftOut(v ?? kw!, `weight needs a whole number -${max}..${max}`);
    return false;
  }
  o.weight = n;
  if (r && (r.text === 'reverse' || r.text === 'noreverse')) o.reverse = r.text === 'reverse';
  else if (r) ctx.leftOut(r, `"${r.text}" is not reverse or noreverse`);
  return true;
}

const TRACK_FILE = {
  file: (o: Obj, s: Stmt, ctx: Ctx) => {
    const [kw, f] = s.words;
    if (!f) return ctx.leftOut(kw!, 'has no file');
    o.file = f.text;
  },
  weight: (o: Obj, s: Stmt, ctx: Ctx) => weightLine(o, s, ctx, 254),
  init_file: (o: Obj, s: Stmt, ctx: Ctx) => {
    const rest = s.words.slice(1);
    const overwrite = rest.some((w) => w.text === 'overwrite');
    const value = rest.find((w) => w.text !== 'overwrite');
    if (value && !/^-?\d+$/.test(value.text)) return ctx.leftOut(value, `"${value.text}" is not a whole number`);
    const n = value ? Number(value.text) : 0;
    o.init_file = overwrite ? { value: n, overwrite: true } : value ? n : true;
  },
};

const TRACK_PROCESS = {
  process: (o: Obj, s: Stmt, ctx: Ctx) => {
    const argv = s.words.slice(1).map((w) => w.text);
    if (argv.length === 0) return ctx.leftOut(s.words[0]!, 'has no process');
    o.process = argv.length === 1 ? argv[0] : argv;
  },
  param_match: (o: Obj, s: Stmt, ctx: Ctx) => {
    const a = s.words[1];
    if (a && a.text !== 'initial' && a.text !== 'partial') return ctx.leftOut(a, 'valid: initial | partial');
    o.param_match = a?.text ?? 'exact';
  },
  weight: (o: Obj, s: Stmt, ctx: Ctx) => weightLine(o, s, ctx, 254),
  quorum: copyNum('quorum', 1, 65535, true),
  quorum_max: copyNum('quorum_max', 0, 65535, true),
  delay: copyNum('delay', 0.000001, 3600),
  fork_delay: copyNum('fork_delay', 0.000001, 3600),
  terminate_delay: copyNum('terminate_delay', 0.000001, 3600),
  full_command: (o: Obj, s: Stmt, ctx: Ctx) => {
    if (boolArg(s, ctx)) o.full_command = true;
  },
};

/** `track_file NAME { ... }` (or vrrp_track_file) -> vrrp_track_files.NAME. */
export function trackFile(out: Section, s: Stmt, ctx: Ctx): void {
  const name = s.words[1]?.text;
  if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
  const o: Obj = {};
  walk(s.block ?? [], TRACK_FILE, o, ctx, (k) => `vipd has no equivalent for the track_file keyword "${k}"`);
  out.vrrp_track_files[name] = o;
  ctx.comment(['vrrp_track_files', name], ` ${s.words[0]!.text} ${name} from ${where(s.words[0]!.pos)}`);
}

/** `vrrp_track_process NAME { ... }` -> vrrp_track_processes.NAME. */
export function trackProcess(out: Section, s: Stmt, ctx: Ctx): void {
  const name = s.words[1]?.text;
  if (!name) return ctx.leftOut(s.words[0]!, 'has no name');
  const o: Obj = {};
  walk(s.block ?? [], TRACK_PROCESS, o, ctx, (k) => `vipd has no equivalent for the vrrp_track_process keyword "${k}"`);
  out.vrrp_track_processes[name] = o;
  ctx.comment(['vrrp_track_processes', name], ` vrrp_track_process ${name} from ${where(s.words[0]!.pos)}`);
}
