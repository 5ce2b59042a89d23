// npm run bench:failover — the client-visible gap of a failover, vipd against
// keepalived 2.2.7 on the same lab in the same run.
//
// Two directors (priority 150 and 100, VRRPv3) and a client probing the VIP with
// ICMP echo every 10 ms. Events:
//   kill -9   power loss of the master: its daemon is SIGKILLed and its cable pulled
//             at the same instant (no priority-0 advert, no more answers for the VIP);
//   SIGTERM   graceful stop: priority 0, VIPs removed.
// The gap is the longest silence between two echo replies around the event.
// Also measured: the timing of the master's adverts (interval between adverts, as
// seen by the client's tcpdump) — the event loop's share of the failover budget.
//
// Environment: BENCH_REPS (default 3); to measure a part only: BENCH_ONLY=failover|jitter,
// BENCH_ADVERT=1|0.1, BENCH_EVENT='kill -9'|SIGTERM.

import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, release } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KeepalivedProc } from '../netns/keepalived.js';
import { type Lab, sleep, waitFor } from '../netns/lab.js';
import { directorsLab, instance, LB1, VIP } from '../netns/topo.js';
import { VipdProc } from '../netns/vipd.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
type Impl = 'vipd' | 'keepalived';
type Event = 'kill -9' | 'SIGTERM';

interface Director {
  hard(): void;
  graceful(): void;
  done(): Promise<unknown>;
}

let lab: Lab;

function startDirector(impl: Impl, host: string, priority: number, advert: number): Director {
  if (impl === 'vipd') {
    const p = new VipdProc(lab, host, { vrrp_instances: { VI_1: instance({ priority, advert_int: advert, garp_master_delay: 5 }) } });
    return { hard: () => p.kill('SIGKILL'), graceful: () => p.kill('SIGTERM'), done: () => p.wait(15_000) };
  }
  const k = new KeepalivedProc(lab, host, [{ name: 'VI_1', interface: 'eth0', vrid: 51, priority, advertInt: advert, version: 3, vips: [`${VIP}/24`] }]);
  return { hard: () => k.killHard(), graceful: () => void k.stop(), done: () => k.waitExit() };
}

/** `ping -D -i 0.01` from the client; reply timestamps in ms. */
function probe(): { stop(): Promise<number[]> } {
  const child: ChildProcess = lab.spawn('cl', 'ping', ['-n', '-D', '-i', '0.01', '-W', '1', VIP]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      return [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
    },
  };
}

function maxGap(ts: number[]): number {
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
  return gap;
}

function cleanup(): void {
  for (const h of ['lb1', 'lb2']) {
    lab.setCable(h, 'eth0', true);
    lab.ip(h, ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], true);
  }
  lab.ip('cl', ['neigh', 'flush', 'dev', 'eth0'], true);
}

async function failover(impl: Impl, advert: number, event: Event): Promise<number> {
  cleanup();
  const d1 = startDirector(impl, 'lb1', 150, advert);
  await sleep(50);
  const d2 = startDirector(impl, 'lb2', 100, advert);
  try {
    await waitFor(`${impl}: lb1 to become master`, () => lab.hasAddress('lb1', VIP) && !lab.hasAddress('lb2', VIP), 20_000);
    await sleep(Math.max(1200, 3 * advert * 1000)); // settled; past the client's ARP locktime
    const p = probe();
    await waitFor('probe replies', () => lab.ping('cl', VIP), 3000);
    await sleep(300);
    if (event === 'kill -9') {
      d1.hard();
      lab.setCable('lb1', 'eth0', false);
    } else d1.graceful();
    await waitFor(`${impl}: lb2 to take over`, () => lab.hasAddress('lb2', VIP), 20_000, 5);
    await sleep(Math.max(500, 2 * advert * 1000));
    const gap = maxGap(await p.stop());
    return gap;
  } finally {
    d1.hard();
    d2.hard();
    await Promise.all([d1.done(), d2.done()]).catch(() => undefined);
  }
}

