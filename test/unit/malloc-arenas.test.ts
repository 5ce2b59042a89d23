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
const arenas = (env: NodeJS.ProcessEnv): number => {
  const { MALLOC_ARENA_MAX: _, ...rest } = process.env;
  return Number(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8', env: { ...rest, ...env } }).trim());
};

it('bin/vipd.js keeps to one malloc arena, instead of one per thread', () => {
  expect(VIPD_NODE_ENV).toEqual({ MALLOC_ARENA_MAX: '1' });
  const free = arenas({});
  const limited = arenas(VIPD_NODE_ENV);
  expect(free).toBeGreaterThanOrEqual(6); // one per worker at least (11 on this host: V8's threads too)
  expect(limited).toBe(0); // the main arena only
});
