// Reading processes from /proc for track_process: one process (after an exec or a
// fork the connector reported), or all of them (at start, after lost events, and
// on every period of the fallback where the connector cannot be used). Only what
// the trackers need is read: /proc/PID/stat always (name, state, parent), the
// command line (which is in the process's memory) only when some tracker matches
// on it, as keepalived does.

import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isRunning, parseCmdline, parseStat, type ProcInfo } from '../vrrp/track-process.js';

export interface ProcEntry extends ProcInfo {
  pid: number;
  ppid: number;
}

const PID = /^[1-9][0-9]*$/;

function entry(pid: number, stat: string, cmdline: string | undefined): ProcEntry | undefined {
  const s = parseStat(stat);
  if (!s || !isRunning(s.state)) return undefined;
  return { pid, ppid: s.ppid, comm: s.comm, ...(cmdline !== undefined ? { argv: parseCmdline(cmdline) } : {}) };
}

/** One process now; undefined if it is gone or a zombie. */
export function readProc(pid: number, withArgv: boolean): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return entry(pid, stat, withArgv ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : undefined);
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Every running process, synchronously (start and reload: the verdicts are needed before the first election). */
export function scanProcs(withArgv: boolean): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!PID.test(name)) continue;
    const p = readProc(Number(name), withArgv);
    if (p) out.push(p);
  }
  return out;
}

/** Every running process, read a batch at a time without holding up the event loop (the fallback's period). */
export async function scanProcsAsync(withArgv: boolean, batch = 64): Promise<ProcEntry[]> {
  const pids = (await readdir('/proc')).filter((n) => PID.test(n)).map(Number);
  const out: ProcEntry[] = [];
  for (let i = 0; i < pids.length; i += batch) {
    const got = await Promise.all(
      pids.slice(i, i + batch).map(async (pid) => {
        try {
          const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
          return entry(pid, stat, withArgv ? await readFile(`/proc/${pid}/cmdline`, 'utf8') : undefined);
        } catch {
          return undefined;
        }
      }),
    );
    for (const p of got) if (p) out.push(p);
  }
  return out;
}
