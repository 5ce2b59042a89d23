// The CLI never prints a stack trace: a reader that goes away (EPIPE), a control
// socket that answers garbage, closes early or is no vipd, a socket that does not
// exist or refuses — each one line on stderr and an exit code. Runs the built
// bin/vipd.js (test/setup/global.ts compiles src first) against fake daemons.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const VIPD = fileURLToPath(new URL('../../bin/vipd.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vipd-cli-'));
const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fake daemon at a new socket that answers every request with `answer` (a function of the socket). */
async function fake(name: string, answer: (c: net.Socket) => void): Promise<string> {
  const path = join(dir, `${name}.sock`);
  const server = net.createServer((c) => c.once('data', () => answer(c)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return path;
}

/** Runs `bash -c script` (vipd as $VIPD) and resolves its stdout, stderr and exit code. */
function sh(script: string): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const c = spawn('bash', ['-c', script], { env: { ...process.env, VIPD: `${process.execPath} ${VIPD}` } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ out, err, code }));
  });
}

const noStack = (err: string) => expect(err).not.toMatch(/^\s+at /m);

describe('the CLI: one line and an exit code, never a stack trace', () => {
  it('EPIPE: `vipd status --json | head -1` with a long status, and `vipd check --help | head -1`, exit 0 quietly', async () => {
    const instances = Array.from({ length: 20_000 }, (_, i) => ({ name: `VI_${i}`, state: 'BACKUP' }));
    const big = `${JSON.stringify({ ok: true, data: { routerId: 'lb1', vrrp: { instances, groups: [], interfaces: [] } } })}\n`;
    const sock = await fake('big', (c) => c.end(big));
    const r = await sh(`$VIPD status --json -s ${sock} 2>${dir}/err1 | head -1; echo "rc=\${PIPESTATUS[0]}"; cat ${dir}/err1`);
    expect(r.out).toBe('{\nrc=0\n'); // more than a pipe buffer was written into a closed pipe: and nothing on stderr
    const h = await sh(`$VIPD check --help 2>${dir}/err2 | head -1; echo "rc=\${PIPESTATUS[0]}"; cat ${dir}/err2`);
    expect(h.out).toBe('Usage: vipd check [options]\nrc=0\n');
  });

  it.each([
    ['garbage', (c: net.Socket) => c.end('hello there\n'), /answered something that is not JSON \("hello there\\n"\.\.\.\): is a vipd daemon listening there\?/],
    ['early close', (c: net.Socket) => c.destroy(), /closed the connection without a complete answer: is a vipd daemon listening there\?/],
    ['half an answer', (c: net.Socket) => c.end('{"ok": tr'), /closed the connection without a complete answer/],
    ['JSON that is no vipd answer', (c: net.Socket) => c.end('[1,2]\n'), /answered JSON that is not a vipd response/],
  ])('a control socket that answers %s', async (name, answer, message) => {
    const sock = await fake(name.replaceAll(' ', '-'), answer);
    for (const cmd of ['status', 'reload', 'rs enable web 10.0.0.1']) {
      const r = await sh(`$VIPD ${cmd} -s ${sock}`);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^vipd: [^\n]+\n$/);
      expect(r.err).toMatch(message);
      noStack(r.err);
    }
  });

  it('a socket that does not exist, a regular file, a config that is /dev/zero: one line each, exit 1', async () => {
    writeFileSync(join(dir, 'plain'), 'x');
    for (const [args, message] of [
      [`-s ${dir}/none.sock`, `vipd: no vipd is running with control socket ${dir}/none.sock (start it with 'vipd run' or 'systemctl start vipd', or pass -s SOCKET)\n`],
      [`-s ${dir}/plain`, `vipd: no vipd is running with control socket ${dir}/plain (start it with 'vipd run' or 'systemctl start vipd', or pass -s SOCKET)\n`],
    ] as const) {
      const r = await sh(`$VIPD status ${args}`);
      expect([r.code, r.err]).toEqual([1, message]);
    }
    const z = await sh('$VIPD check -c /dev/zero');
    expect([z.code, z.err]).toEqual([2, 'vipd: invalid configuration:\n/dev/zero:1:1: a character device, not a regular file; valid: a regular file of at most 64 MiB (pass -c FILE)\n']);
    const s = await sh('timeout 10 $VIPD status -c /dev/zero -s /nonexistent/x.sock');
    expect(s.code).toBe(1);
  }, 30_000);
});