/** Intervals between the master's adverts seen on the wire, in ms. */
async function advertIntervals(impl: Impl, advert: number, seconds: number): Promise<number[]> {
  cleanup();
  const d1 = startDirector(impl, 'lb1', 150, advert);
  try {
    await waitFor(`${impl}: lb1 to become master`, () => lab.hasAddress('lb1', VIP), 20_000);
    await sleep(500);
    const dump = lab.spawn('cl', 'tcpdump', ['-l', '-n', '-tt', '--time-stamp-precision=micro', '-i', 'eth0', 'ip proto 112 and src host ' + LB1]);
    let out = '';
    dump.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await sleep(seconds * 1000);
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('exit', r));
    const ts = [...out.matchAll(/^(\d+\.\d+) IP /gm)].map((m) => Number(m[1]) * 1000);
    return ts.slice(1).map((t, i) => t - ts[i]!);
  } finally {
    d1.hard();
    await d1.done().catch(() => undefined);
  }
}

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

const fmt = (ms: number) => (ms / 1000).toFixed(3);
const pad = (s: string, n: number) => s.padEnd(n);

beforeAll(() => {
  lab = directorsLab('bf');
});

afterAll(async () => {
  await lab?.destroy();
});

it('failover gap: vipd vs keepalived', async () => {
  const rows: string[] = [];
  const head = `| event | advert_int | vipd median (s) | keepalived median (s) | vipd/keepalived | Master_Down (s) | vipd runs | keepalived runs |`;
  rows.push(head, '|---|---|---|---|---|---|---|---|');
  const only = process.env.BENCH_ONLY;
  const adverts = [1, 0.1].filter((a) => !process.env.BENCH_ADVERT || Number(process.env.BENCH_ADVERT) === a);
  const events = (['kill -9', 'SIGTERM'] as Event[]).filter((e) => !process.env.BENCH_EVENT || process.env.BENCH_EVENT === e);
  for (const advert of only === 'jitter' ? [] : adverts) {
    for (const event of events) {
      const runs: Record<Impl, number[]> = { vipd: [], keepalived: [] };
      // Interleave the implementations so drift in the machine's load hits both alike.
      for (let r = 0; r < REPS; r++)
        for (const impl of ['vipd', 'keepalived'] as Impl[]) {
          const gap = await failover(impl, advert, event);
          runs[impl].push(gap);
          console.log(`  ${impl} ${event} advert ${advert}s run ${r + 1}: gap ${fmt(gap)} s`);
        }
      const mv = median(runs.vipd);
      const mk = median(runs.keepalived);
      const mdi = 3 * advert + (156 * advert) / 256;
      rows.push(
        `| ${event} | ${advert} s | ${fmt(mv)} | ${fmt(mk)} | ${(mv / mk).toFixed(2)} | ${fmt(mdi * 1000)} | ${runs.vipd.map(fmt).join(' ')} | ${runs.keepalived.map(fmt).join(' ')} |`,
      );
      expect(runs.vipd.every((g) => g > 0)).toBe(true);
    }
  }

  const jitter: string[] = ['| advert_int | implementation | adverts | interval p50 (ms) | p99 (ms) | max (ms) | |interval - nominal| p99 (ms) |', '|---|---|---|---|---|---|---|'];
  for (const advert of only === 'failover' ? [] : [0.1, 1]) {
    for (const impl of ['vipd', 'keepalived'] as Impl[]) {
      const iv = await advertIntervals(impl, advert, advert < 1 ? 10 : 20);
      const dev = iv.map((x) => Math.abs(x - advert * 1000));
      jitter.push(
        `| ${advert} s | ${impl} | ${iv.length + 1} | ${quantile(iv, 0.5).toFixed(2)} | ${quantile(iv, 0.99).toFixed(2)} | ${Math.max(...iv).toFixed(2)} | ${quantile(dev, 0.99).toFixed(2)} |`,
      );
      expect(iv.length).toBeGreaterThan(5);
    }
  }

  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.version}, ${REPS} runs per cell`;
  console.log(`\nFailover gap seen by a client probing the VIP every 10 ms (median of ${REPS}; ${machine})\n\n${rows.join('\n')}\n`);
  console.log(`Advert timing of the master (tcpdump on the client)\n\n${jitter.join('\n')}\n`);
});
