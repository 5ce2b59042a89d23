// npm run bench:ipvs — programming a large IPVS table: vipd vs ipvsadm-restore vs
// keepalived 2.2.7, in the same QEMU guest (Debian's kernel; this host has no
// IPVS) in the same run. See guest/ipvs-bench.ts for what is timed.
//
// Environment: BENCH_REPS (default 3), BENCH_NOOP_PAIRS (no-ops timed beside the floor's per repetition, default 6).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runInGuest } from '../../src/lab/qemu.js';

interface Run {
  loadMs: number;
  noopMs?: number;
  changeMs?: number;
}
interface Bench {
  reps: number;
  kernel?: string;
  runs: { vipd: Run[]; vipdMemory?: Run[]; floor?: Run[]; noopPairs?: { vipdMs: number; floorMs: number }[][]; vipdRun: Run[]; ipvsadm: Run[]; keepalived: Run[] };
}

const SCRIPT = fileURLToPath(new URL('../../dist-test/test/bench/guest/ipvs-bench.js', import.meta.url)); // built by the global setup
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

it('IPVS table programming: vipd vs ipvsadm-restore vs keepalived', async () => {
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const g = await runInGuest(`BENCH_REPS=${reps} BENCH_NOOP_PAIRS=${Number(process.env.BENCH_NOOP_PAIRS ?? 6)} exec node ${SCRIPT}\n`, { timeoutMs: 50 * 60_000 });
  let b: Bench;
  try {
    b = JSON.parse(readFileSync(join(g.share, 'bench.json'), 'utf8')) as Bench;
  } catch {
    throw new Error(`the guest wrote no results (exit ${g.code}):\n${g.output.slice(-4000)}\n${g.console.slice(-2000)}`);
  } finally {
    rmSync(g.share, { recursive: true, force: true });
  }
  expect(g.code, g.output.slice(-4000)).toBe(0);
  const m = (runs: Run[], k: keyof Run): number | undefined => {
    const xs = runs.map((r) => r[k]).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const fmt = (x: number | undefined): string => (x === undefined ? '-' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
  const k = b.runs.keepalived;
  const ratio = (x: number | undefined, ref: number | undefined): string => (x === undefined || ref === undefined ? '-' : `${(ref / x).toFixed(1)}x`);
  const rows = [
    ['', 'load 1,000 x 10', 'no-op', '10% change (1,000 weights)', 'load vs keepalived', 'change vs keepalived'],
    ...([
      ['vipd (reconcile, in process)', b.runs.vipd],
      ['vipd (reconcile from memory: verdicts)', b.runs.vipdMemory ?? []],
      ['floor: the same messages pre-built, dump not decoded', b.runs.floor ?? []],
      ['vipd run (daemon start / SIGHUP)', b.runs.vipdRun],
      ['ipvsadm -R (restore)', b.runs.ipvsadm],
      ['keepalived 2.2.7 (start / SIGHUP)', k],
    ] as const).map(([name, runs]) => [
      name,
      fmt(m(runs, 'loadMs')),
      fmt(m(runs, 'noopMs')),
      fmt(m(runs, 'changeMs')),
      ratio(m(runs, 'loadMs'), m(k, 'loadMs')),
      ratio(m(runs, 'changeMs'), m(k, 'changeMs')),
    ]),
  ];
  const md = [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)];
  console.log(`\nIPVS programming, median of ${b.reps} (QEMU guest, software-emulated CPU, kernel ${b.kernel ?? '?'})\n\n${md.join('\n')}\n`);
  // vipd against the floor within each repetition (the same moment of a noisy emulated CPU).
  const floor = b.runs.floor ?? [];
  const perRep = (k: 'loadMs' | 'noopMs') => b.runs.vipd.map((r, i) => (floor[i]?.[k] && r[k] ? r[k]! / floor[i]![k]! : undefined)).filter((x): x is number => x !== undefined);
  for (const [what, k] of [['load', 'loadMs'], ['no-op', 'noopMs']] as const) {
    const xs = perRep(k);
    if (xs.length) console.log(`vipd / floor, ${what}, per repetition: ${xs.map((x) => `${x.toFixed(2)}x`).join(' ')} (median ${median(xs).toFixed(2)}x)`);
  }
  // The no-op side by side with the floor, in turns (see guest/ipvs-bench.ts): the ratio of each pair.
  const pairs = b.runs.noopPairs ?? [];
  if (pairs.length) {
    const ratios = pairs.map((rep) => rep.map((p) => p.vipdMs / p.floorMs));
    for (const [i, xs] of ratios.entries()) console.log(`vipd / floor, no-op side by side, repetition ${i + 1}: ${xs.map((x) => `${x.toFixed(2)}x`).join(' ')} (median ${median(xs).toFixed(2)}x; vipd ${median(pairs[i]!.map((p) => p.vipdMs)).toFixed(1)} ms, floor ${median(pairs[i]!.map((p) => p.floorMs)).toFixed(1)} ms)`);
    console.log(`vipd / floor, no-op side by side, all ${ratios.flat().length} pairs: median ${median(ratios.flat()).toFixed(2)}x`);
  }
  console.log(`raw: ${JSON.stringify(b.runs)}`);
}, 60 * 60_000);
