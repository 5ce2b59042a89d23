import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeControlServer, request, startControlServer } from '../../src/daemon/control.js';
import type { Server } from 'node:net';

describe('control socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-ctl-'));
  let server: Server | undefined;
  const path = join(dir, 'sub', 'vipd.sock');

  afterEach(async () => {
    if (server) await closeControlServer(server, path);
    server = undefined;
  });

  it('answers status and reload, is root-only, and reports handler errors', async () => {
    server = await startControlServer(path, async (req) => {
      if (req.cmd === 'reload') throw new Error('bad config: x');
      return { hello: 'world' };
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
    await expect(request(path, { cmd: 'status' })).resolves.toEqual({ hello: 'world' });
    await expect(request(path, { cmd: 'reload' })).rejects.toThrow('bad config: x');
  });

  it('refuses to start a second daemon on a live socket, replaces a stale one', async () => {
    server = await startControlServer(path, async () => 1);
    await expect(startControlServer(path, async () => 2)).rejects.toThrow(/already running/);
    // simulate a killed daemon: the socket file stays, nobody listens
    await new Promise<void>((r) => server!.close(() => r()));
    server = await startControlServer(path, async () => 3);
    await expect(request(path, { cmd: 'status' })).resolves.toBe(3);
  });

  it('names the fix when no daemon runs', async () => {
    await expect(request(join(dir, 'nope.sock'), { cmd: 'status' })).rejects.toThrow(/no vipd is running.*vipd run/);
  });
});
