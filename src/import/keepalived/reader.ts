// keepalived.conf as keepalived reads it, into statements with positions (a
// pure reader: nothing is run, only the files named by include are read).
//
// Line by line, in keepalived's order (keepalived.conf(5)): comments (# and !,
// outside quotes) go; an include line splices its files in (relative to the
// including file's directory, globs and braces, the include_check variants);
// a multi-line $NAME= definition gathers its "\" lines; @id / @^id keep or drop
// the line against the config id; ~SEQ / ~SEQx / ~LST repeat the rest of the
// line; $NAME=value defines; $NAME / ${NAME} are replaced (recursively, at use
// time); then the line is split into words (quotes joined, escapes decoded)
// with "{" and "}" as words of their own. The words then nest into statements.
//
// A word keeps the file:line:col it was written at; a word that came out of a
// substitution has the position of the line it came from.

import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { expandBraces, globPaths, hasWildcard } from './glob.js';
import { KeepalivedSyntaxError, type Pos, type Stmt, type Word } from './syntax.js';

export interface ReadOptions {
  /** keepalived's -i / --config-id; default: the first part of the host name, as keepalived. */
  configId?: string;
}

/** Something the reader let pass as keepalived does, worth telling (a plain include that matched nothing). */
export interface ReadNote {
  pos: Pos;
  message: string;
}

export interface ReadResult {
  stmts: Stmt[];
  notes: ReadNote[];
  /** Every file read, the main one first. */
  files: string[];
}

type Token = { kind: 'word'; word: Word } | { kind: '{' | '}' | 'nl'; pos: Pos };

const DEFINITION = /^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;
const INCLUDE = /^(include[rmwba]?)\s+(\S.*)$/;
const MAX_DEPTH = 64;

export const defaultConfigId = (): string => hostname().split('.')[0] ?? '';

/** Removes a # or ! comment (outside quotes) and surrounding blanks. */
export function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' || c === '!') return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Decodes the escape at text[i] (just after the backslash): [decoded, characters consumed]. */
function unescape(text: string, i: number): [string, number] {
  const c = text[i] ?? '';
  if (c in ESCAPES) return [ESCAPES[c]!, 1];
  if (/[0-7]/.test(c)) {
    const m = /^[0-7]{1,3}/.exec(text.slice(i))![0];
    return [String.fromCharCode(parseInt(m, 8) & 0xff), m.length];
  }
  if (c === 'x') {
    const m = /^[0-9a-fA-F]+/.exec(text.slice(i + 1))?.[0];
    return m ? [String.fromCharCode(parseInt(m.slice(-2), 16)), 1 + m.length] : ['x', 1];
  }
  if (c === 'c' && i + 1 < text.length) return [String.fromCharCode(text.charCodeAt(i + 1) & 0x1f), 2];
  return [c, 1];
}

/**
 * A line's words: whitespace separates, " and ' quote (the quotes go, the blanks
 * inside stay, adjacent parts join), escapes decode inside quotes; "{" and "}"
 * outside quotes are words of their own (but not in an unreplaced ${NAME}).
 * `at(i)` gives the position of the character at index i.
 */
export function splitWords(text: string, at: (i: number) => Pos): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '{' || c === '}') {
      out.push({ kind: c, pos: at(i) });
      i++;
      continue;
    }
    const start = i;
    let word = '';
    while (i < text.length) {
      const ch = text[i]!;
      if (/\s/.test(ch) || ch === '{' || ch === '}') break;
      if (ch === '$' && text[i + 1] === '{') {
        const end = text.indexOf('}', i);
        const stop = end < 0 ? text.length : end + 1;
        word += text.slice(i, stop);
        i = stop;
        continue;
      }
      if (ch === '"' || ch === "'") {
        const open = i++;
        let closed = false;
        while (i < text.length) {
          const q = text[i]!;
          if (q === '\\') {
            const [s, n] = unescape(text, i + 1);
            word += s;
            i += 1 + n;
          } else if (q === ch) {
            closed = true;
            i++;
            break;
          } else {
            word += q;
            i++;
          }
        }
        if (!closed) throw new KeepalivedSyntaxError(at(open), `unterminated quoted string (no closing ${ch})`);
        continue;
      }
      word += ch;
      i++;
    }
    out.push({ kind: 'word', word: { text: word, pos: at(start) } });
  }
  return out;
}

