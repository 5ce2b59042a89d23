// One guest boot runs a list of topologies' scenarios (guest/main.js [ARG]); each
// scenario becomes a test here, failing with the guest's own words. Used by
// ipvs.test.ts (every IPVS topology) and tier.test.ts (the ECMP tier).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestResult, PROJECT, runInGuest } from '../../src/lab/qemu.js';
import { type ScenarioResult, type Topology, titles } from './guest/harness.js';

const MAIN = join(PROJECT, 'dist-test/test/vm/guest/main.js'); // built by the global setup (tsconfig.guest.json)

/** `onDone` sees the results before the share is removed (for summaries on the console). */
export function guestSuite(title: string, topologies: readonly Topology[], arg = '', onDone: (results: ScenarioResult[]) => void = () => {}): void {
  // The titles come from the scenario lists themselves: every scenario is a test here even if the guest dies early.
  const names = titles(topologies);
  let guest: GuestResult;
  let results: ScenarioResult[] = [];

  beforeAll(async () => {
    guest = await runInGuest(`exec node ${MAIN}${arg ? ` ${arg}` : ''}\n`, { timeoutMs: 900_000 });
    try {
      results = JSON.parse(readFileSync(join(guest.share, 'results.json'), 'utf8')) as ScenarioResult[];
    } catch {
      results = [];
    }
  }, 960_000);

  afterAll(() => {
    if (!guest) return;
    console.log(`guest: ${guest.ms} ms, scenarios: ${results.map((r) => `${r.ok ? 'ok' : 'FAIL'} ${r.ms} ms`).join(', ')}`);
    onDone(results);
    rmSync(guest.share, { recursive: true, force: true });
  });

  describe(title, () => {
    it('the guest ran the scenario batch to the end', () => {
      expect(guest.code, `guest exit ${guest.code}\n--- output ---\n${guest.output.slice(-4000)}\n--- console ---\n${guest.console.slice(-3000)}`).toBe(0);
    });

    for (const name of names) {
      it(name, () => {
        const r = results.find((x) => x.name === name);
        expect(r, `scenario did not run; guest output:\n${guest.output.slice(-4000)}\n${guest.console.slice(-2000)}`).toBeDefined();
        expect(r!.ok, `${r!.error}\n${JSON.stringify(r!.details, null, 1)?.slice(0, 6000)}`).toBe(true);
      });
    }

    it('every scenario the guest ran is one of the tests above', () => {
      expect(results.map((r) => r.name).filter((n) => !names.includes(n))).toEqual([]);
    });
  });
}
