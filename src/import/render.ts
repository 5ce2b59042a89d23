// What every importer shares: the translated object rendered as vipd.yaml with a
// comment naming each block's source and a head listing what was left out, and
// the result checked as `vipd check` would check it on this host.

import { Document, isMap, isScalar, type YAMLMap } from 'yaml';
import { parseConfig } from '../config/parse.js';
import { ConfigError } from '../config/reader.js';
import { type Ctx, type Finding, findingLine } from './keepalived/context.js';
import { at } from './keepalived/syntax.js';

export interface Translation {
  yaml: string;
  findings: Finding[];
  /** Something was left out (exit 3). */
  incomplete: boolean;
}

/** Attaches the comment to the key of `path` (or the document's top). */
function attach(doc: Document, path: Array<string | number>, text: string): void {
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return;
  const pair = (parent as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = pair.key.commentBefore ? `${pair.key.commentBefore}\n${text}` : text;
}

/** The sections that have something, as YAML with ctx's comments, findings sorted by position. */
export function render(out: Record<string, Record<string, unknown>>, ctx: Ctx, source: string): Translation {
  const obj = Object.fromEntries(Object.entries(out).filter(([, v]) => Object.keys(v).length > 0));
  const doc = new Document(obj);
  for (const c of ctx.comments) attach(doc, c.path, c.text);
  const findings = ctx.findings.sort((a, b) => a.pos.file.localeCompare(b.pos.file) || a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  const leftOut = findings.filter((f) => f.kind === 'left-out');
  const head = [` vipd.yaml translated by "vipd import" from ${source}.`];
  if (leftOut.length) head.push(` NOT COMPLETE: ${leftOut.length} part(s) left out:`, ...leftOut.map((f) => `   ${at(f.pos)}: ${f.keyword}: ${f.why}`));
  else head.push(' Complete: every keyword has its vipd equivalent.');
  doc.commentBefore = head.join('\n');
  return { yaml: doc.toString({ lineWidth: 0 }), findings, incomplete: leftOut.length > 0 };
}

export const reportLines = (findings: readonly Finding[]): string[] => findings.map(findingLine);

export interface ImportResult {
  code: 0 | 2 | 3;
  /** The vipd.yaml text (absent when the input could not be read). */
  yaml?: string;
  /** The report, one line each: file:line:col: keyword: not translated|note: why. */
  report: string[];
}

/** The translation checked as `vipd check` would (a problem is `OUTPUT:line:col: vipd check: ...` and exit 3). */
export function checked(t: Translation, output: string, before: string[] = []): ImportResult {
  const lines: string[] = [];
  try {
    parseConfig(t.yaml, output);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues) lines.push(`${i.file}:${i.line}:${i.col}: vipd check: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  }
  return { code: t.incomplete || lines.length > 0 ? 3 : 0, yaml: t.yaml, report: [...before, ...reportLines(t.findings), ...lines] };
}
