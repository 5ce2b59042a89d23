// CPU per HTTP check: vipd's client (src/health/http.ts: one socket and the
// http-wire.ts parser) against the client it replaced (http.request with
// agent: false — kept here only, as the baseline), in the same run, on the same
// targets. Runs natively (no IPVS, no guest): node dist-test/test/bench/guest/http-client-bench.js
// (npm run bench:http builds and runs it).
//   targets   a child process: BENCH_HTTP HTTP/1.1 listeners on 127.0.0.1 answering
//             200 "ok\n" (Content-Length, Connection: close)
//   clients   a child process per client and round: every target checked each second
//             (GET /, timeout 0.8 s), the first checks spread over the second; after
//             BENCH_WARM_S a window of BENCH_WINDOW_S seconds measures the process's CPU
//             (process.cpuUsage: user + system, every thread of it) and the checks completed.
// The clients alternate (vipd, reference, vipd, ...) BENCH_ROUNDS times so that a change in
// the machine's load touches both; the load average is printed with the results (the machine
// may be shared). Prints a table and the ratio; BENCH_OUT names a JSON file for the numbers.

import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { checkHttp } from '../../../src/health/http.js';
import { type CheckResult, type CheckSpec, settleCheck } from '../../../src/health/types.js';

const N = Number(process.env.BENCH_HTTP ?? 2000);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 5);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CLIENTS = ['vipd', 'http.request'] as const;
type Client = (typeof CLIENTS)[number];

interface Run {
  client: Client;
  checks: number;
  failed: number;
  firstFailure?: string;
  cpuMs: number;
  userMs: number;
  windowS: number;
  load: number[];
}

/** The baseline: one http.request per check, as src/health/http.ts did before (no digest, no body regex here). */
function requestCheck(s: CheckSpec): Promise<CheckResult> {
  return settleCheck(
    s.timeoutMs,
    () => `no complete HTTP answer within ${s.timeoutMs} ms`,
    (done) => {
      const req = http.request({ host: s.address, port: s.port, method: 'GET', path: '/', headers: { Host: `${s.address}:${s.port}`, 'User-Agent': 'vipd-health-check', Connection: 'close' }, agent: false }, (res) => {
        const code = res.statusCode ?? 0;
        if (code !== 200) return done(false, `HTTP ${code}`);
        res.on('data', () => {});
        res.once('end', () => done(true, `HTTP ${code}`));
        res.once('error', (err) => done(false, err.message));
      });
      req.once('error', (err) => done(false, err.message));
      req.end();
      return () => req.destroy();
    },
  );
}

function targets(): void {
  const ports: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = http.createServer((_q, r) => r.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('ok\n'));
    s.listen({ port: 0, host: '127.0.0.1', backlog: 511 }, () => {
      ports.push((s.address() as { port: number }).port);
      if (ports.length === N) process.send!(ports);
    });
  }
}

async function client(name: Client, ports: number[]): Promise<void> {
  const check = name === 'vipd' ? checkHttp : requestCheck;
  const t0 = performance.now();
  const windowStart = t0 + WARM_S * 1000;
  const windowEnd = windowStart + WINDOW_S * 1000;
  let checks = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const timers: NodeJS.Timeout[] = [];
  ports.forEach((port, i) => {
    const spec: CheckSpec = { type: 'http', address: '127.0.0.1', port, intervalMs: 1000, timeoutMs: 800, rise: 1, fall: 1, path: '/', expectedCodes: '200' };
    const run = (): void => {
      void check(spec).then((r) => {
        const now = performance.now();
        if (now < windowStart || now > windowEnd) return;
        checks++;
        if (r.ok) return;
        failed++;
        firstFailure ??= r.reason;
      });
    };
    timers.push(setTimeout(() => (run(), timers.push(setInterval(run, 1000))), (i * 1000) / ports.length));
  });
  await new Promise((r) => setTimeout(r, windowStart - performance.now()));
  const cpu0 = process.cpuUsage();
  const load0 = loadavg()[0]!;
  await new Promise((r) => setTimeout(r, windowEnd - performance.now()));
  const cpu = process.cpuUsage(cpu0);
  timers.forEach((t) => clearTimeout(t));
  const run: Run = { client: name, checks, failed, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, windowS: WINDOW_S, load: [load0, loadavg()[0]!], ...(firstFailure ? { firstFailure } : {}) };
  process.send!(run, () => process.exit(0));
}

function child<T>(args: string[]): Promise<{ msg: T; kill: () => void }> {
  const c = fork(new URL(import.meta.url), args, { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    c.once('message', (msg) => resolve({ msg: msg as T, kill: () => c.kill() }));
    c.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const t = await child<number[]>(['targets']);
  const runs: Run[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++)
      for (const name of r % 2 ? [...CLIENTS].reverse() : CLIENTS) {
        const { msg } = await child<Run>(['client', name, JSON.stringify(t.msg)]);
        runs.push(msg);
        console.log(`round ${r + 1} ${name}: ${msg.checks} checks (${msg.failed} failed${msg.firstFailure ? `: ${msg.firstFailure}` : ''}), CPU ${msg.cpuMs.toFixed(0)} ms (user ${msg.userMs.toFixed(0)}), load ${msg.load.map((l) => l.toFixed(2)).join(' -> ')}`);
      }
  } finally {
    t.kill();
  }
  const sum = (c: Client) => {
    const rs = runs.filter((x) => x.client === c);
    const checks = rs.reduce((a, x) => a + x.checks, 0);
    const cpuMs = rs.reduce((a, x) => a + x.cpuMs, 0);
    const s = rs.reduce((a, x) => a + x.windowS, 0);
    return { checks, failed: rs.reduce((a, x) => a + x.failed, 0), perS: checks / s, cpuPct: (cpuMs / (s * 1000)) * 100, usPerCheck: (cpuMs * 1000) / checks };
  };
  const v = sum('vipd');
  const ref = sum('http.request');
  const loads = runs.flatMap((x) => x.load);
  console.log(`\nHTTP checks: ${N} targets on 127.0.0.1, each checked every 1 s; ${ROUNDS} x ${WINDOW_S} s window per client; load average ${Math.min(...loads).toFixed(2)}..${Math.max(...loads).toFixed(2)} (2 cores)\n`);
  console.log('| client | checks /s | failed | CPU (% of one core) | CPU per check |\n|---|---|---|---|---|');
  for (const [name, x] of [['vipd (addon connection + http-wire)', v], ['http.request (before)', ref]] as const)
    console.log(`| ${name} | ${x.perS.toFixed(0)} | ${x.failed} | ${x.cpuPct.toFixed(1)} % | ${x.usPerCheck.toFixed(0)} µs |`);
  console.log(`\nCPU per check, vipd / http.request: ${(v.usPerCheck / ref.usPerCheck).toFixed(2)} (${((1 - v.usPerCheck / ref.usPerCheck) * 100).toFixed(0)} % less)`);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify({ n: N, windowS: WINDOW_S, rounds: ROUNDS, runs, vipd: v, reference: ref }, null, 1));
}

const [role, name, ports] = process.argv.slice(2);
if (role === 'targets') targets();
else if (role === 'client') void client(name as Client, JSON.parse(ports!) as number[]);
else await main();
