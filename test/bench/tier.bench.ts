// npm run bench:tier — the ECMP tier's events, measured: connections broken out of
// N established, new connections that failed meanwhile, and the time until the
// router converged, per event (a dead real server, kill -9 + cable pulled,
// SIGTERM, directors added back). It runs the tier's guest scenarios
// (test/vm/guest/tier.ts: three directors with vipd + BIRD 2 behind a BIRD
// router, in a QEMU guest with Debian's kernel) and prints their numbers.
//
// Environment: BENCH_FLOWS (established connections, default 120).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runInGuest } from '../../src/lab/qemu.js';
import type { ScenarioResult } from '../vm/guest/harness.js';

const MAIN = fileURLToPath(new URL('../../dist-test/test/vm/guest/main.js', import.meta.url)); // built by the global setup

interface Broken {
  total: number;
  byDirector: Record<string, number>;
}
interface Details {
  flows?: number;
  onDeadServer?: number;
  brokenOnDeadServer?: number;
  movedOthers?: number;
  onDeadDirector?: number;
  onStoppedDirector?: number;
  broken?: Broken;
  convergedMs?: number;
  withdrawnMs?: number;
  exitedMs?: number;
  newConnections?: { ok: number; failed: number };
  freshByDirector?: Record<string, number>;
}

it('the ECMP tier: connections broken and router convergence per event', async () => {
  const flows = Number(process.env.BENCH_FLOWS ?? 120);
  const g = await runInGuest(`VIPD_TIER_FLOWS=${flows} exec node ${MAIN} tier\n`, { timeoutMs: 30 * 60_000 });
  let results: ScenarioResult[];
  try {
    results = JSON.parse(readFileSync(join(g.share, 'results.json'), 'utf8')) as ScenarioResult[];
  } catch {
    throw new Error(`the guest wrote no results (exit ${g.code}):\n${g.output.slice(-4000)}\n${g.console.slice(-2000)}`);
  } finally {
    rmSync(g.share, { recursive: true, force: true });
  }
  const d = (prefix: RegExp): Details => (results.find((r) => prefix.test(r.name))?.details ?? {}) as Details;
  const up = d(/three directors/);
  const rs = d(/a real server dies/);
  const kill = d(/a director dies/);
  const term = d(/stops gracefully/);
  const add = d(/directors added back/);
  const nc = (x: Details) => (x.newConnections ? `${x.newConnections.failed} of ${x.newConnections.ok + x.newConnections.failed}` : '-');
  const rows = [
    ['event', 'established', 'on the affected director / server', 'broken', 'new connections failed', 'router converged'],
    ['---', '---', '---', '---', '---', '---'],
    ['start: three directors announce', String(flows), '-', '-', '-', up.convergedMs !== undefined ? `${up.convergedMs} ms (three vipd starting: node under emulation)` : '-'],
    ['a real server dies', String(flows), String(rs.onDeadServer ?? '-'), `${rs.brokenOnDeadServer ?? '-'} (its own) + ${rs.movedOthers ?? '-'} others`, '-', '- (no route change)'],
    ['kill -9 + cable pulled (BFD 200 ms x 5)', String(flows), String(kill.onDeadDirector ?? '-'), String(kill.broken?.total ?? '-'), nc(kill), kill.convergedMs !== undefined ? `${kill.convergedMs} ms` : '-'],
    ['SIGTERM (withdraw, drain 2 s, stop)', String(flows), String(term.onStoppedDirector ?? '-'), String(term.broken?.total ?? '-'), nc(term), term.withdrawnMs !== undefined ? `${term.withdrawnMs} ms (exit at ${term.exitedMs} ms)` : '-'],
    ['two directors added back', String(flows), `new flows: ${JSON.stringify(add.freshByDirector ?? {})}`, String(add.broken?.total ?? '-'), nc(add), add.convergedMs !== undefined ? `${add.convergedMs} ms (two vipd starting)` : '-'],
  ];
  console.log(`\nthe ECMP tier, ${flows} established connections, in the QEMU guest (emulated CPU):\n\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
  for (const r of results) if (!r.ok) console.log(`FAILED: ${r.name}\n${r.error}\n${JSON.stringify(r.details)?.slice(0, 2000)}`);
  expect(g.code, g.output.slice(-4000)).toBe(0);
});
