// The file-system half of validating scripts (notify_*, notify_up/down,
// quorum_up/down, a SCRIPT health check): each must exist and be an executable
// file — a config error at its position, at `vipd check`, at start and at every
// reload, never a surprise at the first transition.
//
// enable_script_security is keepalived's global keyword: "Don't run scripts
// configured to be run as root if any part of the path is writable by a non-root
// user". vipd runs every script as root (it has no script_user), so with it on
// every script must be one only root can change: the file and every directory
// above it owned by root and not writable by group or others (a group-writable
// entry of group root is allowed; so is a world-writable directory with the
// sticky bit, like /tmp, where nobody can replace root's file), checked along
// the path as written (a symlink there could be re-pointed) and along the path
// the symlinks resolve to.

import { accessSync, constants, lstatSync, realpathSync, type Stats, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConfigIssue } from './reader.js';

/** A script the config names, where it names it. */
export interface ScriptRef {
  file: string;
  line: number;
  col: number;
  /** The key path, e.g. vrrp_instances.VI_1.notify_master. */
  path: string;
  /** The script's absolute path. */
  script: string;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** Why `script` cannot run, or undefined. */
function usable(script: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(script);
  } catch (err) {
    const c = code(err);
    return c === 'ENOENT' || c === 'ENOTDIR' ? `script ${script} does not exist; valid: an executable file (create it or correct the path)` : `script ${script} cannot be read (${c}); valid: an executable file`;
  }
  if (!st.isFile()) return `${script} is not a file but ${st.isDirectory() ? 'a directory' : 'a special file'}; valid: an executable file`;
  try {
    accessSync(script, constants.X_OK);
  } catch {
    return `script ${script} is not executable; valid: an executable file (chmod +x ${script})`;
  }
  return undefined;
}

/** Why a non-root user could change this entry, or undefined. */
function insecureEntry(path: string, st: Stats): string | undefined {
  if (st.uid !== 0) return `${path} is owned by uid ${st.uid}, not root`;
  if (st.isSymbolicLink()) return undefined; // a symlink's own mode means nothing; its directory decides who can re-point it
  const stickyDir = st.isDirectory() && (st.mode & 0o1000) !== 0 // S_ISVTX;
  if (stickyDir) return undefined;
  if (st.mode & constants.S_IWOTH) return `${path} is writable by everyone (mode ${(st.mode & 0o7777).toString(8)})`;
  if (st.mode & constants.S_IWGRP && st.gid !== 0) return `${path} is writable by group ${st.gid} (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}

/** The first entry of the path (file first, then each directory up to /) a non-root user could change. */
function insecurePath(path: string, stat: (p: string) => Stats): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    let st: Stats;
    try {
      st = stat(p);
    } catch (err) {
      return `${p} cannot be checked (${code(err)})`;
    }
    const why = insecureEntry(p, st);
    if (why) return why;
    if (p === '/') return undefined;
  }
}

function insecure(script: string): string | undefined {
  const written = insecurePath(script, lstatSync);
  if (written) return written;
  let real: string;
  try {
    real = realpathSync(script);
  } catch (err) {
    return `${script} cannot be resolved (${code(err)})`;
  }
  return real === script ? undefined : insecurePath(real, statSync);
}

/** The issues of the scripts a config names: each script checked once, each reference reported at its position. */
export function checkScripts(refs: readonly ScriptRef[], scriptSecurity: boolean): ConfigIssue[] {
  const verdicts = new Map<string, string | undefined>();
  const issues: ConfigIssue[] = [];
  for (const ref of refs) {
    if (!verdicts.has(ref.script)) {
      let why = usable(ref.script);
      if (!why && scriptSecurity) {
        const bad = insecure(ref.script);
        if (bad)
          why = `script ${ref.script} could be changed by a non-root user (${bad}) and enable_script_security is on; valid: a script only root can change (chown root and chmod go-w the file and its directories)`;
      }
      verdicts.set(ref.script, why);
    }
    const why = verdicts.get(ref.script);
    if (why) issues.push({ file: ref.file, line: ref.line, col: ref.col, path: ref.path, message: why });
  }
  return issues;
}
