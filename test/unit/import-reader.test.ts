// The keepalived.conf reader: each grammar feature, with the positions words keep.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKeepalived, splitWords, stripComment } from '../../src/import/keepalived/reader.js';
import { expandBraces } from '../../src/import/keepalived/glob.js';
import { KeepalivedSyntaxError, type Stmt } from '../../src/import/keepalived/syntax.js';

function files(tree: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-ka-'));
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const read = (text: string, configId = 'lb1', extra: Record<string, string> = {}) => {
  const dir = files({ 'keepalived.conf': text, ...extra });
  return { dir, ...readKeepalived(join(dir, 'keepalived.conf'), { configId }) };
};
/** Statements as "word word { ... }" with each word's line:col. */
const show = (stmts: Stmt[]): unknown => stmts.map((s) => ({ w: s.words.map((w) => `${w.text}@${w.pos.line}:${w.pos.col}`), ...(s.block ? { b: show(s.block) } : {}) }));
const texts = (stmts: Stmt[]): string[] => stmts.flatMap((s) => [s.words.map((w) => w.text).join(' '), ...(s.block ? texts(s.block).map((t) => `  ${t}`) : [])]);
const syntaxError = (text: string, extra: Record<string, string> = {}): string => {
  try {
    read(text, 'lb1', extra);
  } catch (err) {
    if (err instanceof KeepalivedSyntaxError) return `${err.pos.line}:${err.pos.col}: ${err.why}`;
    throw err;
  }
  return 'no error';
};

describe('keepalived.conf reader', () => {
  it('blocks open on the keyword line or the next, and may sit on one line', () => {
    const r = read('vrrp_instance VI_1\n{\n  virtual_ipaddress { 10.0.0.1/24 }\n  priority 100\n}\n');
    expect(show(r.stmts)).toEqual([
      { w: ['vrrp_instance@1:1', 'VI_1@1:15'], b: [{ w: ['virtual_ipaddress@3:3'], b: [{ w: ['10.0.0.1/24@3:23'] }] }, { w: ['priority@4:3', '100@4:12'] }] },
    ]);
  });

  it('# and ! start comments anywhere, not inside quotes', () => {
    expect(stripComment('priority 100 # high')).toBe('priority 100');
    expect(stripComment('a "x # y" ! z')).toBe('a "x # y"');
    expect(texts(read('! a comment\nrouter_id lb1 ! trailing\n# another\n').stmts)).toEqual(['router_id lb1']);
  });

  it('quoted strings: both quotes, adjacent parts join, blanks kept, escapes decoded', () => {
    const w = splitWords(`a"b c"'d' "e\\tf\\"g" '\\x41\\101'`, (i) => ({ file: 'f', line: 1, col: i + 1 })).map((t) => (t.kind === 'word' ? `${t.word.text}@${t.word.pos.col}` : t.kind));
    expect(w).toEqual(['ab cd@1', 'e\tf"g@11', 'AA@21']);
  });

  it('an unterminated quote is a syntax error at the quote', () => {
    expect(syntaxError('global_defs {\n  router_id "lb1\n}\n')).toBe('2:13: unterminated quoted string (no closing ")');
  });

  it('unbalanced braces are syntax errors at the brace', () => {
    expect(syntaxError('vrrp_instance A {\n  priority 1\n')).toBe('1:17: unbalanced "{": this block is never closed');
    expect(syntaxError('priority 1\n}\n')).toBe('2:1: unbalanced "}": no block is open here');
  });

  it('$NAME=value definitions, $NAME and ${NAME}, recursive at use time; words keep their line', () => {
    const r = read('$BASE=10.2.${SUB}\n$SUB=0\naddr ${BASE}.100/32\n$SUB=10\n  addr ${BASE}.100/32 $SUB\nundefined ${NOPE} $NOPE\n');
    expect(texts(r.stmts)).toEqual(['addr 10.2.0.100/32', 'addr 10.2.10.100/32 10', 'undefined ${NOPE} $NOPE']);
    expect(show(r.stmts)).toContainEqual({ w: ['addr@5:3', '10.2.10.100/32@5:3', '10@5:3'] });
  });

  it('multi-line definitions (nested) expand to several lines at the use position', () => {
    const r = read('$RS= \\\nreal_server 10.0.0.${N} 80 { \\\n  weight ${N} \\\n}\n$VS= \\\nvirtual_server 10.0.0.1 80 { \\\n  $N=1 \\\n  $RS \\\n  $N=2 \\\n  $RS \\\n}\n$VS\n');
    expect(texts(r.stmts)).toEqual(['virtual_server 10.0.0.1 80', '  real_server 10.0.0.1 80', '    weight 1', '  real_server 10.0.0.2 80', '    weight 2']);
    expect(r.stmts[0]!.words[0]!.pos.line).toBe(12);
  });

  it('pre-defined ${_PWD}, ${_INSTANCE}, ${_HASH}, ${_BANG}', () => {
    const r = read('x ${_PWD} ${_INSTANCE} a${_HASH}b c${_BANG}d\n', 'main');
    expect(texts(r.stmts)).toEqual([`x ${r.dir} main a#b c!d`]);
  });

  it('@id and @^id lines against the config id, also after a substitution and with definitions', () => {
    const text = '@main $P=240\n@backup $P=200\npriority $P\n@main router_id a\n@^main router_id b\n$IF_MAIN=@main\n$IF_MAIN x 1\n';
    expect(texts(read(text, 'main').stmts)).toEqual(['priority 240', 'router_id a', 'x 1']);
    expect(texts(read(text, 'backup').stmts)).toEqual(['priority 200', 'router_id b']);
  });

  it('~SEQ, ~SEQx (hex) and ~LST (several variables, nested) repeat the rest of the line', () => {
    expect(texts(read('~SEQ(S, 0, 3) 10.0.${S}.1\n').stmts)).toEqual(['10.0.0.1', '10.0.1.1', '10.0.2.1', '10.0.3.1']);
    expect(texts(read('~SEQx(S, 0x90, 0x10, 0xc0) fe80::${S}\n').stmts)).toEqual(['fe80::90', 'fe80::a0', 'fe80::b0', 'fe80::c0']);
    expect(texts(read('~SEQ(S, 3) a${S}\n~SEQ(T, 2, 1) b${T}\n').stmts)).toEqual(['a1', 'a2', 'a3', 'b2', 'b1']);
    expect(texts(read('~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}\n').stmts)).toEqual(['192.168.10.1', '192.168.20.4']);
    expect(texts(read('~LST(A, 1, 2) ~LST(B, x, y) ${A}${B}\n').stmts)).toEqual(['1x', '1y', '2x', '2y']);
  });

  it('include: relative to the including file, globs sorted, braces, positions in the included file', () => {
    const r = read('include conf.d/*.conf\ninclude {a,b}.inc\n', 'lb1', {
      'conf.d/2.conf': 'second 2\n',
      'conf.d/1.conf': 'include ../sub/x.inc\n',
      'sub/x.inc': '  first 1\n',
      'a.inc': 'a\n',
      'b.inc': 'b\n',
    });
    expect(texts(r.stmts)).toEqual(['first 1', 'second 2', 'a', 'b']);
    expect(r.stmts[0]!.words[0]!.pos).toEqual({ file: join(r.dir, 'sub/x.inc'), line: 1, col: 3 });
  });

  it('include variants: plain include of nothing is a note; includea/includem/includew/includeb are errors', () => {
    const r = read('include missing/*.conf\n');
    expect(r.notes.map((n) => n.message)).toEqual(['include missing/*.conf: no file matches (keepalived goes on without it)']);
    expect(syntaxError('  includea nothing.conf\n')).toMatch(/^1:3: includea nothing.conf: no file matches/);
    expect(syntaxError('includem nothing.conf\n')).toMatch(/^1:1: includem nothing.conf: no file matches/);
    expect(syntaxError('includem none/*.conf\n')).toBe('no error');
    expect(syntaxError('includew none/*.conf\n')).toMatch(/^1:1: includew none\/\*.conf: no file matches/);
    expect(syntaxError('includeb {a,zz}.inc\n', { 'a.inc': 'a\n' })).toMatch(/^1:1: includeb \{a,zz\}.inc: no file matches .*zz.inc/);
  });

  it('an include loop is a syntax error at the include', () => {
    expect(syntaxError('x 1\ninclude other.conf\n', { 'other.conf': 'include keepalived.conf\n' })).toMatch(/^1:1: include loop: /);
  });

  it('brace expansion nests and leaves a brace without comma alone', () => {
    expect(expandBraces('{foo/{,cat,dog},bar}')).toEqual(['foo/', 'foo/cat', 'foo/dog', 'bar']);
    expect(expandBraces('a{b}c')).toEqual(['a{b}c']);
  });
});
