// What the translation of one keepalived.conf collects: the findings for the
// report (left out: exit 3; notes: translated, with a difference worth knowing),
// the comments to attach to the YAML, and the keyword -> handler walk every
// section uses.

import { at, type Pos, type Stmt, type Word } from './syntax.js';

export interface Finding {
  pos: Pos;
  keyword: string;
  /** left-out: not in the output (exit 3); note: translated, read the difference. */
  kind: 'left-out' | 'note';
  why: string;
}

export type YamlPath = Array<string | number>;

export class Ctx {
  readonly findings: Finding[] = [];
  readonly comments: Array<{ path: YamlPath; text: string }> = [];
  /** global_defs vrrp_version: keepalived's default for every instance (2 unless it says otherwise). */
  vrrpVersion = 2;

  leftOut(w: Word, why: string): void {
    this.findings.push({ pos: w.pos, keyword: w.text, kind: 'left-out', why });
  }

  note(w: Word, why: string): void {
    this.findings.push({ pos: w.pos, keyword: w.text, kind: 'note', why });
  }

  comment(path: YamlPath, text: string): void {
    this.comments.push({ path, text });
  }
}

export type Handler<T> = (target: T, s: Stmt, ctx: Ctx) => void;
export type Table<T> = Record<string, Handler<T>>;

/** Each statement to its keyword's handler; a keyword with none is reported, with `why(keyword)`. */
export function walk<T>(stmts: readonly Stmt[], table: Table<T>, target: T, ctx: Ctx, why: (keyword: string) => string): void {
  for (const s of stmts) {
    const kw = s.words[0];
    if (!kw) continue;
    const h = Object.hasOwn(table, kw.text) ? table[kw.text] : undefined;
    if (h) h(target, s, ctx);
    else ctx.leftOut(kw, why(kw.text));
  }
}

export const where = (p: Pos): string => `${p.file}:${p.line}`;
export const findingLine = (f: Finding): string => `${at(f.pos)}: ${f.keyword}: ${f.kind === 'left-out' ? 'not translated' : 'note'}: ${f.why}`;

/** The words after the keyword. */
export const args = (s: Stmt): Word[] => s.words.slice(1);

/** The one argument a keyword takes; reports a missing one, and extra words. */
export function arg(s: Stmt, ctx: Ctx): Word | undefined {
  const [kw, a, ...extra] = s.words;
  if (!a) {
    ctx.leftOut(kw!, 'has no value');
    return undefined;
  }
  if (extra.length) ctx.leftOut(extra[0]!, `extra word(s) after ${kw!.text} ${a.text}: vipd takes one value`);
  return a;
}

/** A number argument in [min, max]; reports anything else. */
export function numArg(s: Stmt, ctx: Ctx, min: number, max: number, integer = false): number | undefined {
  const a = arg(s, ctx);
  if (!a) return undefined;
  const n = Number(a.text);
  if (a.text === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    ctx.leftOut(a, `${s.words[0]!.text} "${a.text}" is not ${integer ? 'a whole number' : 'a number'} ${min}..${max}`);
    return undefined;
  }
  return n;
}

/** A handler copying a number argument in [min, max] to `to` (default the keyword's own name). */
export const copyNum = (key: string, min: number, max: number, integer = false, to = key): Handler<Record<string, unknown>> => (o, s, ctx) => {
  const v = numArg(s, ctx, min, max, integer);
  if (v !== undefined) o[to] = v;
};

/** keepalived's <BOOL>: on|off|true|false|yes|no, a bare keyword meaning true. */
export function boolArg(s: Stmt, ctx: Ctx): boolean | undefined {
  const a = s.words[1];
  if (!a) return true;
  const v = a.text.toLowerCase();
  if (['on', 'true', 'yes'].includes(v)) return true;
  if (['off', 'false', 'no'].includes(v)) return false;
  ctx.leftOut(a, `"${a.text}" is not a keepalived <BOOL> (on|off|true|false|yes|no)`);
  return undefined;
}

/** A script keyword (notify*, quorum_*): vipd runs an absolute path, as root, with its own arguments. */
export function scriptArg(s: Stmt, ctx: Ctx): string | undefined {
  const [kw, a, ...extra] = s.words;
  if (!a) {
    ctx.leftOut(kw!, 'has no script');
    return undefined;
  }
  if (extra.length) {
    ctx.leftOut(extra[0]!, `${kw!.text}: vipd runs every script as root; it has no per-script user/group ("${extra.map((w) => w.text).join(' ')}")`);
    return undefined;
  }
  if (/\s/.test(a.text.trim())) {
    ctx.leftOut(a, `${kw!.text}: vipd runs a script path without arguments of its own ("${a.text}"); wrap it in a script`);
    return undefined;
  }
  if (!a.text.startsWith('/')) {
    ctx.leftOut(a, `${kw!.text}: "${a.text}" is not an absolute path (vipd needs one)`);
    return undefined;
  }
  return a.text;
}

/** Statements of a block as lists of words (virtual_ipaddress, unicast_peer, group ...). */
export const lines = (s: Stmt): Word[][] => (s.block ?? []).map((l) => l.words);
