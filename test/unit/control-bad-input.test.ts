// The control socket against bad input: a control_socket path that is anything
// but a stale socket is refused and left alone; each request is bounded in bytes
// however it is split into reads; idle clients are closed.

import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeControlServer, request, startControlServer } from '../../src/daemon/control.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-ctl-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('control_socket pointing at something that is not a stale socket', () => {
  it.each([
    ['a regular file', (p: string) => writeFileSync(p, 'keep me'), 'a regular file'],
    ['the config file itself', (p: string) => writeFileSync(p, 'global: {control_socket: here}\n'), 'a regular file'],
    ['a directory', (p: string) => mkdirSync(p), 'a directory'],
    ['a symlink', (p: string) => symlinkSync(join(dir, 'elsewhere'), p), 'a symlink'],
  ])('%s is refused with the fix, and left as it was', async (name, make, what) => {
    const path = join(dir, name.replaceAll(' ', '-'));
    make(path);
    const before = lstatSync(path, { throwIfNoEntry: false });
    await expect(startControlServer(path, async () => 1)).rejects.toThrow(
      `control socket ${path} is ${what}, not a socket; vipd removes only a stale socket: set global.control_socket to a free path`,
    );
    expect(lstatSync(path, { throwIfNoEntry: false })?.ino).toBe(before?.ino);
    if (what === 'a regular file') expect(readFileSync(path, 'utf8')).not.toBe('');
  });

  it('a directory that is not our own (mode 0755) is refused before anything is created in it', async () => {
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o755 });
    await expect(startControlServer(join(open, 'v.sock'), async () => 1)).rejects.toThrow(/open has mode 0755, not 0700; .*chmod 0700/);
  });
});

describe('requests are bounded and idle clients closed', () => {
  const path = join(dir, 'own', 'v.sock');
  let server: net.Server | undefined;
  afterEach(async () => {
    if (server) await closeControlServer(server, path);
    server = undefined;
  });

  /** Connects, sends `chunks` one per event-loop turn, resolves everything received until the server closes. */
  function talk(chunks: (string | Buffer)[], waitMs = 5000): Promise<{ text: string; closed: boolean }> {
    return new Promise((resolve) => {
      const c = net.connect(path);
      let text = '';
      const timer = setTimeout(() => {
        c.destroy();
        resolve({ text, closed: false });
      }, waitMs);
      c.on('data', (d) => (text += d));
      c.on('error', () => undefined);
      c.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
      c.on('connect', async () => {
        for (const ch of chunks) {
          c.write(ch);
          await new Promise((r) => setTimeout(r, 5));
        }
      });
    });
  }

  it('counts the bytes of one request across reads (and in bytes, not characters)', async () => {
    server = await startControlServer(path, async () => 'ok', { maxRequestBytes: 1000, idleTimeoutMs: 60_000 });
    // 3 writes of 400 bytes, no newline: 1,200 bytes of one request
    const r = await talk(['x'.repeat(400), 'x'.repeat(400), 'x'.repeat(400)]);
    expect(r).toEqual({ text: '{"ok":false,"error":"request longer than 1000 bytes"}\n', closed: true });
    // 600 characters of é are 1,200 bytes
    const e = await talk([`"${'é'.repeat(600)}`]);
    expect(e.text).toBe('{"ok":false,"error":"request longer than 1000 bytes"}\n');
  });

  it('many small requests in one read are each answered (the bound is per request, not per read)', async () => {
    server = await startControlServer(path, async () => 'ok', { maxRequestBytes: 1000, idleTimeoutMs: 300 });
    const line = `${JSON.stringify({ cmd: 'status' })}\n`;
    const r = await talk([line.repeat(100)]); // 1,700 bytes in one write
    expect(r.text).toBe(`${JSON.stringify({ ok: true, data: 'ok' })}\n`.repeat(100));
    expect(r.closed).toBe(true); // and then closed as idle
  });

  it('an idle client is closed after the timeout, but not while its answer is being computed', async () => {
    server = await startControlServer(path, async () => new Promise((r) => setTimeout(() => r('slow'), 600)), { idleTimeoutMs: 200 });
    const t0 = performance.now();
    const idle = await talk([]);
    expect(idle.closed).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect(performance.now() - t0).toBeLessThan(3000);
    await expect(request(path, { cmd: 'status' })).resolves.toBe('slow'); // 600 ms of work outlasts the 200 ms idle timeout
  });
});
