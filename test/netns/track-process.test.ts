// track_process and track_file with real processes, real files and the real
// kernel. Two paths see processes:
// - the kernel's process connector: the first describe runs ProcessTracking in the
//   test runner's own network namespace (the initial one), where the kernel
//   delivers process events; it checks that this is the path taken;
// - the /proc rescan: every daemon test runs vipd under `ip netns exec`, where the
//   connector refuses (ECONNREFUSED: the kernel delivers to the initial network
//   namespace only); each daemon test checks that this is the path taken.
// The tracked processes are copies of sleep (and of bash, to fork) under names of
// their own. Timings use 0.1 s adverts.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { ProcessTracking } from '../../src/daemon/process-tracking.js';
import { createLogger } from '../../src/log.js';
import { type Lab, sleep, waitFor } from './lab.js';
import { directorsLab, holders, instance, VIP, VIP2 } from './topo.js';
import { Daemons, type VipdProc } from './vipd.js';

let lab: Lab;
const daemons = new Daemons(() => lab);
const procs: ChildProcess[] = [];
let bin: string;

/** A copy of `from` named `name` (its comm): a process nothing else on the host runs. */
function program(name: string, from = '/bin/sleep'): string {
  const p = join(bin, name);
  if (!existsSync(p)) copyFileSync(from, p);
  return p;
}

