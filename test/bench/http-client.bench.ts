// npm run bench:http — CPU per HTTP health check: vipd's client against the
// http.request client it replaced, on the same loopback targets in the same run
// (natively: no IPVS, no guest). See guest/http-client-bench.ts for what is
// measured and how. Environment: BENCH_HTTP (2000 targets), BENCH_WARM_S (5),
// BENCH_WINDOW_S (20), BENCH_ROUNDS (2: vipd, reference, reference, vipd).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../dist-test/test/bench/guest/http-client-bench.js', import.meta.url)); // built by the global setup

it('HTTP checks: CPU per check, vipd vs http.request', () => {
  const r = spawnSync(process.execPath, [SCRIPT], { stdio: 'inherit', timeout: 20 * 60_000 });
  expect(r.status).toBe(0);
}, 25 * 60_000);
