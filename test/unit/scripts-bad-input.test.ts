// Scripts that misbehave: a notify script that leaves a background child (which
// holds its stdout) or hangs must not hold up the notifies after it; at the
// timeout its whole process group dies. Real processes, no root needed.

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkScript } from '../../src/health/script.js';
import type { Logger } from '../../src/log.js';
import { Notifier } from '../../src/vrrp/notify.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-scripts-'));
const pids: number[] = [];
afterAll(() => {
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function logger(lines: string[]): Logger {
  const log = (_fields: unknown, msg: string) => lines.push(msg);
  return { debug: log, info: log, warn: log, error: log } as unknown as Logger;
}

/** Resolves with the ms until `file` exists (polling), or rejects after `limitMs`. */
async function until(file: string, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (!existsSync(file)) {
    if (performance.now() - t0 > limitMs) throw new Error(`${file} did not appear within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

/** Running (a zombie waiting for a PID 1 that does not reap is dead too). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('notify scripts that misbehave hold up nothing', () => {
  it('a script that leaves `sleep 20 &` behind: the next notify of the instance runs at once, the child is left alone', async () => {
    const lines: string[] = [];
    const n = new Notifier(logger(lines), 30_000);
    const first = script('bg.sh', `sleep 20 &\necho $! > ${dir}/bg.pid\necho started`);
    const second = script('second.sh', `touch ${dir}/second.done`);
    n.script('INSTANCE VI_1', first, ['INSTANCE', 'VI_1', 'MASTER', '100']);
    n.script('INSTANCE VI_1', second, ['INSTANCE', 'VI_1', 'BACKUP', '100']);
    expect(await until(join(dir, 'second.done'), 5000)).toBeLessThan(5000); // was: 20 s, until sleep closed the pipe
    const bg = Number(readFileSync(join(dir, 'bg.pid'), 'utf8'));
    pids.push(bg);
    expect(alive(bg)).toBe(true); // keepalived does not kill what a script started on purpose
    await n.drain();
    expect(lines.some((l) => l.includes('killed'))).toBe(false);
  });

  it('a script that hangs is killed at the timeout with its process group, and the next one runs then', async () => {
    const lines: string[] = [];
    const n = new Notifier(logger(lines), 300);
    const hang = script('hang.sh', `sleep 30 &\necho $! > ${dir}/hang.pid\nsleep 30`);
    const next = script('next.sh', `touch ${dir}/next.done`);
    n.script('GROUP G1', hang, ['GROUP', 'G1', 'MASTER', '0']);
    n.script('GROUP G1', next, ['GROUP', 'G1', 'BACKUP', '0']);
    const ms = await until(join(dir, 'next.done'), 5000);
    expect(ms).toBeGreaterThanOrEqual(250);
    const bg = Number(readFileSync(join(dir, 'hang.pid'), 'utf8'));
    pids.push(bg);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(bg)).toBe(false); // the group died with the script
    expect(lines).toContain(`notify script ${hang} killed after 300 ms (global.script_timeout)`);
  });
});

describe('a health-check script that leaves a background child', () => {
  it('is judged when it exits, not when the child lets go of its stdout', async () => {
    const s = script('check.sh', `sleep 20 &\necho $! > ${dir}/check.pid\necho fine\nexit 0`);
    const t0 = performance.now();
    const r = await checkScript({ type: 'script', address: '192.0.2.1', port: 80, intervalMs: 10_000, timeoutMs: 5000, rise: 1, fall: 1, command: [s] });
    pids.push(Number(readFileSync(join(dir, 'check.pid'), 'utf8')));
    expect(r).toMatchObject({ ok: true, reason: 'script exit 0: fine' });
    expect(performance.now() - t0).toBeLessThan(4000);
  });
});
