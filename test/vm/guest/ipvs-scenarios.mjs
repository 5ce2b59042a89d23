// Runs inside the QEMU guest (Debian kernel, real IPVS), chrooted into the host
// filesystem: exercises vipd's IPVS client against the kernel and compares with
// ipvsadm — the kernel's own view. Writes results.json to the working directory
// (the share): [{ name, ok, ms, details?, error? }].

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const dist = (p) => new URL(`../../../dist/${p}`, import.meta.url).href;
const { IpvsClient, describeOp } = await import(dist('ipvs/client.js'));
const { Reconciler } = await import(dist('ipvs/reconcile.js'));

const sh = (cmd, input) => execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const results = [];
async function scenario(name, fn) {
  const t0 = Date.now();
  try {
    const details = await fn();
    results.push({ name, ok: true, ms: Date.now() - t0, details });
  } catch (err) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.stack ?? err), details: err?.details });
  }
  writeFileSync('results.json', JSON.stringify(results, null, 1));
}
function assertEq(actual, expected, what) {
  const a = JSON.stringify(actual, null, 1);
  const e = JSON.stringify(expected, null, 1);
  if (a !== e) {
    const err = new Error(`${what}: differs`);
    err.details = { expected, actual };
    throw err;
  }
}

// Modules: IPVS core and every scheduler this kernel has; a route to the real servers.
sh('for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_pe_sip ipip fou veth; do modprobe $m 2>/dev/null || true; done');
sh('ip link set lo up; ip link add rs0 type veth peer name rs1; ip link set rs0 up; ip link set rs1 up; ip addr add 10.20.255.254/16 dev rs0; ip -6 addr add 2001:db8::fe/64 dev rs0 nodad');

const client = new IpvsClient();
const tcp = (address, port) => ({ family: 'inet', protocol: 'tcp', address, port });
const udp = (address, port) => ({ family: 'inet', protocol: 'udp', address, port });
const sctp = (address, port) => ({ family: 'inet', protocol: 'sctp', address, port });
const svc = (key, scheduler, o = {}) => ({ key, scheduler, schedFlags: { fallback: false, port: false }, persistence: 0, netmask: key.family === 'inet' ? '255.255.255.255' : '128', onePacket: false, ...o });
const dest = (address, port, forwarding, weight, o = {}) => ({ key: { address, port }, forwarding, weight, upperThreshold: 0, lowerThreshold: 0, ...o });

