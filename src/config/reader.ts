// The YAML walker every config section is read with: typed reads from YAML
// nodes that record each problem as an issue with its file:line:col, the key's
// dotted path and what would be valid — so a file reports all its problems at
// once. The schema itself lives in one module per section (global, vrrp,
// director, health-check); parse.ts puts them together.

import { isMap, isScalar, isSeq, type LineCounter, type Node, type Scalar, type YAMLMap } from 'yaml';
import type { ScriptRef } from './scripts.js';

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

export const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** IFNAMSIZ is 16 bytes with the NUL: a name or label is at most 15 bytes (not characters: "é" is 2). */
export const IFNAMSIZ = 16;
export const IFNAME = /^[^\s/:]+$/;
export const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `string "${v}"`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return 'a list';
  return 'a map';
}

// ---------------------------------------------------------------------------
// The walker: typed reads from YAML nodes that record issues with positions.

export class Reader {
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
export class MapView {
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

export type Check<T> = (v: unknown) => { ok: true; value: T } | { ok: false; why: string };

export const scalarValue = (n: Node | null | undefined): unknown => (isScalar(n) ? n.value : isMap(n) ? {} : isSeq(n) ? [] : null);

export function num(min: number, max: number, opts: { integer?: boolean; unit?: string; step?: number } = {}): Check<number> {
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

export const bool: Check<boolean> = (v) =>
  typeof v === 'boolean'
    ? { ok: true, value: v }
    : { ok: false, why: `expected true or false, got ${describe(v)}${typeof v === 'string' && /^(yes|no|on|off)$/i.test(v) ? ' (YAML 1.2: write true or false)' : ''}` };

export function oneOf<T extends string | number>(values: readonly T[]): Check<T> {
  return (v) => {
    if (values.includes(v as T)) return { ok: true, value: v as T };
    const guess = typeof v === 'string' ? didYouMean(v, values.map(String)) : undefined;
    return { ok: false, why: `${describe(v)} is not allowed; ${guess ? `did you mean "${guess}"? ` : ''}valid: ${values.join(' | ')}` };
  };
}

export function str(what: string, test: (s: string) => string | undefined = () => undefined): Check<string> {
  return (v) => {
    if (typeof v === 'number') return { ok: false, why: `expected ${what}, got number ${v}; write it in quotes ("${v}") to make it a string` };
    if (typeof v !== 'string' || v === '') return { ok: false, why: `expected ${what}, got ${describe(v)}` };
    const bad = test(v);
    return bad ? { ok: false, why: `${bad}; valid: ${what}` } : { ok: true, value: v };
  };
}

export const ipv4 = (what = 'an IPv4 address like 192.0.2.10'): Check<string> =>
  str(what, (s) => (DOTTED_QUAD.test(s) ? undefined : `"${s}" is not a dotted-quad IPv4 address`));
export const ifname = str('an interface name (1..15 bytes, no "/", ":" or spaces)', (s) =>
  !IFNAME.test(s) ? `"${s}" is not a valid interface name` : Buffer.byteLength(s) >= IFNAMSIZ ? `"${s}" is ${Buffer.byteLength(s)} bytes long, over the kernel's 15 (IFNAMSIZ)` : undefined,
);
export const script = str('an absolute path to a script, e.g. /etc/vipd/notify.sh', (s) => (s.startsWith('/') ? undefined : `"${s}" must be an absolute path`));

/** Typed reads of a section's keys: each bad value is an issue at its position, and reads on as absent. */
export class Fields {
  constructor(readonly r: Reader) {}

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
}
