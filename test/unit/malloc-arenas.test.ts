// bin/vipd.js's environment (MALLOC_ARENA_MAX=2 on its first line, before node starts):
// a process whose threads all malloc holds one glibc arena per thread without it (each
// keeping what it freed: 24-36 MB under the check benchmark), two with it. Counted in
// a child node process, started as bin/vipd.js starts the daemon or without the
// variable, with six worker threads allocating buffers (node's ArrayBuffer allocator is
// malloc) — glibc's thread arenas are the 64 MB-aligned anonymous read-write mappings
// of /proc/self/smaps.

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
  let n = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ rw-p 00000000 00:00 0\\s*$/.exec(line);
    if (m && parseInt(m[1], 16) % (64 * 1024 * 1024) === 0) n++;
  }
  console.log(n);
  process.exit(0);
});
`;
const arenas = (env: NodeJS.ProcessEnv): number => {
  const { MALLOC_ARENA_MAX: _, ...rest } = process.env;
  return Number(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8', env: { ...rest, ...env } }).trim());
};

it('bin/vipd.js limits its malloc arenas to two, instead of one per thread', () => {
  expect(VIPD_NODE_ENV).toEqual({ MALLOC_ARENA_MAX: '2' });
  const free = arenas({});
  const limited = arenas(VIPD_NODE_ENV);
  expect(free).toBeGreaterThanOrEqual(6); // one per worker at least (18-20 on this host)
  expect(limited).toBeLessThanOrEqual(4); // the one shared, and any made before the call (1-3 here)
});