// Every kind of service and real server, each with the ipvsadm command that means the same.
const table = [
  [svc(tcp('10.10.0.1', 80), 'rr'), '-A -t 10.10.0.1:80 -s rr', [
    [dest('10.20.0.1', 8080, 'nat', 1), '-a -t 10.10.0.1:80 -r 10.20.0.1:8080 -m -w 1'],
    [dest('10.20.0.2', 8080, 'nat', 2, { upperThreshold: 100, lowerThreshold: 10 }), '-a -t 10.10.0.1:80 -r 10.20.0.2:8080 -m -w 2 -x 100 -y 10'],
  ]],
  [svc(udp('10.10.0.1', 53), 'wrr', { onePacket: true }), '-A -u 10.10.0.1:53 -s wrr -o', [
    [dest('10.20.0.3', 53, 'dr', 5), '-a -u 10.10.0.1:53 -r 10.20.0.3:53 -g -w 5'],
    [dest('10.20.0.4', 53, 'tunnel', 0, { tunnel: { type: 'ipip' } }), '-a -u 10.10.0.1:53 -r 10.20.0.4:53 -i -w 0'],
  ]],
  [svc(sctp('10.10.0.2', 3868), 'sh', { schedFlags: { fallback: true, port: true } }), '-A --sctp-service 10.10.0.2:3868 -s sh -b sh-fallback,sh-port', [
    [dest('10.20.0.5', 3868, 'nat', 1), '-a --sctp-service 10.10.0.2:3868 -r 10.20.0.5:3868 -m -w 1'],
  ]],
  [svc({ family: 'inet', fwmark: 7 }, 'lc', { persistence: 300, netmask: '255.255.255.0' }), '-A -f 7 -s lc -p 300 -M 255.255.255.0', [
    [dest('10.20.0.6', 0, 'dr', 1), '-a -f 7 -r 10.20.0.6:0 -g -w 1'],
  ]],
  [svc({ family: 'inet6', protocol: 'tcp', address: '2001:db8::1', port: 443 }, 'mh', { schedFlags: { fallback: true, port: false } }), '-A -t [2001:db8::1]:443 -s mh -b mh-fallback', [
    [dest('2001:db8::10', 443, 'nat', 3), '-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 3'],
  ]],
  [svc(tcp('10.10.0.3', 80), 'wlc', { persistence: 60 }), '-A -t 10.10.0.3:80 -s wlc -p 60', [
    [dest('10.20.0.7', 80, 'tunnel', 1, { tunnel: { type: 'gue', port: 6080 } }), '-a -t 10.10.0.3:80 -r 10.20.0.7:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum'],
    [dest('10.20.0.8', 80, 'tunnel', 1, { tunnel: { type: 'gre' } }), '-a -t 10.10.0.3:80 -r 10.20.0.8:80 -i -w 1 --tun-type gre'],
    [dest('10.20.0.9', 80, 'tunnel', 1, { tunnel: { type: 'gre', checksum: 'csum' } }), '-a -t 10.10.0.3:80 -r 10.20.0.9:80 -i -w 1 --tun-type gre --tun-csum'],
  ]],
  ...['sed', 'nq', 'dh', 'lblc', 'lblcr', 'fo', 'ovf'].map((s, i) => [
    svc(tcp('10.10.1.' + (i + 1), 80), s), `-A -t 10.10.1.${i + 1}:80 -s ${s}`,
    [[dest('10.20.1.' + (i + 1), 80, 'nat', 1), `-a -t 10.10.1.${i + 1}:80 -r 10.20.1.${i + 1}:80 -m -w 1`]],
  ]),
];

const ops = table.flatMap(([s, , ds]) => [{ op: 'add-service', service: s }, ...ds.map(([d]) => ({ op: 'add-dest', service: s.key, dest: d }))]);
const ipvsadmRestore = table.flatMap(([, a, ds]) => [a, ...ds.map(([, c]) => c)]).join('\n') + '\n';
const saved = () => sh('ipvsadm -Sn').split('\n').filter(Boolean).sort();

await scenario('every kind of service and real server: the kernel holds exactly what ipvsadm would have programmed', async () => {
  sh('ipvsadm -C');
  sh('ipvsadm -R', ipvsadmRestore);
  const reference = saved();
  const referenceList = sh('ipvsadm -Ln');
  sh('ipvsadm -C');
  const res = client.apply(ops);
  const failed = res.filter((r) => r.error).map((r) => `${describeOp(r.op)}: ${r.error.message}`);
  assertEq(failed, [], 'operations that failed');
  assertEq(saved(), reference, 'ipvsadm -Sn after vipd vs after ipvsadm -R');
  if (sh('ipvsadm -Ln') !== referenceList) throw new Error('ipvsadm -Ln differs');
  return { ops: ops.length, services: table.length, reference };
});

await scenario('dumps decode to what was programmed (services, flags, persistence, tunnels)', async () => {
  const got = client.table();
  const keys = (ds) => ds.map((d) => `${d.address}:${d.port}`).sort();
  const want = table.map(([s, , ds]) => ({ key: s.key, scheduler: s.scheduler, dests: keys(ds.map(([d]) => d.key)) }));
  const norm = (t) => t.map((s) => JSON.stringify(s)).sort();
  assertEq(norm(got.services.map((s) => ({ key: s.key, scheduler: s.scheduler, dests: keys(s.dests.map((d) => d.key)) }))), norm(want), 'service and real server keys');
  for (const [s, , ds] of table) {
    const g = got.services.find((x) => JSON.stringify(x.key) === JSON.stringify(s.key));
    const { stats, dests, ...settings } = g;
    assertEq(settings, s, `settings of ${JSON.stringify(s.key)}`);
    for (const [d] of ds) {
      const gd = dests.find((x) => x.key.address === d.key.address && x.key.port === d.key.port);
      const { activeConns, inactiveConns, persistentConns, stats: dstats, ...dset } = gd;
      assertEq(dset, d, `real server ${d.key.address}:${d.key.port}`);
    }
  }
  return { services: got.services.length };
});

