// notify scripts and FIFOs as keepalived runs them, on a pair across a failover:
// a command line with quoted arguments runs without a shell with exactly those
// arguments; only the generic `notify` gets TYPE NAME STATE PRIORITY appended;
// scripts run as global.script_user unless a script names its own user; a
// vrrp_notify_fifo reader sees keepalived's lines in transition order.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, waitFor } from './lab.js';
import { directorsLab, instance } from './topo.js';
import { VipdProc } from './vipd.js';

let lab: Lab;
/** Scripts run as nobody must reach their file: not in the lab's directory (mode 0700, the control sockets'). */
let pub: string;

beforeAll(() => {
  lab = directorsLab('nf');
  pub = mkdtempSync(join(tmpdir(), 'vu-nf-'));
  chmodSync(pub, 0o755);
});

afterAll(async () => {
  await lab?.destroy();
  if (pub) rmSync(pub, { recursive: true, force: true });
});

describe('notify scripts and FIFO, keepalived style', () => {
  it('quoted arguments, nothing appended to notify_master/backup, TYPE NAME STATE PRIORITY to notify, script users; FIFO lines in order across a failover', async () => {
    const outDir = join(pub, 'out');
    mkdirSync(outDir);
    chmodSync(outDir, 0o777);
    const out = join(outDir, 'notify.out');
    writeFileSync(out, '');
    chmodSync(out, 0o666); // appended to by root and by nobody
    const rec = join(pub, 'rec.sh');
    // Who ran it, then each argument in brackets: spaces inside an argument stay visible.
    writeFileSync(rec, `#!/bin/sh\n{ printf '%s' "$(id -un)"; for a in "$@"; do printf ' [%s]' "$a"; done; echo; } >> ${out}\n`);
    chmodSync(rec, 0o755);
    const fifo = join(lab.dir, 'vrrp.fifo');
    const lines = () => readFileSync(out, 'utf8').trim().split('\n');

    const a = new VipdProc(lab, 'lb1', { vrrp_instances: { VI_1: instance({ priority: 150 }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER');
    const lb2 = () =>
      new VipdProc(lab, 'lb2', {
        global: { script_user: 'nobody', vrrp_notify_fifo: fifo },
        vrrp_instances: {
          VI_1: instance({
            priority: 100,
            notify_master: `${rec} 'to master' VI_1`,
            notify_backup: { command: `${rec} backup`, user: 'root' },
            notify: rec,
          }),
        },
      });
    const b = lb2();
    await b.ready();
    // vipd created the FIFO; a reader that comes later still gets every line (they wait in the pipe).
    expect(statSync(fifo).isFIFO()).toBe(true);
    await b.waitState('VI_1', 'BACKUP');
    const reader = lab.spawn('lb2', 'cat', [fifo]);
    let got = '';
    reader.stdout!.on('data', (d: Buffer) => (got += d.toString()));

    // Failover: lb1 dies, lb2 becomes master; lb1 returns and preempts; lb2 stops.
    a.kill('SIGKILL');
    await a.wait();
    lab.ip('lb1', ['addr', 'flush', 'dev', 'eth0', 'label', 'eth0'], true);
    lab.ip('lb1', ['addr', 'add', '10.99.0.11/24', 'dev', 'eth0'], true);
    await b.waitState('VI_1', 'MASTER', 3000);
    const a2 = new VipdProc(lab, 'lb1', { vrrp_instances: { VI_1: instance({ priority: 150 }) } });
    await a2.ready();
    await a2.waitState('VI_1', 'MASTER');
    await b.waitState('VI_1', 'BACKUP', 3000);
    b.kill('SIGTERM');
    expect(await b.wait()).toBe(0);
    a2.kill('SIGKILL');
    await a2.wait();

    await waitFor(() => `the FIFO lines (got ${JSON.stringify(got)})`, () => got.split('\n').length > 4, 3000);
    expect(got.trim().split('\n')).toEqual(['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100', 'INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" STOP 100']);
    // vipd removes the FIFO it created.
    expect(existsSync(fifo)).toBe(false);

    expect(lines()).toEqual([
      'root [backup]',
      'nobody [INSTANCE] [VI_1] [BACKUP] [100]',
      'nobody [to master] [VI_1]',
      'nobody [INSTANCE] [VI_1] [MASTER] [100]',
      'root [backup]',
      'nobody [INSTANCE] [VI_1] [BACKUP] [100]',
      'nobody [INSTANCE] [VI_1] [STOP] [100]',
    ]);
  });

  it('FIFO lines wait in the pipe while nobody reads; a path that is no FIFO is logged and its lines counted as dropped', async () => {
    const fifo = join(lab.dir, 'unread.fifo');
    const notFifo = join(lab.dir, 'plain-file');
    writeFileSync(notFifo, '');
    const b = new VipdProc(lab, 'lb2', {
      global: { notify_fifo: fifo, vrrp_notify_fifo: notFifo },
      vrrp_instances: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`VI_${i}`, instance({ vrid: i + 1, priority: 100, virtual_ipaddress: [`10.99.1.${i + 1}/32`] })])),
    });
    await b.ready();
    // 40 instances, each BACKUP then MASTER: 80 lines, far below the pipe's 64 KiB: all written, none dropped, the daemon never waits.
    await waitFor('all 40 masters', async () => (await b.status()).vrrp.instances.every((i) => i.state === 'MASTER'), 10_000);
    const st = (await b.status()) as { notifyFifos?: { path: string; written: number; dropped: number }[] };
    expect(st.notifyFifos).toEqual([
      { path: fifo, open: true, written: 80, dropped: 0 },
      { path: notFifo, open: false, written: 0, dropped: 80, error: `${notFifo} exists and is not a FIFO` },
    ]);
    expect(b.logs.some((l) => l.msg.startsWith(`notify FIFO ${notFifo} cannot be used`))).toBe(true);
    b.kill('SIGTERM');
    expect(await b.wait()).toBe(0);
    expect(readFileSync(notFifo, 'utf8')).toBe('');
  });
});
