// The vocabulary of the keepalived.conf reader: a word with its origin, a
// statement (a line's words, with the block it opens), and the syntax error
// that stops an import (exit 2).

/** Where a word came from: the file, its 1-based line and column. */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface Word {
  text: string;
  pos: Pos;
}

/** One configuration line: its words (the first is the keyword) and, if it opens one, its `{ }` block. */
export interface Stmt {
  words: Word[];
  block?: Stmt[];
}

export const at = (p: Pos): string => `${p.file}:${p.line}:${p.col}`;

/** Not valid keepalived syntax (unbalanced braces, an unterminated quote, a missing include with includea, an include loop). */
export class KeepalivedSyntaxError extends Error {
  constructor(
    readonly pos: Pos,
    readonly why: string,
  ) {
    super(`${at(pos)}: ${why}`);
    this.name = 'KeepalivedSyntaxError';
  }
}
