// Small JSON state files that outlive a restart (which IPVS services vipd
// created, the operator's admin states). They live beside the control socket
// and carry its name, so two vipd instances with sockets in one directory
// (a lab, a test) never share one; written atomically (temp file + rename).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** /run/vipd/vipd.sock + "admin-state" -> /run/vipd/vipd-admin-state.json */
export function stateFilePath(controlSocket: string, what: string): string {
  return join(dirname(controlSocket), `${basename(controlSocket).replace(/\.sock$/, '')}-${what}.json`);
}

export function readState<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined; // none yet (or unreadable: start afresh)
  }
}

/** Writes atomically; throws with the path on failure (the caller logs it: never fatal). */
export function writeState(path: string, data: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data));
  renameSync(tmp, path);
}
