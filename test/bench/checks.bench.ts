// npm run bench:checks — health checking at scale: vipd vs keepalived 2.2.7's
// checker on the same targets, in the same QEMU guest run (keepalived's checker
// will not start without IPVS, which this host's kernel lacks). See
// guest/checks-bench.ts for what is measured and how.
//
// Environment: BENCH_TCP (10000), BENCH_HTTP (2000), BENCH_WARM_S (20),
// BENCH_WINDOW_S (30), BENCH_KILLS (100), BENCH_SCRAPE_S (5), BENCH_IDLE_S (15).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runInGuest } from '../../src/lab/qemu.js';

interface Result {
  name: string;
  startS: number;
  cpuPct: number;
  rssMb: number;
  servedPerS: number;
  detection: { n: number; missed: number; p50?: number; p99?: number; max: number };
  adverts: { n: number; jitterP50?: number; jitterP99?: number; maxInterval: number };
  spuriousTransitions: number;
  scrape?: { n: number; failed: number; warmupMs?: number[]; msP50?: number; msMax: number; ms?: number[]; bytes: number; maxAdvertIntervalDuring?: number };
  idle?: { processes: Record<string, number>; sumMb: number };
}

const SCRIPT = fileURLToPath(new URL('../../dist-test/test/bench/guest/checks-bench.js', import.meta.url)); // built by the global setup
const ENV = ['BENCH_TCP', 'BENCH_HTTP', 'BENCH_WARM_S', 'BENCH_WINDOW_S', 'BENCH_KILLS', 'BENCH_SCRAPE_S', 'BENCH_IDLE_S', 'BENCH_ONLY', 'BENCH_NODE_ARGS'];

it('health checks at scale: vipd vs keepalived', async () => {
  const env = ENV.filter((k) => process.env[k]).map((k) => `${k}='${process.env[k]!.replace(/'/g, "'\\''")}' `).join('');
  const g = await runInGuest(`ulimit -n 200000; ${env}exec node ${SCRIPT}\n`, { timeoutMs: 40 * 60_000, memMb: 4096, live: (s) => process.stdout.write(s) });
  let b: { tcp: number; http: number; windowS: number; kills: number; kernel: string; results: Result[] };
  try {
    b = JSON.parse(readFileSync(join(g.share, 'bench.json'), 'utf8'));
  } finally {
    // BENCH_KEEP=1: the share stays (profiles written there with BENCH_NODE_ARGS=--cpu-prof --cpu-prof-dir=/tmp/share).
    if (process.env.BENCH_KEEP) console.log(`share kept: ${g.share}`);
    else rmSync(g.share, { recursive: true, force: true });
  }
  expect(g.code, g.output.slice(-4000)).toBe(0);
  const ms = (x: number | undefined) => (x === undefined ? '-' : `${Math.round(x)} ms`);
  const rows = [
    ['', 'idle RSS (all processes)', 'checks served /s', 'CPU (% of one core)', 'RSS', 'detection p50', 'detection p99', 'missed', 'advert jitter p99', 'longest advert gap', 'spurious transitions'],
    ...b.results.map((r) => [
      r.name === 'vipd' ? 'vipd (one process: checker thread + VRRP)' : 'keepalived 2.2.7 (checker process; VRRP separate)',
      r.idle ? `${r.idle.sumMb.toFixed(0)} MB${Object.keys(r.idle.processes).length > 1 ? ` (${Object.entries(r.idle.processes).map(([p, mb]) => `${p} ${mb.toFixed(0)}`).join(', ')})` : ''}` : '-',
      String(r.servedPerS),
      `${r.cpuPct.toFixed(0)} %`,
      `${r.rssMb.toFixed(0)} MB`,
      ms(r.detection.p50),
      ms(r.detection.p99),
      `${r.detection.missed}/${r.detection.n + r.detection.missed}`,
      ms(r.adverts.jitterP99),
      ms(r.adverts.maxInterval),
      String(r.spuriousTransitions),
    ]),
  ];
  const v = b.results.find((r) => r.name === 'vipd');
  const k = b.results.find((r) => r.name === 'keepalived');
  const md = [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)];
  console.log(`\nHealth checks: ${b.tcp} TCP + ${b.http} HTTP real servers, each checked every 1 s; ${b.windowS} s window; ${b.kills} targets closed (QEMU guest, software-emulated CPU, kernel ${b.kernel})\n\n${md.join('\n')}\n`);
  if (v && k) console.log(`CPU vipd / keepalived: ${(v.cpuPct / k.cpuPct).toFixed(2)}x; RSS: ${(v.rssMb / k.rssMb).toFixed(1)}x; detection p50: ${((v.detection.p50 ?? 0) / (k.detection.p50 ?? 1)).toFixed(2)}x`);
  if (v?.scrape) console.log(`vipd /metrics under the load: ${v.scrape.n} scrapes (${v.scrape.failed} failed), ${(v.scrape.bytes / 1048576).toFixed(1)} MB, answer p50 ${v.scrape.msP50?.toFixed(0)} ms, max ${v.scrape.msMax.toFixed(0)} ms${v.scrape.ms ? ` (each: ${v.scrape.ms.join(', ')})` : ''}${v.scrape.warmupMs?.length ? `; before the window, from the end of start-up: ${v.scrape.warmupMs.join(', ')} ms` : ''}; longest advert interval overlapping a scrape ${v.scrape.maxAdvertIntervalDuring?.toFixed(0)} ms`);
  console.log(`raw: ${JSON.stringify(b.results)}`);
}, 45 * 60_000);
