// File-name expansion for keepalived's include: csh-style braces ("{a,b}",
// nested) and glob(3) wildcards (*, ?, [...]), sorted as glob() returns them.
// Pure but for reading directories.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** "a{b,c{d,e}}f" -> ["abf", "acdf", "acef"]; a brace without a comma stays literal. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '{') {
      if (depth++ === 0) {
        open = i;
        commas.length = 0;
      }
    } else if (c === ',' && depth === 1) commas.push(i);
    else if (c === '}' && depth > 0 && --depth === 0) {
      if (commas.length === 0) continue;
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      const bounds = [open, ...commas, i];
      const out: string[] = [];
      for (let k = 0; k + 1 < bounds.length; k++) out.push(...expandBraces(head + pattern.slice(bounds[k]! + 1, bounds[k + 1]) + tail));
      return out;
    }
  }
  return [pattern];
}

export const hasWildcard = (s: string): boolean => /[*?[]/.test(s);

function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = seg.slice(i + 1, end);
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`.replace(/\\/g, '\\\\');
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The existing paths an absolute pattern (no braces) names, sorted; dot files only when the pattern says so. */
export function globPaths(pattern: string): string[] {
  const segs = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let found = [segs[0] === '' ? '/' : segs[0]!];
  for (const seg of segs.slice(1)) {
    const next: string[] = [];
    for (const dir of found) {
      if (!hasWildcard(seg)) {
        next.push(join(dir, seg));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      const re = segmentRegExp(seg);
      for (const n of names.sort()) if (re.test(n) && (!n.startsWith('.') || seg.startsWith('.'))) next.push(join(dir, n));
    }
    found = next;
  }
  return found.filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}
