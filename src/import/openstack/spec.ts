// An OpenStack load balancer description (YAML or JSON) read with positions:
// values by path, and each path's file:line:col for the report.

import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { Pos, Word } from '../keepalived/syntax.js';

export type Path = Array<string | number>;

/** Not a description this importer reads (exit 2): bad YAML/JSON, or not the expected shape. */
export class SpecError extends Error {}

export class Spec {
  private readonly doc;
  private readonly lines = new LineCounter();

  constructor(readonly file: string, text = readFileSync(file, 'utf8')) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false });
    const e = this.doc.errors[0];
    if (e) {
      const { line, col } = this.lines.linePos(e.pos[0]);
      throw new SpecError(`${file}:${line}:${col}: ${e.message.split('\n')[0]} (not valid YAML or JSON)`);
    }
  }

  get(path: Path): unknown {
    const n = this.doc.getIn(path, true);
    return n === undefined ? undefined : isScalar(n) ? n.value : (n as Node).toJSON();
  }

  has(path: Path): boolean {
    return this.doc.hasIn(path);
  }

  /** The keys of the map at path (empty if it is not a map). */
  keys(path: Path): string[] {
    const n = path.length ? this.doc.getIn(path, true) : this.doc.contents;
    return isMap(n) ? n.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key)) : [];
  }

  /** The length of the list at path (0 if it is not a list). */
  count(path: Path): number {
    const n = this.doc.getIn(path, true);
    return isSeq(n) ? n.items.length : 0;
  }

  /** Where path is: its key in its map (or the item in its list). */
  pos(path: Path): Pos {
    const parent = path.length > 1 ? this.doc.getIn(path.slice(0, -1), true) : this.doc.contents;
    const last = path[path.length - 1];
    let node: unknown = this.doc.getIn(path, true);
    if (isMap(parent)) node = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last)?.key ?? node;
    const at = (node as Node | undefined)?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(at);
    return { file: this.file, line, col };
  }

  /** The path as a report word: its last key, where it is. */
  word(path: Path): Word {
    return { text: String(path[path.length - 1] ?? ''), pos: this.pos(path) };
  }
}