/** Splits "a, {b, c}, d" at the top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    if (c === '{' || c === '(') depth++;
    if (c === '}' || c === ')') depth--;
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** `~SEQ(...)`, `~SEQx(...)` or `~LST(...)` at the start of a line: the assignments to repeat the rest with, and the rest. */
function parseRepeat(line: string, pos: Pos): { runs: Array<Array<[string, string]>>; rest: string } {
  const m = /^~(SEQx?|LST)\(/.exec(line)!;
  let depth = 0;
  let end = -1;
  for (let i = m[0].length - 1; i < line.length; i++) {
    if (line[i] === '(') depth++;
    else if (line[i] === ')' && --depth === 0) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new KeepalivedSyntaxError(pos, `~${m[1]}( has no closing ")"`);
  const args = splitArgs(line.slice(m[0].length, end));
  const rest = line.slice(end + 1).trim();
  const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (m[1] === 'LST') {
    const names = args[0]!.replace(/^\{|\}$/g, '').split(',').map((s) => s.trim());
    if (names.some((n) => !NAME.test(n)) || args.length < 2) throw new KeepalivedSyntaxError(pos, `~LST(${args.join(', ')}): valid: ~LST(VAR, value, ...) or ~LST({A, B}, {1, 2}, ...)`);
    const runs = args.slice(1).map((v) => {
      const vals = names.length > 1 ? v.replace(/^\{|\}$/g, '').split(',').map((s) => s.trim()) : [v];
      if (vals.length !== names.length) throw new KeepalivedSyntaxError(pos, `~LST value ${v} has ${vals.length} value(s) for ${names.length} variable(s)`);
      return names.map((n, k) => [n, vals[k]!] as [string, string]);
    });
    return { runs, rest };
  }
  const hex = m[1] === 'SEQx';
  const nums = args.slice(1).map(Number);
  if (!NAME.test(args[0] ?? '') || nums.length < 1 || nums.length > 3 || nums.some((n) => !Number.isInteger(n)))
    throw new KeepalivedSyntaxError(pos, `~${m[1]}(${args.join(', ')}): valid: ~${m[1]}(VAR, [START, [STEP,]] END) with whole numbers`);
  const end2 = nums[nums.length - 1]!;
  const start = nums.length >= 2 ? nums[0]! : end2 < 0 ? -1 : 1;
  const step = nums.length === 3 ? nums[1]! : end2 >= start ? 1 : -1;
  if (step === 0) throw new KeepalivedSyntaxError(pos, `~${m[1]} with step 0 never ends`);
  const runs: Array<Array<[string, string]>> = [];
  for (let v = start; step > 0 ? v <= end2 : v >= end2; v += step) runs.push([[args[0]!, hex ? v.toString(16) : String(v)]]);
  return { runs, rest };
}

class KeepalivedReader {
  private readonly defs = new Map<string, string>();
  private readonly tokens: Token[] = [];
  private readonly stack: string[] = [];
  readonly notes: ReadNote[] = [];
  readonly files: string[] = [];

  constructor(private readonly configId: string) {}

  readFile(file: string, from?: Pos): void {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      real = file;
    }
    if (this.stack.includes(real)) {
      throw new KeepalivedSyntaxError(from ?? { file, line: 1, col: 1 }, `include loop: ${file} includes itself (${[...this.stack, real].join(' -> ')})`);
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KeepalivedSyntaxError(from ?? { file, line: 1, col: 1 }, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    this.files.push(file);
    this.stack.push(real);
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      let line = stripComment(lines[n]!);
      const trimmed = line.trimStart();
      const pos: Pos = { file, line: n + 1, col: line.length - trimmed.length + 1 };
      // A multi-line definition: "$NAME= \" and each following line ending in "\".
      const def = DEFINITION.exec(trimmed);
      if (def && def[2]!.trimEnd().endsWith('\\')) {
        const parts = [def[2]!.trimEnd().slice(0, -1).trim()];
        let more = true;
        while (more && n + 1 < lines.length) {
          const next = stripComment(lines[++n]!).trim();
          more = next.endsWith('\\');
          parts.push(more ? next.slice(0, -1).trim() : next);
        }
        this.defs.set(def[1]!, parts.filter((p) => p !== '').join('\n'));
        continue;
      }
      const inc = INCLUDE.exec(trimmed);
      if (inc) {
        this.include(inc[1]!, inc[2]!, pos, dirname(file));
        continue;
      }
      line = trimmed;
      this.line(line, pos, (i) => ({ file, line: n + 1, col: pos.col + i }), 0);
    }
    this.stack.pop();
  }

  private include(variant: string, arg: string, pos: Pos, dir: string): void {
    // One file name (braces are glob's here, not blocks), quotes removed.
    const name = arg.trim().replace(/^(["'])(.*)\1$/, '$2');
    const checks = {
      readable: variant === 'includer' || variant === 'includea' || variant === 'includem' || variant === 'includew' || variant === 'includeb',
      match: variant === 'includem' || variant === 'includea',
      wildcard: variant === 'includew' || variant === 'includea',
      brace: variant === 'includeb' || variant === 'includea',
    };
    const pattern = isAbsolute(name) ? name : resolve(dir, name);
    const alternatives = expandBraces(pattern);
    const found: string[] = [];
    for (const alt of alternatives) {
      const paths = globPaths(alt);
      if (paths.length === 0) {
        const wild = hasWildcard(alt);
        if ((checks.brace && alternatives.length > 1) || (wild ? checks.wildcard : checks.match))
          throw new KeepalivedSyntaxError(pos, `${variant} ${name}: no file matches ${alt}`);
      }
      found.push(...paths);
    }
    if (found.length === 0) this.notes.push({ pos, message: `${variant} ${name}: no file matches (keepalived goes on without it)` });
    for (const f of found) {
      if (checks.readable) {
        try {
          accessSync(f, constants.R_OK);
        } catch {
          throw new KeepalivedSyntaxError(pos, `${variant} ${name}: ${f} is not readable`);
        }
      }
      try {
        this.readFile(f, pos);
      } catch (err) {
        if (!checks.readable && err instanceof KeepalivedSyntaxError && /^cannot read/.test(err.why) && err.pos === pos) {
          this.notes.push({ pos, message: `${variant} ${name}: ${err.why} (keepalived goes on without it)` });
          continue;
        }
        throw err;
      }
    }
  }

  /** Replaces $NAME (followed by a blank or the end) and ${NAME}; recursive, but stops at a value of several lines. */
  private substitute(line: string, pos: Pos): { text: string; changed: boolean } {
    let text = line;
    let changed = false;
    for (let pass = 0; pass < MAX_DEPTH; pass++) {
      let multi = false;
      const next = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=\s|$)/g, (whole, braced: string | undefined, bare: string | undefined) => {
        const v = this.value(braced ?? bare!, pos);
        if (v === undefined) return whole;
        if (v.includes('\n')) multi = true;
        return v;
      });
      if (next === text) return { text, changed };
      text = next;
      changed = true;
      if (multi) return { text, changed };
    }
    throw new KeepalivedSyntaxError(pos, `parameter substitution does not end (a definition refers to itself): ${line}`);
  }

  private value(name: string, pos: Pos): string | undefined {
    switch (name) {
      case '_PWD':
        return resolve(dirname(pos.file));
      case '_INSTANCE':
        return this.configId;
      case '_HASH':
        return '#';
      case '_BANG':
        return '!';
      default:
        return this.defs.get(name);
    }
  }

  /** One logical line (comment gone, trimmed); `at(i)` is the position of its character i, or the line's position once substituted. */
  private line(text: string, pos: Pos, at: (i: number) => Pos, depth: number): void {
    if (depth > MAX_DEPTH) throw new KeepalivedSyntaxError(pos, 'definitions nest too deep (a definition expands to itself?)');
    if (text === '') return;
    const cond = /^@(\^?)(\S*)\s*/.exec(text);
    if (cond) {
      const match = cond[2] === this.configId;
      if (match === (cond[1] === '^')) return;
      const rest = text.slice(cond[0].length);
      const off = cond[0].length;
      return this.line(rest, pos, (i) => at(i + off), depth + 1);
    }
    if (/^~(SEQx?|LST)\(/.test(text)) {
      const { runs, rest } = parseRepeat(text, pos);
      for (const run of runs) {
        const saved = run.map(([n]) => [n, this.defs.get(n)] as const);
        for (const [n, v] of run) this.defs.set(n, v);
        this.line(rest, pos, () => pos, depth + 1);
        for (const [n, v] of saved) if (v === undefined) this.defs.delete(n);
        else this.defs.set(n, v);
      }
      return;
    }
    const def = DEFINITION.exec(text);
    if (def) {
      this.defs.set(def[1]!, def[2]!.trim());
      return;
    }
    const { text: out, changed } = this.substitute(text, pos);
    if (changed) {
      for (const l of out.split('\n')) this.line(l.trim(), pos, () => pos, depth + 1);
      return;
    }
    this.tokens.push(...splitWords(text, at), { kind: 'nl', pos });
  }

  /** The tokens nested into statements: a statement is a line's words up to "{", "}" or the end of the line; "{" (on its line or the next) opens its block. */
  statements(): Stmt[] {
    const toks = this.tokens;
    let i = 0;
    const block = (open?: Pos): Stmt[] => {
      const out: Stmt[] = [];
      while (i < toks.length) {
        const t = toks[i]!;
        if (t.kind === 'nl') {
          i++;
          continue;
        }
        if (t.kind === '}') {
          if (!open) throw new KeepalivedSyntaxError(t.pos, 'unbalanced "}": no block is open here');
          i++;
          return out;
        }
        if (t.kind === '{') {
          // A block with no keyword: keepalived skips it, contents and all.
          throw new KeepalivedSyntaxError(t.pos, '"{" without a keyword before it');
        }
        const words: Word[] = [];
        while (i < toks.length && toks[i]!.kind === 'word') words.push((toks[i++] as Extract<Token, { kind: 'word' }>).word);
        const stmt: Stmt = { words };
        let j = i;
        while (j < toks.length && toks[j]!.kind === 'nl') j++;
        if (toks[j]?.kind === '{') {
          const brace = toks[j] as { pos: Pos };
          i = j + 1;
          stmt.block = block(brace.pos);
        }
        out.push(stmt);
      }
      if (open) throw new KeepalivedSyntaxError(open, 'unbalanced "{": this block is never closed');
      return out;
    };
    return block();
  }
}

/** Reads a keepalived.conf and everything it includes. Throws KeepalivedSyntaxError when keepalived would not accept its syntax. */
export function readKeepalived(file: string, opts: ReadOptions = {}): ReadResult {
  const r = new KeepalivedReader(opts.configId ?? defaultConfigId());
  r.readFile(file);
  return { stmts: r.statements(), notes: r.notes, files: r.files };
}
