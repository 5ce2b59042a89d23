// bin/vipd.js's environment (MALLOC_ARENA_MAX=1 on its first line, before node starts):
// a process whose threads all malloc holds one glibc arena per thread without it (each
// keeping what it freed: 24-36 MB under the check benchmark), only the main one with it. Counted in
// a child node process, started as bin/vipd.js starts the daemon or without the
// variable, with six worker threads allocating buffers (node's ArrayBuffer allocator is
// malloc) — glibc's thread arenas told apart by the arena address at the start of each
// of their heaps (64 MB-aligned anonymous mappings, read through /proc/self/mem).

import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { VIPD_NODE_ENV } from '../vm/guest/harness.js';

const child = `
const { Worker } = require('node:worker_threads');
const fs = require('node:fs');
let done = 0;
const code = "const { parentPort } = require('node:worker_threads'); const keep = []; for (let i = 0; i < 300; i++) { keep.push(Buffer.alloc(20000 + i)); if (keep.length > 50) keep.shift(); } parentPort.postMessage('done'); setTimeout(() => {}, 500);";
for (let i = 0; i < 6; i++) new Worker(code, { eval: true }).on('message', () => {
  if (++done < 6) return;
  // Each glibc heap (64 MB-aligned) starts with its arena's address; a thread arena lives in its first heap.
  const HEAP = 64 * 1024 * 1024, mem = fs.openSync('/proc/self/mem', 'r'), b = Buffer.alloc(8);
  const heaps = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => /^([0-9a-f]+)-[0-9a-f]+ rw-p 00000000 00:00 0\\s*$/.exec(l)).filter((m) => m && parseInt(m[1], 16) % HEAP === 0).map((m) => parseInt(m[1], 16));
  const arenas = new Set();
  for (const h of heaps) {
    fs.readSync(mem, b, 0, 8, h);
    const p = Number(b.readBigUInt64LE(0));
    if (heaps.some((x) => p > x && p < x + HEAP)) arenas.add(p);
  }
  console.log(arenas.size);
  process.exit(0);
});
`;
const run = (code: string, env: NodeJS.ProcessEnv, flags: string[] = []): string => {
  const { MALLOC_ARENA_MAX: _a, MALLOC_MMAP_THRESHOLD_: _m, ...rest } = process.env;
  return execFileSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8', env: { ...rest, ...env } }).trim();
};
const arenas = (env: NodeJS.ProcessEnv): number => Number(run(child, env));

it('bin/vipd.js keeps to one malloc arena, instead of one per thread', () => {
  expect(VIPD_NODE_ENV).toEqual({ MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '131072' });
  const free = arenas({});
  const limited = arenas(VIPD_NODE_ENV);
  expect(free).toBeGreaterThanOrEqual(6); // one per worker at least (11 on this host: V8's threads too)
  expect(limited).toBe(0); // the main arena only
});

// MALLOC_MMAP_THRESHOLD_ (bin/vipd.js's first line): glibc serves an allocation of 128 KiB or
// more with a mapping of its own — but, left to itself, raises that threshold to the size of
// each such block freed, so the next ones of that size come from the heap, where they stay
// (fragmented) after they are freed. Set, the threshold stays put. Counted here as the growth
// of [heap] while 40 blocks of 200 KB are held, the second time round.
const heapGrowth = `
const fs = require('node:fs');
const heap = () => { const m = /^([0-9a-f]+)-([0-9a-f]+) .*\\[heap\\]$/m.exec(fs.readFileSync('/proc/self/maps', 'utf8')); return m ? parseInt(m[2], 16) - parseInt(m[1], 16) : 0; };
let grew = 0;
for (let round = 0; round < 2; round++) {
  const before = heap();
  let held = Array.from({ length: 40 }, () => Buffer.allocUnsafeSlow(200000));
  grew = heap() - before;
  held = null;
  gc();
}
console.log(grew);
`;

it('bin/vipd.js keeps big blocks out of the heap after they are freed (a fixed mmap threshold)', () => {
  const dynamic = Number(run(heapGrowth, { MALLOC_ARENA_MAX: '1' }, ['--expose-gc']));
  const fixed = Number(run(heapGrowth, VIPD_NODE_ENV, ['--expose-gc']));
  expect(dynamic).toBeGreaterThan(6_000_000); // the second round's 8 MB from the heap
  expect(fixed).toBeLessThan(1_000_000);
});
