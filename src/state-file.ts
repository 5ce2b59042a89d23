// Small JSON state files that outlive a restart (which IPVS services vipd
// created, the operator's admin states). They live beside the control socket
// and carry its name, so two vipd instances with sockets in one directory
// (a lab, a test) never share one.
//
// That directory must be vipd's own — a directory (not a symlink) owned by our
// uid with mode 0700 — or someone else could plant a symlink where a state file
// goes and have root write through it. Files are written to a new temp file
// (O_EXCL | O_NOFOLLOW) and renamed into place; read with O_NOFOLLOW.

import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** /run/vipd/vipd.sock + "admin-state" -> /run/vipd/vipd-admin-state.json */
export function stateFilePath(controlSocket: string, what: string): string {
  return join(dirname(controlSocket), `${basename(controlSocket).replace(/\.sock$/, '')}-${what}.json`);
}

/**
 * Creates `dir` with mode 0700 if it is missing; throws a one-line error naming the
 * fix if it is not a directory of our own: a symlink, not a directory, owned by
 * another uid, or open to group or others.
 */
export function ensureOwnDir(dir: string): void {
  const uid = process.getuid?.() ?? 0;
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot check ${dir}: ${(err as NodeJS.ErrnoException).code}; fix its permissions or choose another global.control_socket`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = lstatSync(dir);
  }
  const fix = `the directory of global.control_socket and the state files must be vipd's own: remove it and let vipd create it, or run 'chown ${uid} ${dir} && chmod 0700 ${dir}', or choose another global.control_socket`;
  if (st.isSymbolicLink()) throw new Error(`${dir} is a symlink; ${fix}`);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory; ${fix}`);
  if (st.uid !== uid) throw new Error(`${dir} is owned by uid ${st.uid}, not ours (${uid}); ${fix}`);
  if ((st.mode & 0o777) !== 0o700) throw new Error(`${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, not 0700; ${fix}`);
}

export function readState<T>(path: string): T | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined; // none yet (or a symlink, or unreadable: start afresh)
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    return JSON.parse(readFileSync(fd, 'utf8')) as T;
  } catch {
    return undefined; // not a state file vipd wrote: start afresh
  } finally {
    closeSync(fd);
  }
}

/** Writes atomically in a directory of our own; throws with the path on failure (the caller logs it: never fatal). */
export function writeState(path: string, data: unknown): void {
  ensureOwnDir(dirname(path));
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(data));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path); // rename replaces a symlink at `path`, never writes through it
}
