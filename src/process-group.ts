// Scripts (notify, health checks) run in their own process group: at their
// timeout the whole group is killed, and a script is done when it exits, not
// when every process that inherited its stdout has closed it.

import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** SIGKILL a process group (a script and whatever it started). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Calls `done` once the exited child's pipes are drained — or after 50 ms if
 * something it left behind still holds them; the pipes are then closed on our side.
 */
export function afterOutput(child: ChildProcess, done: () => void): void {
  const streams = [child.stdout, child.stderr].filter((s): s is Readable => s !== null && !s.readableEnded && !s.destroyed);
  let left = streams.length;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(grace);
    for (const s of streams) s.destroy();
    done();
  };
  const grace = setTimeout(finish, 50);
  if (left === 0) return finish();
  for (const s of streams)
    s.once('close', () => {
      if (--left === 0) finish();
    });
}
