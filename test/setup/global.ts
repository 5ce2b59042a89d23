// Runs once before the whole suite: removes namespaces a killed earlier run left
// behind, and compiles src/ so the daemons the tests start run the code under test.
// Another vitest run on the same host (another worktree) owns the vt-* namespaces
// it is using: while one is running, nothing is removed here (each Lab still
// clears its own prefix when it starts).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cleanupNamespaces } from '../netns/lab.js';

function parentOf(pid: number): number {
  try {
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** A vitest process that is neither this run's ancestor nor its descendant. */
function otherVitestRunning(): boolean {
  const ancestors = new Set<number>();
  for (let p = process.pid; p > 1; p = parentOf(p)) ancestors.add(p);
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || ancestors.has(pid)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.includes('vitest')) continue;
    let mine = false;
    for (let p = parentOf(pid); p > 1 && !mine; p = parentOf(p)) mine = p === process.pid;
    if (!mine) return true;
  }
  return false;
}

function cleanup(): void {
  if (process.getuid?.() === 0 && !otherVitestRunning()) cleanupNamespaces();
}

export default function setup(): () => void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  cleanup();
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  return cleanup;
}