await scenario('edit in place: weight, thresholds, scheduler and persistence change without re-creating', async () => {
  const [s, , ds] = table[0];
  const res = client.apply([
    { op: 'edit-service', service: { ...s, scheduler: 'wrr', persistence: 120 } },
    { op: 'edit-dest', service: s.key, dest: { ...ds[0][0], weight: 7, upperThreshold: 50 } },
  ]);
  assertEq(res.filter((r) => r.error).map((r) => r.error.message), [], 'errors');
  const line = sh('ipvsadm -Ln -t 10.10.0.1:80');
  if (!/TCP {2}10\.10\.0\.1:80 wrr persistent 120/.test(line)) throw Object.assign(new Error('service not edited'), { details: line });
  if (!/10\.20\.0\.1:8080 +Masq +7 /.test(line)) throw Object.assign(new Error('real server not edited'), { details: line });
  return line;
});

await scenario('errors: a missing scheduler, a duplicate service, a non-unicast real server, a missing service — each reported with its code, the rest applied', async () => {
  sh('ipvsadm -C');
  const good = svc(tcp('10.30.0.1', 80), 'rr');
  const res = client.apply([
    { op: 'add-service', service: svc(tcp('10.30.0.2', 80), 'twos') }, // not in this kernel (6.1)
    { op: 'add-service', service: good },
    { op: 'add-service', service: good },
    { op: 'add-dest', service: good.key, dest: dest('224.1.2.3', 80, 'nat', 1) },
    { op: 'add-dest', service: good.key, dest: dest('10.20.0.9', 80, 'nat', 1) },
    { op: 'del-service', key: tcp('10.30.0.9', 80) },
  ]);
  const codes = res.map((r) => r.error?.code ?? 'ok');
  assertEq(codes, ['ENOENT', 'ok', 'EEXIST', 'EINVAL', 'ok', 'ESRCH'], 'per-operation outcome');
  const msg = res[0].error.message;
  if (!msg.includes('add service TCP 10.30.0.2:80 (twos)')) throw new Error(`error does not name the operation: ${msg}`);
  const list = sh('ipvsadm -Ln');
  if (!list.includes('10.30.0.1:80 rr') || !list.includes('10.20.0.9:80')) throw Object.assign(new Error('the good operations were not applied'), { details: list });
  return { codes, messages: res.filter((r) => r.error).map((r) => r.error.message) };
});

await scenario('batching: 1,000 services x 10 real servers in one apply, then one dump', async () => {
  sh('ipvsadm -C');
  const big = [];
  for (let i = 0; i < 1000; i++) {
    const s = svc(tcp(`10.40.${i >> 8}.${i & 255}`, 80), 'wrr');
    big.push({ op: 'add-service', service: s });
    for (let j = 0; j < 10; j++) big.push({ op: 'add-dest', service: s.key, dest: dest(`10.20.${100 + (j >> 8)}.${(i * 10 + j) % 250 + 1}`, 8000 + j, 'nat', 1) });
  }
  let t0 = performance.now();
  const res = client.apply(big);
  const applyMs = performance.now() - t0;
  const failed = res.filter((r) => r.error);
  if (failed.length) throw new Error(`${failed.length} failed, first: ${failed[0].error.message}`);
  t0 = performance.now();
  const t = client.table();
  const dumpMs = performance.now() - t0;
  const dests = t.services.reduce((n, s) => n + s.dests.length, 0);
  assertEq([t.services.length, dests], [1000, 10000], 'services and real servers in the dump');
  const lines = Number(sh('ipvsadm -Sn | wc -l').trim());
  assertEq(lines, 11000, 'ipvsadm -Sn lines');
  return { ops: big.length, applyMs: Math.round(applyMs), dumpMs: Math.round(dumpMs) };
});

