// Every IPVS scenario of the guest, by topology, in the order the guest runs
// them: main.ts runs them, test/vm/ipvs.test.ts declares a test for each title
// (`main.js tier`: the tier's, test/vm/tier.test.ts).

import { checkers } from './checkers.js';
import { daemon } from './daemon.js';
import { directors } from './directors.js';
import type { Topology } from './harness.js';
import { kernel } from './kernel.js';
import { parity } from './parity.js';
import { tier } from './tier.js';
import { traffic } from './traffic.js';

export const topologies: readonly Topology[] = [kernel, daemon, parity, checkers, traffic, directors];
/** The ECMP tier (BIRD 2, three directors): its own guest boot (test/vm/tier.test.ts, npm run bench:tier). */
export const tierTopologies: readonly Topology[] = [tier];
