// Tracking between two real vipd daemons in network namespaces, keepalived's
// meanings: track_interface weights, vrrp_script / track_script with real
// processes (track_process and track_file: track-process.test.ts). Timings use 0.1 s adverts.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, sleep, waitFor } from './lab.js';
import { directorsLab, instance, LB1, VIP, VIP2 } from './topo.js';
import { VipdProc } from './vipd.js';

let lab: Lab;
const running: VipdProc[] = [];

function vipd(host: string, config: Record<string, unknown>): VipdProc {
  const p = new VipdProc(lab, host, config);
  running.push(p);
  return p;
}

const single = (over: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({ ...top, vrrp_instances: { VI_1: instance(over) } });

function holder(): string[] {
  return ['lb1', 'lb2'].filter((h) => lab.hasAddress(h, VIP));
}

async function effective(p: VipdProc): Promise<number> {
  return (await p.status()).vrrp.instances[0]!.effectivePriority;
}

beforeAll(() => {
  lab = directorsLab('tk');
});

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.wait().catch(() => undefined);
  }
  for (const h of ['lb1', 'lb2']) {
    lab.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
    lab.ip(h, ['addr', 'del', `${VIP2}/24`, 'dev', 'eth1'], true);
    lab.setCable(h, 'eth0', true);
    lab.setCable(h, 'eth1', true);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('track_interface, keepalived weights', () => {
  it('a positive weight raises the priority while the link is up and is lost when it goes down', async () => {
    // lb1 100 + 60 while eth1 is up = 160 > lb2's 120: lb1 is master; eth1 down: 100 < 120, lb2 preempts.
    const a = vipd('lb1', single({ priority: 100, track_interface: [{ name: 'eth1', weight: 60 }] }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    expect(await effective(a)).toBe(160);
    const b = vipd('lb2', single({ priority: 120 }));
    await b.ready();
    await b.waitState('VI_1', 'BACKUP', 3000);
    lab.setCable('lb1', 'eth1', false);
    await b.waitState('VI_1', 'MASTER', 3000);
    await a.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(100);
    expect(holder()).toEqual(['lb2']);
    lab.setCable('lb1', 'eth1', true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(160);
    expect(holder()).toEqual(['lb1']);
  });
});

/** A flag file per test: the tracked scripts test for it. */
function flag(name: string): { path: string; set(on: boolean): void } {
  const dir = join(lab.dir, 'flags');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  return { path, set: (on) => (on ? writeFileSync(path, '') : rmSync(path, { force: true })) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('vrrp_script / track_script with real processes', () => {
  it('weight 0: a failing script puts the master in FAULT and the backup takes over; passing again, it is back', async () => {
    const ok = flag('healthy');
    ok.set(true);
    // "test -e FILE": a command line with arguments, run without a shell, "test" found in PATH.
    const scripts = { vrrp_scripts: { chk: { script: `test -e ${ok.path}`, interval: 0.2, fall: 2, rise: 2 } } };
    const a = vipd('lb1', single({ priority: 150, track_script: ['chk'] }, scripts));
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    const b = vipd('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'BACKUP', 3000);
    const st = (await a.status()).vrrp.scripts!;
    expect(st).toMatchObject([{ name: 'chk', state: 'OK', trackedBy: ['VI_1'], command: `/usr/bin/test -e ${ok.path}` }]);
    ok.set(false);
    await a.waitState('VI_1', 'FAULT', 3000);
    await b.waitState('VI_1', 'MASTER', 2000);
    expect(holder()).toEqual(['lb2']);
    expect(String(a.transitions('VI_1').at(-1)!.reason)).toMatch(/vrrp_script chk is down/);
    const failed = (await a.status()).vrrp.scripts![0]!;
    expect(failed).toMatchObject({ state: 'FAILED', last: { ok: false, reason: 'exit 1' } });
    expect(a.logs.some((l) => l.event === 'vrrp-script' && l.script === 'chk' && l.to === 'FAILED')).toBe(true);
    ok.set(true);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holder()).toEqual(['lb1']);
  });

  it('a negative weight lowers the priority while the script fails: the backup preempts; init_fail starts failed', async () => {
    const ok = flag('neg');
    ok.set(true);
    const scripts = { vrrp_scripts: { chk: { script: ['/usr/bin/test', '-e', ok.path], interval: 0.2, weight: -60 } } };
    const a = vipd('lb1', single({ priority: 150, track_script: ['chk'] }, scripts));
    const b = vipd('lb2', single({ priority: 100 }));
    await Promise.all([a.ready(), b.ready()]);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(150);
    ok.set(false);
    await b.waitState('VI_1', 'MASTER', 3000); // 150 - 60 = 90 < 100: lb2 preempts
    await a.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(90);
    // The per-instance weight overrides the script's: -20 leaves 130 > 100, lb1 takes it back.
    a.write(single({ priority: 150, track_script: [{ name: 'chk', weight: -20 }] }, scripts));
    a.kill('SIGHUP');
    await a.waitState('VI_1', 'MASTER', 3000);
    expect(await effective(a)).toBe(130);
    ok.set(true);
    await waitFor('priority 150 again', async () => (await effective(a)) === 150, 3000);
    await a.kill('SIGKILL');
    await a.wait();
    lab.ip('lb1', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
    // init_fail: the script counts as failed until it passes `rise` times.
    const c = vipd('lb1', single({ priority: 150, track_script: ['chk'] }, { vrrp_scripts: { chk: { ...scripts.vrrp_scripts.chk, interval: 1, rise: 3, init_fail: true } } }));
    await c.ready();
    expect((await c.status()).vrrp.scripts![0]!.state).toBe('FAILED');
    expect(await effective(c)).toBe(90);
    await waitFor('init_fail script to rise after 3 passes', async () => (await effective(c)) === 150, 6000);
    expect((await c.status()).vrrp.scripts![0]!.checks).toBeGreaterThanOrEqual(3);
  });

  it('a hung script is killed at its timeout with its whole process group, and counts as a failure', async () => {
    const pids = join(lab.dir, 'hung.pids');
    rmSync(pids, { force: true });
    // The script and a child it starts: both must be gone after the timeout.
    const hang = `/bin/sh -c 'sleep 300 & echo $$ $! >> ${pids}; wait'`;
    const a = vipd('lb1', single({ priority: 150, track_script: ['hang'] }, { vrrp_scripts: { hang: { script: hang, interval: 2, timeout: 0.5 } } }));
    await a.ready();
    await waitFor('the hung script to start', () => existsSync(pids) && readFileSync(pids, 'utf8').trim().length > 0, 5000);
    const [sh, child] = readFileSync(pids, 'utf8').trim().split('\n')[0]!.split(' ').map(Number);
    expect(alive(sh!)).toBe(true);
    await a.waitState('VI_1', 'FAULT', 3000);
    const st = (await a.status()).vrrp.scripts![0]!;
    expect(st).toMatchObject({ state: 'FAILED', last: { ok: false, reason: expect.stringMatching(/did not finish within 500 ms \(killed\)/) } });
    await waitFor('the script and its child to be gone', () => !alive(sh!) && !alive(child!), 2000);
  });
});

describe('scripts off the adverts\' critical path', () => {
  it('100 scripts at interval 1: the master\'s adverts keep their 0.1 s interval and the backup never takes over', async () => {
    const vrrp_scripts = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`s${i}`, { script: `/usr/bin/test -n s${i}`, interval: 1 }]));
    const a = vipd('lb1', single({ priority: 150, track_script: Object.keys(vrrp_scripts) }, { vrrp_scripts }));
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    const b = vipd('lb2', single({ priority: 100 }));
    await b.ready();
    await b.waitState('VI_1', 'BACKUP', 3000);
    // The backup's view of the wire: every advert from lb1, timestamped by the kernel.
    const dump = lab.spawn('lb2', 'tcpdump', ['-i', 'eth0', '-n', '-tt', '-l', '-q', `ip proto 112 and src ${LB1}`]);
    let text = '';
    let listening = false;
    dump.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
    dump.stderr!.setEncoding('utf8').on('data', (d: string) => (listening ||= d.includes('listening')));
    await waitFor('tcpdump to listen', () => listening, 5000);
    const windowMs = 10_000;
    await sleep(windowMs);
    dump.kill('SIGTERM');
    const times = text.split('\n').map((l) => Number(l.split(' ')[0])).filter((t) => t > 0);
    const gaps = times.slice(1).map((t, i) => (t - times[i]!) * 1000);
    gaps.sort((x, y) => x - y);
    const p99 = gaps[Math.floor(gaps.length * 0.99)]!;
    const max = gaps.at(-1)!;
    const st = (await a.status()).vrrp.scripts!;
    const runs = st.reduce((n, s) => n + s.checks, 0);
    console.log(`100 vrrp_scripts at interval 1 (load ${loadavg()[0]!.toFixed(1)}): ${times.length} adverts in ${windowMs} ms, gap p50 ${gaps[Math.floor(gaps.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ${runs} script runs so far, all OK: ${st.every((s) => s.state === 'OK')}`);
    expect(st).toHaveLength(100);
    // Every script ran (on an idle host about once a second each; on an overloaded one the
    // forks fall behind — the rate is printed above — but never the adverts).
    expect(st.every((s) => s.state === 'OK' && s.checks >= 1)).toBe(true);
    expect(times.length).toBeGreaterThan(90); // ~100 adverts in 10 s
    expect(max).toBeLessThan(300); // Master_Down_Interval here is 0.36 s
    expect(b.transitions('VI_1').some((t) => t.to === 'MASTER')).toBe(false);
    expect(await b.state('VI_1')).toBe('BACKUP');
  });
});
