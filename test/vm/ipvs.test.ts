// IPVS on a real kernel: Debian's, booted under QEMU (this host's kernel has
// none). One guest boot runs every scenario of guest/ (one file per topology,
// listed in guest/scenarios.ts); each becomes a test here, failing with the
// guest's own words.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestResult, PROJECT, runInGuest } from '../../src/lab/qemu.js';
import { type ScenarioResult, titles } from './guest/harness.js';
import { topologies } from './guest/scenarios.js';

// The titles come from the scenario lists themselves: every scenario is a test here even if the guest dies early.
const NAMES = titles(topologies);
const MAIN = join(PROJECT, 'dist-test/test/vm/guest/main.js'); // built by the global setup (tsconfig.guest.json)

let guest: GuestResult;
let results: ScenarioResult[] = [];

beforeAll(async () => {
  guest = await runInGuest(`exec node ${MAIN}\n`, { timeoutMs: 900_000 });
  try {
    results = JSON.parse(readFileSync(join(guest.share, 'results.json'), 'utf8')) as ScenarioResult[];
  } catch {
    results = [];
  }
}, 960_000);

afterAll(() => {
  if (!guest) return;
  console.log(`guest: ${guest.ms} ms, scenarios: ${results.map((r) => `${r.ok ? 'ok' : 'FAIL'} ${r.ms} ms`).join(', ')}`);
  const batch = results.find((r) => r.name.startsWith('batching'));
  if (batch?.ok) console.log(`batching in the guest (software-emulated CPU): ${JSON.stringify(batch.details)}`);
  const rec = results.find((r) => r.name.startsWith('reconcile'));
  if (rec?.ok) console.log(`reconcile in the guest: ${JSON.stringify(rec.details)}`);
  rmSync(guest.share, { recursive: true, force: true });
});

describe('IPVS in a QEMU guest (Debian kernel)', () => {
  it('the guest ran the scenario batch to the end', () => {
    expect(guest.code, `guest exit ${guest.code}\n--- output ---\n${guest.output.slice(-4000)}\n--- console ---\n${guest.console.slice(-3000)}`).toBe(0);
  });

  for (const name of NAMES) {
    it(name, () => {
      const r = results.find((x) => x.name === name);
      expect(r, `scenario did not run; guest output:\n${guest.output.slice(-4000)}\n${guest.console.slice(-2000)}`).toBeDefined();
      expect(r!.ok, `${r!.error}\n${JSON.stringify(r!.details, null, 1)?.slice(0, 6000)}`).toBe(true);
    });
  }

  it('every scenario the guest ran is one of the tests above', () => {
    expect(results.map((r) => r.name).filter((n) => !NAMES.includes(n))).toEqual([]);
  });
});
