// The ECMP tier in a QEMU guest (Debian's kernel: IPVS, mh, the sync daemon):
// an upstream router and three directors, each running BIRD 2, vipd announcing
// the VIP through its kernel table; a client's long-lived and new connections
// through kill -9, SIGTERM, a dead real server and directors added back
// (guest/tier.ts). Each scenario's numbers are printed.

import { tierTopologies } from './guest/scenarios.js';
import { guestSuite } from './suite.js';

guestSuite('the ECMP tier in a QEMU guest (BIRD 2, BGP + BFD, mh + sync)', tierTopologies, 'tier', (results) => {
  for (const r of results) console.log(`${r.ok ? 'ok' : 'FAIL'} ${r.name.slice(0, 90)}: ${JSON.stringify(r.details)?.slice(0, 1500)}`);
});
