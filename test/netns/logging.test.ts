// The daemon's log goes to fd 1 with synchronous writes; fd 1 must stay blocking.
// A non-blocking fd 1 (which creating process.stdout causes) makes those writes fail
// half-way with EAGAIN when the reader is slow, after which nothing more is logged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const VIPD = new URL('../../bin/vipd.js', import.meta.url).pathname;

it('the daemon keeps fd 1 blocking, and a reader that pauses for 2 s loses no log line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-log-'));
  try {
    // A check that fails and recovers all the time: a steady stream of log lines.
    writeFileSync(join(dir, 'v.yaml'), `global: {control_socket: ${dir}/v.sock}
virtual_servers:
  web: {address: 127.0.0.1, port: 80, scheduler: rr, health_check: {type: TCP, delay: 0.05, timeout: 0.04, max_retries: 1, max_retries_down: 1}, real_servers: [{address: 127.0.0.1, port: 9}]}
`);
    const c = spawn(process.execPath, [VIPD, 'run', '-c', join(dir, 'v.yaml'), '--json', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    for (const end = Date.now() + 15_000; !out.includes('"event":"started"') && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/fdinfo/1`, 'utf8'))![1]!, 8);
    expect(flags & 0o4000, 'O_NONBLOCK on the daemon\'s fd 1').toBe(0);
    // The reader stops reading for 2 s (as a test harness under emulation or a stuck journald would).
    c.stdout.pause();
    await new Promise((r) => setTimeout(r, 2000));
    c.stdout.resume();
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
    const lines = out.trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l), `a whole JSON line: ${l.slice(0, 200)}`).not.toThrow();
    expect(lines.at(-1)).toContain('"event":"stopped"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
