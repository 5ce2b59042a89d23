// The guest's entry point (node dist-test/test/vm/guest/main.js, in the share):
// loads the kernel's IPVS modules, gives it a route to the real servers'
// network, runs every scenario (VIPD_ONLY=regex: only the matching ones) and
// writes results.json. `main.js tier`: the ECMP tier's scenarios instead.

import { runTopologies, sh } from './harness.js';
import { tierTopologies, topologies } from './scenarios.js';

// Modules: IPVS core and every scheduler this kernel has; a route to the real servers.
sh('for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_pe_sip ipip fou veth bridge; do modprobe $m 2>/dev/null || true; done');
sh('ip link set lo up; ip link add rs0 type veth peer name rs1; ip link set rs0 up; ip link set rs1 up; ip addr add 10.20.255.254/16 dev rs0; ip -6 addr add 2001:db8::fe/64 dev rs0 nodad');

await runTopologies(process.argv[2] === 'tier' ? tierTopologies : topologies);
process.exit(0);
