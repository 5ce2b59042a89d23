// Script command lines and the users scripts run as, keepalived style.
//
// keepalived.conf(5), "Quoted strings": a script may be given with parameters;
// unquoted whitespace separates them, a parameter with spaces is quoted ('...'
// or "..."), the quote characters are removed and the whitespace between them
// kept (`abcd" efg"` is the one word `abcd efg`), and a backslash escapes the
// next character. The first word is the executable's absolute path; the
// script runs without a shell, with exactly those arguments.
//
// Users: `script_user username [groupname]` (global) and a script's own
// `username [groupname]`; the group defaults to the user's own group. Names are
// looked up with getent (NSS: /etc/passwd, LDAP, ...); an unknown name is a
// config error.

import { execFileSync } from 'node:child_process';

/** The words of a command line, or why it cannot be split. */
export function splitCommandLine(line: string): { argv: string[] } | { error: string } {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'ends with a lone backslash' };
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) return { error: `has an unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) argv.push(word);
  return { argv };
}

/** A user (and group) to run scripts as. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** getent's answer for one name: the entry's fields, or undefined if there is none. */
function getent(db: 'passwd' | 'group', name: string): string[] | undefined {
  try {
    return execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim().split('\n')[0]!.split(':');
  } catch {
    return undefined;
  }
}

/** Resolves `username [groupname]` to ids (looked up at every load: a user added since counts), or says why not. */
export function resolveUser(user: string, group?: string): RunAs | string {
  const pw = getent('passwd', user);
  if (!pw || pw.length < 4) return `no user "${user}" on this host`;
  if (group === undefined) return { user, uid: Number(pw[2]), gid: Number(pw[3]) };
  const gr = getent('group', group);
  return gr && gr.length >= 3 ? { user: `${user}:${group}`, uid: Number(pw[2]), gid: Number(gr[2]) } : `no group "${group}" on this host`;
}

/** keepalived's default script user when script_user is not set: keepalived_script if it exists, else the daemon's own. */
export function defaultScriptUser(): RunAs | undefined {
  const r = resolveUser('keepalived_script');
  return typeof r === 'string' ? undefined : r;
}
