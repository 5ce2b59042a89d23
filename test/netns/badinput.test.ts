// Bad input to a running vipd daemon (issue 17 §5), in a network namespace:
// a config file that becomes a FIFO or /dev/zero at SIGHUP (rejected at once,
// the old config keeps running), a control_socket that is the config file itself
// (refused, the file untouched), a notify script that leaves a background child
// (the next notify runs on time).

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, sleep, waitFor } from './lab.js';
import { directorsLab, instance, VIP } from './topo.js';
import { Daemons, VIPD_BIN, type VipdProc } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);
const vipd = (config: Record<string, unknown>): VipdProc => daemons.start('lb1', config);

/** `vipd ARGS` as a client in lb1's namespace: its exit code and stderr. */
function cli(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', lab.ns('lb1'), process.execPath, VIPD_BIN, ...args]);
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, err }));
  });
}

beforeAll(() => {
  lab = directorsLab('bi');
});

afterEach(async () => {
  await daemons.killAll();
  // A FIFO left where the next test writes its config would block that write forever.
  const cfg = join(lab.dir, 'lb1.yaml');
  if (lstatSync(cfg, { throwIfNoEntry: false }) && !lstatSync(cfg).isFile()) rmSync(cfg);
  lab.ip('lb1', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
});

afterAll(async () => {
  await lab?.destroy();
});

describe('bad input to a running daemon', () => {
  it('SIGHUP with the config file turned into a FIFO or /dev/zero: rejected at once, the old config keeps running', async () => {
    const a = vipd({ vrrp_instances: { VI_1: instance({ priority: 150 }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    const saved = `${a.configFile}.saved`;
    renameSync(a.configFile, saved);
    execFileSync('mkfifo', [a.configFile]);
    const t0 = performance.now();
    a.kill('SIGHUP');
    const rej = (await waitFor('reload-rejected (FIFO)', () => a.logs.find((l) => l.event === 'reload-rejected'), 3000))!;
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(String(rej.error)).toBe(`${a.configFile}:1:1: a FIFO, not a regular file; valid: a regular file of at most 64 MiB (pass -c FILE)`);
    expect((await a.status()).vrrp).toBeDefined(); // the event loop is not stuck in an open() of the FIFO
    // `vipd reload` says the same, with exit 2
    const r = await cli(['reload', '-s', a.socket]);
    expect([r.code, r.err]).toEqual([2, `vipd: reload rejected, the running configuration is unchanged:\n${a.configFile}:1:1: a FIFO, not a regular file; valid: a regular file of at most 64 MiB (pass -c FILE)\n`]);

    rmSync(a.configFile);
    symlinkSync('/dev/zero', a.configFile);
    const rss0 = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'))![1]);
    a.kill('SIGHUP');
    await waitFor('reload-rejected (/dev/zero)', () => a.logs.filter((l) => l.event === 'reload-rejected').length >= 3, 3000);
    expect(String(a.logs.filter((l) => l.event === 'reload-rejected')[2]!.error)).toMatch(/:1:1: a character device, not a regular file/);
    const rss1 = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'))![1]);
    expect(rss1 - rss0).toBeLessThan(100 * 1024); // kB: nothing like 1.5 GB of zeros was read

    rmSync(a.configFile);
    renameSync(saved, a.configFile);
    a.kill('SIGHUP');
    await waitFor('reloaded', () => a.logs.find((l) => l.event === 'reloaded'), 3000);
    expect(await a.state('VI_1')).toBe('MASTER');
    expect(a.transitions('VI_1').map((t) => t.to)).toEqual(['BACKUP', 'MASTER']); // never left MASTER
    expect(lab.hasAddress('lb1', VIP)).toBe(true);
  });

  it('control_socket set to the config file itself: vipd run refuses with one line, exit 1, and the file is untouched', async () => {
    const configFile = join(lab.dir, 'lb1.yaml');
    const a = vipd({ global: { control_socket: configFile }, vrrp_instances: { VI_1: instance() } });
    const before = readFileSync(configFile, 'utf8');
    const ino = statSync(configFile).ino;
    expect(await a.wait()).toBe(1);
    expect(a.stderr.join('')).toBe(
      `vipd: cannot start: control socket ${configFile} is a regular file, not a socket; vipd removes only a stale socket: set global.control_socket to a free path\n`,
    );
    expect(readFileSync(configFile, 'utf8')).toBe(before);
    expect(statSync(configFile).ino).toBe(ino);
  });

  it('a notify script that leaves a background child holding its stdout: the next notify runs on time', async () => {
    const bg = join(lab.dir, 'bg.sh');
    const marker = join(lab.dir, 'master.done');
    writeFileSync(bg, `#!/bin/sh\nsleep 20 &\necho "$!" > ${lab.dir}/bg.pid\necho "left a child"\n`);
    const master = join(lab.dir, 'master.sh');
    writeFileSync(master, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(bg, 0o755);
    chmodSync(master, 0o755);
    const a = vipd({ vrrp_instances: { VI_1: instance({ priority: 150, notify_backup: bg, notify_master: master }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    const became = Date.parse(String(a.transitions('VI_1').find((t) => t.to === 'MASTER')!.time));
    // notify_backup ran first (start-up), left `sleep 20` with its stdout; notify_master must not wait for it.
    await waitFor('notify_master to run', () => existsSync(marker), 3000);
    expect(statSync(marker).mtimeMs - became).toBeLessThan(2000);
    const pid = Number(readFileSync(join(lab.dir, 'bg.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await sleep(10);
  });
});
