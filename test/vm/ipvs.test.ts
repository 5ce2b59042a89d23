// IPVS on a real kernel: Debian's, booted under QEMU (this host's kernel has
// none). One guest boot runs every scenario of guest/ (one file per topology,
// listed in guest/scenarios.ts); each becomes a test here, failing with the
// guest's own words.

import { topologies } from './guest/scenarios.js';
import { guestSuite } from './suite.js';

guestSuite('IPVS in a QEMU guest (Debian kernel)', topologies, '', (results) => {
  const batch = results.find((r) => r.name.startsWith('batching'));
  if (batch?.ok) console.log(`batching in the guest (software-emulated CPU): ${JSON.stringify(batch.details)}`);
  const rec = results.find((r) => r.name.startsWith('reconcile'));
  if (rec?.ok) console.log(`reconcile in the guest: ${JSON.stringify(rec.details)}`);
});