/** Starts a long-running copy of sleep named `name` (argv: PATH 300 ...extra). */
function start(name: string, extra: string[] = []): ChildProcess {
  const c = spawn(program(name), ['300', ...extra], { stdio: 'ignore' });
  procs.push(c);
  return c;
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

const effective = async (p: VipdProc, i = 0): Promise<number> => (await p.status()).vrrp.instances[i]!.effectivePriority;

function expectProcFallback(p: VipdProc): void {
  expect(p.logs.find((l) => l.event === 'track-process-fallback')).toMatchObject({ code: 'ECONNREFUSED', pollMs: 1000 });
}

/** Every process this file names (vta-*): what a test left running — a subshell outlives its bash — is killed, here and in an earlier run's leftovers. */
const killOurs = () => spawnSync('pkill', ['-KILL', '^vta-']);

beforeAll(() => {
  killOurs();
  lab = directorsLab('tp');
  bin = join(lab.dir, 'bin');
  mkdirSync(bin, { recursive: true });
});

afterEach(async () => {
  await daemons.killAll();
  for (const c of procs.splice(0)) await stop(c);
  killOurs();
  for (const h of ['lb1', 'lb2']) {
    lab.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
    lab.ip(h, ['addr', 'del', `${VIP2}/24`, 'dev', 'eth1'], true);
  }
});

afterAll(async () => {
  await lab?.destroy();
});

describe('the process connector (ProcessTracking in the initial network namespace)', () => {
  const MIN = 'vrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24]';

  function tracker(yaml: string): { t: ProcessTracking; changes: number[]; up: () => boolean } {
    const changes: number[] = [];
    const t = new ProcessTracking(createLogger({ level: 'fatal' }), () => changes.push(performance.now()));
    t.set(parseConfig(yaml, 'c.yaml'));
    return { t, changes, up: () => t.tracked('VI_1')[0]!.up };
  }

  it('an exec and an exit are seen as they happen, without a rescan', async () => {
    const name = 'vta-conn-a';
    program(name);
    const { t, up } = tracker(`vrrp_track_processes:\n  p: {process: ${name}}\n${MIN}, track_process: [p]}\n`);
    try {
      expect(t.status()[0]).toMatchObject({ state: 'DOWN', count: 0, detection: 'process connector' });
      const c = start(name);
      const t0 = performance.now();
      await waitFor('UP after the exec', up, 2000, 2);
      const upMs = performance.now() - t0;
      expect(t.status()[0]).toMatchObject({ state: 'UP', count: 1, pids: [c.pid] });
      const t1 = performance.now();
      await stop(c);
      await waitFor('DOWN after the exit', () => !up(), 2000, 2);
      const downMs = performance.now() - t1;
      console.log(`process connector: UP ${upMs.toFixed(1)} ms after spawn, DOWN ${downMs.toFixed(1)} ms after SIGKILL`);
      // Far below the fallback's 1 s period: events, not polling.
      expect(upMs).toBeLessThan(300);
      expect(downMs).toBeLessThan(300);
    } finally {
      t.stop();
    }
  });

  it('a process that renames itself (PROC_EVENT_COMM) stops counting, and counts again under its name', async () => {
    const name = 'vta-conn-rn';
    const sh = program(name, '/bin/bash');
    const { t, up } = tracker(`vrrp_track_processes:\n  p: {process: ${name}}\n${MIN}, track_process: [p]}\n`);
    try {
      // Only a process can rename itself (/proc/self/comm); bash's children (sleep) fork and exec away.
      const c = spawn(sh, ['-c', `sleep 0.5; printf %s vta-renamed > /proc/$$/comm; sleep 1; printf %s ${name} > /proc/$$/comm; sleep 300; true`], { stdio: 'ignore' });
      procs.push(c);
      await waitFor('UP at the exec', up, 2000, 2);
      await waitFor('DOWN after the rename', () => !up(), 2000, 2);
      expect(t.status()[0]!.count).toBe(0);
      await waitFor('UP after renaming back', up, 3000, 2);
      expect(t.status()[0]!.pids).toContain(c.pid);
    } finally {
      t.stop();
    }
  });

  it('a tracked process that forks: the child counts at once, and fork_delay holds the gained quorum back', async () => {
    const name = 'vta-conn-fork';
    const sh = program(name, '/bin/bash');
    const { t, up, changes } = tracker(`vrrp_track_processes:\n  p: {process: ${name}, quorum: 2, fork_delay: 1}\n${MIN}, track_process: [p]}\n`);
    try {
      // bash runs a subshell (a fork that keeps bash's name) next to itself.
      const c = spawn(sh, ['-c', '(while :; do sleep 1; done) & sleep 0.5; wait'], { stdio: 'ignore' });
      procs.push(c);
      await waitFor('two processes counted', () => t.status()[0]!.count === 2, 3000, 5);
      const st = t.status()[0]!;
      expect(st.state).toBe('DOWN'); // quorum reached by a fork: waits 1 s
      expect(st.pendingMs).toBeGreaterThan(300);
      expect(up()).toBe(false);
      await waitFor('UP after fork_delay', up, 2500, 10);
      // The change is reported once, on the next turn of the event loop (changes of one turn come together).
      await waitFor('the change reported', () => changes.length > 0, 1000, 5);
      expect(changes.length).toBe(1);
      await stop(c); // bash dies, its subshell lives on: 1 < quorum
      await waitFor('DOWN when bash exits', () => !up(), 2000, 5);
      spawn('pkill', ['-KILL', '-x', name]);
      await waitFor('none left', () => t.status()[0]!.count === 0, 3000, 5);
    } finally {
      t.stop();
    }
  });
});

describe('track_process between two daemons (vipd in network namespaces: the /proc rescan)', () => {
  it('weight 0: the process killed puts the master in FAULT and the backup takes over; started again, it is master again', async () => {
    const name = 'vta-hap';
    start(name);
    const top = { vrrp_track_processes: { hap: { process: name } } };
    const [a, b] = await daemons.masterThenBackup({ ...top, vrrp_instances: { VI_1: instance({ priority: 150, track_process: ['hap'] }) } }, { vrrp_instances: { VI_1: instance({ priority: 100 }) } });
    expectProcFallback(a);
    expect((await a.status()).vrrp.processes).toMatchObject([{ name: 'hap', state: 'UP', count: 1, quorum: 1, trackedBy: ['VI_1'], detection: '/proc every 1s' }]);
    await stop(procs[0]!);
    await a.waitState('VI_1', 'FAULT', 3000);
    await b.waitState('VI_1', 'MASTER', 2000);
    expect(String(a.transitions('VI_1').at(-1)!.reason)).toMatch(/track_process hap \(0 running\) is down/);
    expect(holders(lab)).toEqual(['lb2']);
    start(name);
    await a.waitState('VI_1', 'MASTER', 3000);
    await b.waitState('VI_1', 'BACKUP', 3000);
    expect(holders(lab)).toEqual(['lb1']);
  });

  it('a negative weight lowers the priority below the peer\'s; full_command with param_match partial matches argv', async () => {
    const name = 'vta-neg';
    const path = program(name);
    start(name, ['1']); // argv: PATH 300 1
    const top = { vrrp_track_processes: { p: { process: `${path} 300`, param_match: 'partial', weight: -60 } } };
    const [a, b] = await daemons.masterThenBackup({ ...top, vrrp_instances: { VI_1: instance({ priority: 150, track_process: ['p'] }) } }, { vrrp_instances: { VI_1: instance({ priority: 100 }) } });
    expect(await effective(a)).toBe(150);
    await stop(procs[0]!);
    await b.waitState('VI_1', 'MASTER', 3000); // 150 - 60 = 90 < 100
    await a.waitState('VI_1', 'BACKUP', 3000);
    expect(await effective(a)).toBe(90);
    start(name, ['2']); // PATH 300 2: the configured "300" is still the first parameter
    await a.waitState('VI_1', 'MASTER', 3000);
    expect(await effective(a)).toBe(150);
  });

  it('quorum 2 with one process up is down; the second brings it up; quorum_max 2 and a third takes it down again', async () => {
    const name = 'vta-quorum';
    start(name);
    const a = daemons.start('lb1', { vrrp_track_processes: { q: { process: name, quorum: 2, quorum_max: 2 } }, vrrp_instances: { VI_1: instance({ priority: 150, track_process: ['q'] }) } });
    await a.ready();
    await a.waitState('VI_1', 'FAULT', 3000);
    expect((await a.status()).vrrp.processes![0]).toMatchObject({ state: 'DOWN', count: 1, quorum: 2, quorumMax: 2 });
    start(name);
    await a.waitState('VI_1', 'MASTER', 4000);
    start(name);
    await a.waitState('VI_1', 'FAULT', 3000);
    expect((await a.status()).vrrp.processes![0]).toMatchObject({ state: 'DOWN', count: 3 });
    // Reload: a changed definition takes effect (quorum_max 3: UP again); an unchanged one keeps its state.
    a.write({ vrrp_track_processes: { q: { process: name, quorum: 2, quorum_max: 3 }, other: { process: 'vta-nothing' } }, vrrp_instances: { VI_1: instance({ priority: 150, track_process: ['q', { name: 'other', weight: -10 }] }) } });
    a.kill('SIGHUP');
    await a.waitState('VI_1', 'MASTER', 4000);
    expect((await a.status()).vrrp.processes).toMatchObject([{ name: 'q', state: 'UP', count: 3, quorumMax: 3 }, { name: 'other', state: 'DOWN', count: 0 }]);
    expect(await effective(a)).toBe(140);
  });

  it('terminate_delay: a process restarted within it does not move the master; one that stays away does, after it', async () => {
    const name = 'vta-delay';
    start(name);
    const a = daemons.start('lb1', { vrrp_track_processes: { d: { process: name, terminate_delay: 4 } }, vrrp_instances: { VI_1: instance({ priority: 150, track_process: ['d'] }) } });
    await a.ready();
    await a.waitState('VI_1', 'MASTER', 3000);
    await stop(procs[0]!);
    await waitFor('the exit seen, the change pending', async () => (await a.status()).vrrp.processes![0]!.pendingMs !== undefined, 3000);
    start(name);
    await waitFor('the restart seen', async () => (await a.status()).vrrp.processes![0]!.count === 1, 3000);
    expect((await a.status()).vrrp.processes![0]).toMatchObject({ state: 'UP' });
    expect((await a.status()).vrrp.processes![0]!.pendingMs).toBeUndefined();
    await stop(procs[1]!);
    const t0 = Date.now();
    await a.waitState('VI_1', 'FAULT', 7000);
    expect(Date.now() - t0).toBeGreaterThan(3500);
    expect(a.transitions('VI_1').filter((t) => t.to === 'FAULT')).toHaveLength(1);
  });
});

describe('track_file between two daemons', () => {
  const dir = (): string => {
    const d = join(lab.dir, 'tf');
    mkdirSync(d, { recursive: true });
    return d;
  };

  it('weight 0: a non-zero value is FAULT, 0 is back; init_file creates the file; a deleted file reads 0', async () => {
    const file = join(dir(), 'fault');
    rmSync(file, { force: true });
    const top = { vrrp_track_files: { f: { file, weight: 0, init_file: 0 } } };
    const [a, b] = await daemons.masterThenBackup({ ...top, vrrp_instances: { VI_1: instance({ priority: 150, track_file: ['f'] }) } }, { vrrp_instances: { VI_1: instance({ priority: 100 }) } });
    expect(readFileSync(file, 'utf8')).toBe('0\n');
    expect((await a.status()).vrrp.files).toEqual([{ name: 'f', file, value: 0, trackedBy: ['VI_1'] }]);
    writeFileSync(file, '1\n');
    await a.waitState('VI_1', 'FAULT', 2000);
    await b.waitState('VI_1', 'MASTER', 2000);
    expect(String(a.transitions('VI_1').at(-1)!.reason)).toMatch(/track_file f is 1/);
    writeFileSync(file, '0\n');
    await a.waitState('VI_1', 'MASTER', 3000);
    writeFileSync(file, '7');
    await a.waitState('VI_1', 'FAULT', 2000);
    rmSync(file);
    await a.waitState('VI_1', 'MASTER', 3000);
    expect((await a.status()).vrrp.files![0]!.value).toBe(0);
  });

  it('the value times the weight moves the priority; a file replaced by a rename is read; init_file leaves an existing file alone', async () => {
    const file = join(dir(), 'prio');
    writeFileSync(file, '0\n');
    const top = { vrrp_track_files: { p: { file, weight: 10, init_file: 9 } } };
    const [a, b] = await daemons.masterThenBackup({ ...top, vrrp_instances: { VI_1: instance({ priority: 150, track_file: ['p'] }) } }, { vrrp_instances: { VI_1: instance({ priority: 100 }) } });
    expect(readFileSync(file, 'utf8')).toBe('0\n');
    expect(await effective(a)).toBe(150);
    writeFileSync(`${file}.new`, '-6\n');
    renameSync(`${file}.new`, file); // the atomic way to write it
    await b.waitState('VI_1', 'MASTER', 3000); // 150 - 60 = 90 < 100
    expect(await effective(a)).toBe(90);
    writeFileSync(file, '0x2'); // strtol base 0, as keepalived reads it: +20
    await a.waitState('VI_1', 'MASTER', 3000);
    expect(await effective(a)).toBe(170);
  });
});

describe('sync groups track processes and files for every member', () => {
  it('the group\'s track_process and track_file put both members in FAULT and the peer takes both VIPs', async () => {
    const name = 'vta-group';
    start(name);
    const file = join(lab.dir, 'group-file');
    writeFileSync(file, '0');
    const cfg = (prio: number, tracks: boolean) => ({
      ...(tracks ? { vrrp_track_processes: { hap: { process: name } }, vrrp_track_files: { f: { file, weight: 0 } } } : {}),
      vrrp_instances: {
        VI_1: instance({ priority: prio }),
        VI_2: instance({ priority: prio, interface: 'eth1', vrid: 52, virtual_ipaddress: [`${VIP2}/24`] }),
      },
      vrrp_sync_groups: { G1: { group: ['VI_1', 'VI_2'], ...(tracks ? { track_process: ['hap'], track_file: ['f'] } : {}) } },
    });
    const [a, b] = await daemons.masterThenBackup(cfg(150, true), cfg(100, false));
    expect((await a.status()).vrrp.processes![0]!.trackedBy).toEqual(['VI_1', 'VI_2']);
    await stop(procs[0]!);
    for (const i of ['VI_1', 'VI_2']) await b.waitState(i, 'MASTER', 3000);
    for (const i of ['VI_1', 'VI_2']) expect(await a.state(i)).toBe('FAULT');
    expect(holders(lab, VIP2)).toEqual(['lb2']);
    start(name);
    for (const i of ['VI_1', 'VI_2']) await a.waitState(i, 'MASTER', 4000);
    writeFileSync(file, '1');
    for (const i of ['VI_1', 'VI_2']) await a.waitState(i, 'FAULT', 3000);
    for (const i of ['VI_1', 'VI_2']) await b.waitState(i, 'MASTER', 3000);
    await sleep(100);
    expect(holders(lab)).toEqual(['lb2']);
  });
});