await scenario('timeouts and the connection sync daemon', async () => {
  client.setTimeouts({ tcp: 900, tcpFin: 30, udp: 120 });
  assertEq(client.getTimeouts(), { tcp: 900, tcpFin: 30, udp: 120 }, 'timeouts');
  if (!/Timeout \(tcp tcpfin udp\): 900 30 120/.test(sh('ipvsadm -L --timeout'))) throw new Error('ipvsadm disagrees on timeouts');
  client.startDaemon({ state: 'master', interface: 'rs0', syncId: 9 });
  const d = client.daemons();
  if (d.length !== 1 || d[0].state !== 'master' || d[0].interface !== 'rs0' || d[0].syncId !== 9) throw Object.assign(new Error('daemon dump'), { details: d });
  const text = sh('ipvsadm -L --daemon');
  if (!/master sync daemon \(mcast=rs0, syncid=9/.test(text)) throw Object.assign(new Error('ipvsadm --daemon'), { details: text });
  client.stopDaemon('master');
  assertEq(client.daemons(), [], 'daemons after stop');
  return text.trim();
});

await scenario('reconcile: converges after hand edits with ipvsadm, in few operations, and leaves a foreign service alone', async () => {
  sh('ipvsadm -C');
  sh('ipvsadm -A -t 10.50.0.1:22 -s rr && ipvsadm -a -t 10.50.0.1:22 -r 10.20.5.1:22 -m'); // someone else's
  const desired = [];
  for (let i = 0; i < 100; i++) {
    const s = svc(tcp(`10.60.0.${i + 1}`, 80), 'wrr');
    desired.push({ ...s, dests: Array.from({ length: 10 }, (_, j) => dest(`10.20.6.${j + 1}`, 8000 + i, 'nat', 1 + j)) });
  }
  const state = `${process.cwd()}/owned.json`;
  const r = new Reconciler(client, { stateFile: state });
  const first = r.reconcile(desired);
  assertEq([first.ops, first.failed.length], [1100, 0], 'first reconcile: operations, failures');
  const noop = r.reconcile(desired);
  assertEq(noop.ops, 0, 'operations of a no-op reconcile');
  // Hand edits: a weight, a deleted real server, an extra real server, a scheduler, a deleted service.
  sh('ipvsadm -e -t 10.60.0.1:80 -r 10.20.6.1:8000 -m -w 50');
  sh('ipvsadm -d -t 10.60.0.2:80 -r 10.20.6.2:8001');
  sh('ipvsadm -a -t 10.60.0.3:80 -r 10.20.6.99:8002 -m -w 1');
  sh('ipvsadm -E -t 10.60.0.4:80 -s rr');
  sh('ipvsadm -D -t 10.60.0.5:80');
  const fix = r.reconcile(desired);
  assertEq([fix.ops, fix.failed.length], [1 + 1 + 1 + 1 + 1 + 10, 0], 'repair: operations, failures');
  const after = r.reconcile(desired);
  assertEq(after.ops, 0, 'operations after the repair');
  const foreign = sh('ipvsadm -Ln -t 10.50.0.1:22');
  if (!foreign.includes('10.20.5.1:22')) throw Object.assign(new Error('foreign service touched'), { details: foreign });
  // A service removed from the desired table is deleted (it is ours); the foreign one stays.
  const fewer = r.reconcile(desired.slice(1));
  assertEq(fewer.ops, 1, 'operations when one service leaves the config');
  // A new Reconciler (a restarted vipd) knows from the state file what it owns.
  const again = new Reconciler(client, { stateFile: state }).reconcile(desired.slice(2));
  assertEq(again.ops, 1, 'a restarted reconciler deletes the service it owned');
  if (!sh('ipvsadm -Ln').includes('10.50.0.1:22')) throw new Error('foreign service deleted');
  return { firstMs: Math.round(first.dumpMs + first.applyMs), noopMs: Math.round(noop.dumpMs + noop.applyMs), repairOps: fix.ops };
});

client.close();
writeFileSync('results.json', JSON.stringify(results, null, 1));
