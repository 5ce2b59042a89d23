// The checker thread's shared counts: the metrics read result counts and check
// timings from memory the thread writes, without a snapshot message — live,
// carried over when the set of checks changes, and never going back. A few
// checks run on the main thread (no second isolate); a reload that takes them
// past the line hands every check to the thread with its state.
// A real worker thread (the built dist/, as the daemon runs it) checking TCP
// ports on loopback: one open, one closed.

import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CheckSpec } from '../../src/health/types.js';
import type { CheckerThread as Thread } from '../../src/health/thread.js';
import { pino } from 'pino';

const { CheckerThread } = (await import(new URL('../../dist/health/thread.js', import.meta.url).href)) as { CheckerThread: typeof Thread };

let server: Server;
let open = 0;
let closed = 0;
beforeAll(async () => {
  server = createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open = (server.address() as { port: number }).port;
  // A port nobody listens on: bound, then closed.
  const s2 = createServer();
  await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
  closed = (s2.address() as { port: number }).port;
  await new Promise<void>((r) => s2.close(() => r()));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const spec = (port: number): CheckSpec => ({ type: 'tcp', address: '127.0.0.1', port, intervalMs: 50, timeoutMs: 500, rise: 1, fall: 1 });
const wanted = (...ports: number[]) => new Map(ports.map((p) => [`tcp|${p}`, { spec: spec(p), alpha: false }]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `cond` every 20 ms until it holds (an error after `ms`): on a loaded host the thread's checks come late, not never. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(20)) if (Date.now() > end) throw new Error(`not within ${ms} ms: ${cond.toString()}`);
}
const log = pino({ level: 'silent' });

it('counts results and timings live in memory shared with the thread, without a refresh', async () => {
  const t = new CheckerThread(() => {}, log, 0);
  t.set(wanted(open, closed));
  expect(t.threaded).toBe(true); // 2 checks every 50 ms: 40 a second
  try {
    expect(t.countsLive).toBe(true);
    const checks = (port: number) => t.getCounted(`tcp|${port}`)?.checks ?? 0;
    await until(() => checks(open) > 3 && checks(closed) > 3);
    const a1 = t.getCounted(`tcp|${open}`)!;
    const c1 = t.getCounted(`tcp|${closed}`)!;
    expect(a1.failures).toBe(0);
    expect(c1.failures).toBe(c1.checks);
    const n1 = a1.checks;
    await until(() => checks(open) > n1); // no refresh() in between
    // Read in this order: counts only grow, so the timings read after hold at least these.
    const nOpen = checks(open);
    const timings = t.timings();
    const tcp = timings.duration.tcp!;
    expect(tcp.count).toBeGreaterThanOrEqual(nOpen + c1.checks);
    expect(tcp.counts.reduce((x, y) => x + y, 0)).toBe(tcp.count);
    expect(timings.lag.count).toBe(tcp.count);

    // A new set of checks: the one kept carries its counts on, the new one starts at 0.
    const kept = checks(open);
    const other = createServer((c) => c.destroy());
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const third = (other.address() as { port: number }).port;
    try {
      t.set(wanted(open, third));
      expect(checks(open)).toBeGreaterThanOrEqual(kept);
      expect(t.getCounted(`tcp|${closed}`)).toBeUndefined();
      expect(t.getCounted(`tcp|${third}`)!.checks).toBe(0);
      await until(() => checks(open) > kept && checks(third) > 0);
      expect(t.getCounted(`tcp|${third}`)!.checks).toBeLessThan(kept);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  } finally {
    t.stop();
  }
});

it('a checker process shares nothing: its counts come with refresh()', async () => {
  const t = new CheckerThread(() => {}, log, 0, 'process');
  try {
    expect(t.countsLive).toBe(false);
    t.set(wanted(open));
    await sleep(400);
    expect(t.getCounted(`tcp|${open}`)!.checks).toBe(0);
    await t.refresh();
    expect(t.getCounted(`tcp|${open}`)!.checks).toBeGreaterThan(2);
  } finally {
    t.stop();
  }
});

it('a few checks run on the main thread; a reload past INLINE_RATE hands them to the thread with their state, which keeps them', async () => {
  const changes: string[] = [];
  const t = new CheckerThread((s, prev) => changes.push(`${s.key} ${prev}->${s.verdict}`), log, 0);
  type Entry = [string, { spec: CheckSpec; alpha: boolean }];
  const slow = (port: number, alpha: boolean): Entry => [`tcp|${port}`, { spec: { ...spec(port), intervalMs: 250 }, alpha }];
  // alpha: starts down, up after its first pass — were its state lost on a hand-over, it would go down and up again.
  const few = new Map([slow(open, true), slow(closed, false)]);
  try {
    t.set(few); // 8 runs a second
    expect(t.threaded).toBe(false);
    await sleep(700);
    expect([...changes].sort()).toEqual([`tcp|${closed} up->down`, `tcp|${open} down->up`].sort());
    const before = t.getCounted(`tcp|${open}`)!.checks;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(t.timings().duration.tcp!.count).toBeGreaterThanOrEqual(before);

    // 10 more checks every 50 ms: 208 runs a second, all of them to the thread.
    const many = new Map([...few, ...[...Array(10).keys()].map((i): Entry => [`tcp|${open}|${i}`, { spec: { ...spec(open), bindto: '127.0.0.1', timeoutMs: 400 + i }, alpha: false }])]);
    t.set(many);
    expect(t.threaded).toBe(true);
    expect(t.get(`tcp|${open}`)).toMatchObject({ verdict: 'up' });
    expect(t.get(`tcp|${closed}`)).toMatchObject({ verdict: 'down' });
    await sleep(700);
    expect(t.getCounted(`tcp|${open}`)!.checks).toBeGreaterThan(before); // counted on from where it was
    const inThread = t.getCounted(`tcp|${open}`)!.checks;

    // Few again: the thread keeps them (it is not ended while vipd runs), each with its state.
    t.set(few);
    expect(t.threaded).toBe(true);
    expect(t.get(`tcp|${open}`)).toMatchObject({ verdict: 'up' });
    await sleep(600);
    expect(t.getCounted(`tcp|${open}`)!.checks).toBeGreaterThan(inThread);
    expect(t.get(`tcp|${closed}`)).toMatchObject({ verdict: 'down' });
    // No verdict changed by any hand-over: still the first two.
    expect(changes).toHaveLength(2);
  } finally {
    t.stop();
  }
});

it("a check whose timing alone changed (a reload's new delay, timeout, rise or fall) goes on from the old one's state, here and in the thread; another target starts afresh", async () => {
  const changes: string[] = [];
  const t = new CheckerThread((s, prev) => changes.push(`${s.key} ${prev}->${s.verdict}`), log, 0);
  const at = (port: number, o: Partial<CheckSpec> = {}) => ({ spec: { ...spec(port), intervalMs: 250, ...o }, alpha: false });
  try {
    // On the main thread (4 runs a second): the closed port goes down.
    t.set(new Map([['a', at(closed)]]));
    expect(t.threaded).toBe(false);
    await until(() => t.get('a')?.verdict === 'down');
    const n = t.getCounted('a')!.checks;
    // A new delay, timeout, rise and fall: a new key, the same target — still down, counts go on, no change.
    t.set(new Map([['b', at(closed, { intervalMs: 200, timeoutMs: 300, rise: 2, fall: 2 })]]));
    expect(t.get('a')).toBeUndefined();
    expect(t.get('b')).toMatchObject({ verdict: 'down' });
    expect(t.getCounted('b')!.checks).toBeGreaterThanOrEqual(n);
    // Another port is another target: it starts as any new check does (up, not alpha).
    t.set(new Map([['c', at(open)]]));
    expect(t.get('c')).toMatchObject({ verdict: 'up', checks: 0 });

    // In the thread (40 runs a second): the same.
    t.set(new Map([['d', at(closed, { intervalMs: 50 })], ['e', at(open, { intervalMs: 50 })]]));
    expect(t.threaded).toBe(true);
    await until(() => t.get('d')?.verdict === 'down' && (t.getCounted('d')?.checks ?? 0) > 3);
    const m = t.getCounted('d')!.checks;
    t.set(new Map([['f', at(closed, { intervalMs: 60, fall: 3 })], ['e', at(open, { intervalMs: 50 })]]));
    expect(t.get('f')).toMatchObject({ verdict: 'down' }); // at once, before the thread's first word
    await until(() => (t.getCounted('f')?.checks ?? 0) > m);
    expect(t.get('f')).toMatchObject({ verdict: 'down' });
    expect(changes).toEqual(['a up->down', 'd up->down']);
  } finally {
    t.stop();
  }
});
