// IPVS on a real kernel: Debian's, booted under QEMU (this host's kernel has
// none). One guest boot runs every scenario of guest/ipvs-scenarios.mjs; each
// becomes a test here, failing with the guest's own words.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestResult, runInGuest } from '../../src/lab/qemu.js';

interface ScenarioResult {
  name: string;
  ok: boolean;
  ms: number;
  details?: unknown;
  error?: string;
}

const SCENARIOS = fileURLToPath(new URL('./guest/ipvs-scenarios.mjs', import.meta.url));
const NAMES = [
  'every kind of service and real server: the kernel holds exactly what ipvsadm would have programmed',
  'dumps decode to what was programmed (services, flags, persistence, tunnels)',
  'edit in place: weight, thresholds, scheduler and persistence change without re-creating',
  'errors: a missing scheduler, a duplicate service, a non-unicast real server, a missing service — each reported with its code, the rest applied',
  'batching: 1,000 services x 10 real servers in one apply, then one dump',
  'timeouts and the connection sync daemon',
  'reconcile: converges after hand edits with ipvsadm, in few operations, and leaves a foreign service alone',
  'vipd run: programs the configured table, applies a reload as a difference, rejects a bad reload, keeps the table on stop (flush_on_stop removes only its own)',
  'vipd run repairs hand edits by itself: the periodic resync (resync_interval) restores a deleted real server and a changed weight, and says so',
  'traffic: NAT, direct routing and IPIP tunnel end to end over TCP and UDP — rr alternates, wrr honours 3:1, sh keeps a client on one server; ipvsadm --stats agrees',
  'an established TCP connection through the director survives a vipd restart and a config reload',
  'bad input: a scheduler the kernel lacks and an unroutable real server — clear errors, the rest of the table applied; a duplicate service is a config error at file:line:col',
  'the Octavia tutorial: two workers behind two directors — requests alternate, a stopped worker leaves the pool with no failed request after detection and returns, the backup takes over on a master kill with the same health view',
  'a master reloading 10,000 real servers keeps its VIP: the parse runs in a thread and the dump yields, so its adverts go on and the backup never takes over',
  "metrics: a real Prometheus scrapes vipd in the guest — vipd_ipvs_up 1, the real servers' weights and counters from the kernel's table, a reload's operations counted",
];

let guest: GuestResult;
let results: ScenarioResult[] = [];

beforeAll(async () => {
  guest = await runInGuest(`exec node ${SCENARIOS}\n`, { timeoutMs: 900_000 });
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
