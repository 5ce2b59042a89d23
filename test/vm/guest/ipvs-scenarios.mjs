// Runs inside the QEMU guest (Debian kernel, real IPVS), chrooted into the host
// filesystem: exercises vipd's IPVS client against the kernel and compares with
// ipvsadm — the kernel's own view. Writes results.json to the working directory
// (the share): [{ name, ok, ms, details?, error? }].

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const dist = (p) => new URL(`../../../dist/${p}`, import.meta.url).href;
const { IpvsClient } = await import(dist('ipvs/client.js'));
const { describeOp } = await import(dist('ipvs/ops.js'));
const { Reconciler } = await import(dist('ipvs/reconcile.js'));

const sh = (cmd, input) => execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const results = [];
const children = new Set(); // processes a scenario started: killed when it ends, pass or fail
// VIPD_ONLY=regex runs only the matching scenarios (while developing one; the test run runs all).
const only = process.env.VIPD_ONLY ? new RegExp(process.env.VIPD_ONLY) : undefined;
async function scenario(name, fn, limitMs = 180_000) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  let timer;
  try {
    const limit = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`scenario took longer than ${limitMs} ms`)), limitMs)));
    const details = await Promise.race([fn(), limit]);
    results.push({ name, ok: true, ms: Date.now() - t0, details });
  } catch (err) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.stack ?? err), details: err?.details });
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill('SIGKILL');
    children.clear();
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
sh('for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_pe_sip ipip fou veth bridge; do modprobe $m 2>/dev/null || true; done');
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
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  const state = '/run/vipd-test/owned.json'; // a directory of our own, as vipd requires (not the 9p share)
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

const VIPD = new URL('../../../bin/vipd.js', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = fn();
      if (last === true) return;
    } catch (e) {
      last = e.message;
    }
    await sleep(200);
  }
  throw Object.assign(new Error(`timed out waiting for ${what}`), { details: last });
}
function startVipd(config) {
  writeFileSync('/run/vipd-test/vipd.yaml', config);
  const child = spawn(process.execPath, ['--no-memory-reducer', VIPD, 'run', '-c', '/run/vipd-test/vipd.yaml', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  children.add(child);
  const exited = new Promise((r) => child.once('exit', (code) => (children.delete(child), r(code))));
  return { child, log: () => log, exited };
}
const vsConfig = (w1, extra = '', ipvsExtra = '') => `global: {control_socket: /run/vipd-test/vipd.sock}
virtual_servers:
  web:
    address: 10.70.0.1
    port: 80
    scheduler: wrr
    real_servers:
      - {address: 10.20.7.1, port: 8080, weight: ${w1}}
      - {address: 10.20.7.2, port: 8080, weight: 1}
${extra}ipvs:
  timeouts: {tcp: 600, tcp_fin: 20, udp: 60}
${ipvsExtra}`;
const webLines = (w1) => ['-A -t 10.70.0.1:80 -s wrr', `-a -t 10.70.0.1:80 -r 10.20.7.1:8080 -m -w ${w1}`, '-a -t 10.70.0.1:80 -r 10.20.7.2:8080 -m -w 1'];
const tableIs = (lines) => () => JSON.stringify(saved()) === JSON.stringify([...lines].sort()) || saved();

await scenario('vipd run: programs the configured table, applies a reload as a difference, rejects a bad reload, keeps the table on stop (flush_on_stop removes only its own)', async () => {
  sh('ipvsadm -C');
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  const foreign = ['-A -t 10.50.0.1:22 -s rr', '-a -t 10.50.0.1:22 -r 10.20.5.1:22 -m -w 1'];
  sh('ipvsadm -R', foreign.join('\n') + '\n');
  let v = startVipd(vsConfig(3));
  await until('the configured table', tableIs([...foreign, ...webLines(3)]));
  if (!/Timeout \(tcp tcpfin udp\): 600 20 60/.test(sh('ipvsadm -L --timeout'))) throw new Error('timeouts not applied');
  // Reload: a weight changes, a service is added.
  writeFileSync('/run/vipd-test/vipd.yaml', vsConfig(5, '  dns: {address: 10.70.0.2, port: 53, protocol: udp, scheduler: rr, real_servers: [{address: 10.20.7.3}]}\n'));
  v.child.kill('SIGHUP');
  await until('the reloaded table', tableIs([...foreign, ...webLines(5), '-A -u 10.70.0.2:53 -s rr', '-a -u 10.70.0.2:53 -r 10.20.7.3:53 -m -w 1']));
  const reconciles = () => [...v.log().matchAll(/"event":"ipvs-reconciled","ops":(\d+)/g)].map((m) => Number(m[1]));
  await until('the reload\'s reconcile log line', () => reconciles().length >= 2 || v.log().slice(-2000));
  assertEq(reconciles(), [3, 3], 'operations per reconcile (start, reload)');
  const ops = reconciles();
  // A bad file: rejected, nothing touched.
  const before = saved();
  writeFileSync('/run/vipd-test/vipd.yaml', vsConfig(5).replace('scheduler: wrr', 'scheduler: bogus'));
  v.child.kill('SIGHUP');
  await until('the rejection', () => v.log().includes('reload-rejected'));
  if (!/vipd\.yaml:\d+:\d+: virtual_servers\.web\.scheduler: unknown scheduler \\"bogus\\"/.test(v.log())) throw Object.assign(new Error('rejection does not name the place'), { details: v.log().slice(-1500) });
  assertEq(saved(), before, 'table after a rejected reload');
  v.child.kill('SIGTERM');
  assertEq(await v.exited, 0, 'exit code on SIGTERM');
  assertEq(saved(), before, 'table after vipd stopped (kept: connections survive a restart)');
  // Restart with flush_on_stop: its services go on stop, the foreign one stays.
  v = startVipd(vsConfig(5, '', '  flush_on_stop: true\n'));
  await until('the table after restart', tableIs([...foreign, ...webLines(5)]));
  v.child.kill('SIGTERM');
  assertEq(await v.exited, 0, 'exit code on SIGTERM');
  assertEq(saved(), [...foreign].sort(), 'table after a flush_on_stop stop');
  return { reconcileOps: ops };
});

await scenario('vipd run repairs hand edits by itself: the periodic resync (resync_interval) restores a deleted real server and a changed weight, and says so', async () => {
  sh('ipvsadm -C');
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  const v = startVipd(vsConfig(3, '', '  resync_interval: 2\n'));
  await until('the configured table', tableIs(webLines(3)));
  sh('ipvsadm -d -t 10.70.0.1:80 -r 10.20.7.2:8080; ipvsadm -e -t 10.70.0.1:80 -r 10.20.7.1:8080 -m -w 9');
  const edited = Date.now();
  await until('the table repaired by the resync', tableIs(webLines(3)), 15_000);
  const ms = Date.now() - edited;
  await until('the drift warning', () => /IPVS resync: the kernel's table had drifted: 2 operation\(s\) to converge/.test(v.log()) || v.log().slice(-1500));
  v.child.kill('SIGTERM');
  assertEq(await v.exited, 0, 'vipd exit code');
  return { repairedAfterMs: ms };
});

// ---- Traffic through the director: a client namespace, two real-server namespaces.
//   vt-cl 10.80.0.2 --cl0-- director (VIPs 10.80.0.100 nat, .101 dr, .102 tunnel) --br-rs-- vt-r1 10.81.0.11, vt-r2 10.81.0.12
// The real servers answer with their name (TCP :80 and :8080, UDP :53 on each address they serve).
// Direct-routing and tunnel replies leave the real servers with the VIP as source and reach the
// client through the director's routing (in production they go through the router): accept_local
// lets the director forward a packet whose source is one of its own addresses.
const PEER = new URL('./lb-peer.mjs', import.meta.url).pathname;
const inNs = (ns, cmd) => sh(`ip netns exec ${ns} ${cmd}`);
function lbTopology() {
  sh(`for n in vt-cl vt-r1 vt-r2; do ip netns del $n 2>/dev/null; done; ip link del br-rs 2>/dev/null; modprobe bridge; true`);
  sh(`set -e
    echo 1 > /proc/sys/net/ipv4/ip_forward
    echo 1 > /proc/sys/net/ipv4/conf/all/accept_local
    ip netns add vt-cl
    ip link add cl0 type veth peer name eth0 netns vt-cl
    ip addr add 10.80.0.1/24 dev cl0
    for v in 100 101 102; do ip addr add 10.80.0.$v/32 dev cl0; done
    ip link set cl0 up
    ip -n vt-cl link set lo up; ip -n vt-cl addr add 10.80.0.2/24 dev eth0; ip -n vt-cl addr add 10.80.0.3/24 dev eth0; ip -n vt-cl link set eth0 up
    ip link add br-rs type bridge; ip addr add 10.81.0.1/24 dev br-rs; ip link set br-rs up
    for i in 1 2; do
      ip netns add vt-r$i
      ip link add rsv$i type veth peer name eth0 netns vt-r$i
      ip link set rsv$i master br-rs up
      ip -n vt-r$i link set lo up
      ip -n vt-r$i addr add 10.81.0.1$i/24 dev eth0; ip -n vt-r$i link set eth0 up
      ip -n vt-r$i route add default via 10.81.0.1
      ip -n vt-r$i addr add 10.80.0.101/32 dev lo; ip -n vt-r$i addr add 10.80.0.102/32 dev lo
      ip -n vt-r$i link set tunl0 up
      ip netns exec vt-r$i sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce;
        for d in all default tunl0; do echo 0 > /proc/sys/net/ipv4/conf/$d/rp_filter; done'
    done`);
}
async function startServers() {
  const servers = [];
  for (const i of [1, 2]) {
    const child = spawn('ip', ['netns', 'exec', `vt-r${i}`, process.execPath, PEER, 'server', `r${i}`, '80,8080', `10.81.0.1${i}:53,10.80.0.101:53,10.80.0.102:53`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    servers.push(child);
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (c) => reject(new Error(`real server r${i} exited ${c}`)));
    });
  }
  return servers;
}
let nextSport = 30000; // UDP source ports, never reused within a boot
const ask = (proto, host, port, count) => {
  const sport = nextSport;
  nextSport += count;
  return JSON.parse(inNs('vt-cl', `${process.execPath} ${PEER} client ${proto} ${host} ${port} ${count} ${sport}`));
};
const count = (names) => Object.fromEntries(Object.entries(names.reduce((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {})).sort());
function alternates(names, what) {
  const bad = names.some((n, i) => !/^r[12]$/.test(n) || (i > 0 && n === names[i - 1]));
  if (bad) throw Object.assign(new Error(`${what}: answers do not alternate between r1 and r2`), { details: names });
}
const lbConfig = (extra = '') => `global: {control_socket: /run/vipd-test/vipd.sock}
virtual_servers:
  nat-web: {address: 10.80.0.100, port: 80, scheduler: rr, forwarding: nat, real_servers: [{address: 10.81.0.11, port: 8080}, {address: 10.81.0.12, port: 8080}]}
  nat-dns: {address: 10.80.0.100, port: 53, protocol: udp, scheduler: rr, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
  dr-web: {address: 10.80.0.101, port: 80, scheduler: wrr, forwarding: dr, real_servers: [{address: 10.81.0.11, weight: 3}, {address: 10.81.0.12, weight: 1}]}
  dr-dns: {address: 10.80.0.101, port: 53, protocol: udp, scheduler: wrr, forwarding: dr, real_servers: [{address: 10.81.0.11, weight: 3}, {address: 10.81.0.12, weight: 1}]}
  tun-web: {address: 10.80.0.102, port: 80, scheduler: sh, forwarding: tunnel, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
  tun-dns: {address: 10.80.0.102, port: 53, protocol: udp, scheduler: rr, forwarding: tunnel, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
${extra}`;
const statsConns = (svcFlag) =>
  Object.fromEntries(
    [...sh(`ipvsadm -Ln --stats ${svcFlag}`).matchAll(/-> (10\.81\.0\.1[12]):\d+ +(\d+)/g)].map((m) => [m[1], Number(m[2])]),
  );

await scenario('traffic: NAT, direct routing and IPIP tunnel end to end over TCP and UDP — rr alternates, wrr honours 3:1, sh keeps a client on one server; ipvsadm --stats agrees', async () => {
  sh('ipvsadm -C');
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  lbTopology();
  await startServers();
  const v = startVipd(lbConfig());
  await until('six services programmed', () => (sh('ipvsadm -Sn').match(/^-A /gm) ?? []).length === 6 || sh('ipvsadm -Sn') + v.log().slice(-1500));
  const out = {};
  out.natTcp = ask('tcp', '10.80.0.100', 80, 10);
  alternates(out.natTcp, 'NAT TCP rr');
  out.natUdp = ask('udp', '10.80.0.100', 53, 10);
  alternates(out.natUdp, 'NAT UDP rr');
  out.drTcp = count(ask('tcp', '10.80.0.101', 80, 40));
  assertEq(out.drTcp, { r1: 30, r2: 10 }, 'DR TCP wrr 3:1 over 40 requests');
  out.drUdp = count(ask('udp', '10.80.0.101', 53, 20));
  assertEq(out.drUdp, { r1: 15, r2: 5 }, 'DR UDP wrr 3:1 over 20 requests');
  const shNames = ask('tcp', '10.80.0.102', 80, 12);
  if (new Set(shNames).size !== 1 || !/^r[12]$/.test(shNames[0])) throw Object.assign(new Error('tunnel sh: one client should stay on one server'), { details: shNames });
  out.tunTcp = shNames;
  out.tunUdp = ask('udp', '10.80.0.102', 53, 10);
  alternates(out.tunUdp, 'tunnel UDP rr');
  // The kernel's own counters: connections per real server of the wrr service.
  // The kernel folds its per-CPU counters into these totals on its estimator's tick (every 2 s): wait for it.
  const wantStats = { '10.81.0.11': 30, '10.81.0.12': 10 };
  await until('ipvsadm -Ln --stats connections of the DR service', () => JSON.stringify((out.drStats = statsConns('-t 10.80.0.101:80'))) === JSON.stringify(wantStats) || out.drStats, 10_000);
  // vipd status shows the same table, with the config's names and the kernel's counters.
  const status = sh(`${process.execPath} ${VIPD} status -s /run/vipd-test/vipd.sock`);
  for (const re of [/^dr-web +TCP 10\.80\.0\.101:80 +wrr +ONLINE +10\.81\.0\.1[12]:80 /m, /^(dr-web .*| +)10\.81\.0\.11:80 +ONLINE +dr +3 +\d+ +\d+ +30 +no check$/m, /^(dr-web .*| +)10\.81\.0\.12:80 +ONLINE +dr +1 +\d+ +\d+ +10 +no check$/m, /^IPVS: 6 service\(s\), 6 managed by vipd/m])
    if (!re.test(status)) throw Object.assign(new Error(`vipd status lacks ${re}`), { details: status });
  out.status = status;
  v.child.kill('SIGTERM');
  assertEq(await v.exited, 0, 'vipd exit code');
  return out;
});

await scenario('an established TCP connection through the director survives a vipd restart and a config reload', async () => {
  // Topology and servers from the previous scenario stay up (their processes were killed: restart them).
  await startServers();
  const v1 = startVipd(lbConfig());
  await until('vipd reconciled (the table is kept from the previous scenario: 0 operations)', () => /"event":"ipvs-reconciled","ops":0/.test(v1.log()) || v1.log().slice(-1500));
  const hold = spawn('ip', ['netns', 'exec', 'vt-cl', process.execPath, PEER, 'hold', '10.80.0.100', '80'], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(hold);
  const lines = [];
  let pending = '';
  hold.stdout.setEncoding('utf8');
  hold.stdout.on('data', (d) => {
    pending += d;
    for (let i; (i = pending.indexOf('\n')) >= 0; pending = pending.slice(i + 1)) lines.push(pending.slice(0, i));
  });
  const answers = () => lines.filter((l) => l !== 'connected');
  const next = async () => {
    const n = answers().length;
    hold.stdin.write('ask\n');
    for (const end = Date.now() + 10000; answers().length <= n && Date.now() < end; ) await sleep(100);
    return answers().length > n ? answers().at(-1) : 'no answer';
  };
  const first = await next();
  if (!/^r[12]$/.test(first)) throw Object.assign(new Error('the held connection did not answer'), { details: lines });
  const conn = () => sh('ipvsadm -Lnc').split('\n').filter((l) => l.includes('ESTABLISHED') && l.includes('10.80.0.100:80'));
  assertEq(conn().length, 1, 'established IPVS connections before the restart');
  // Restart: SIGTERM (no flush_on_stop) and a new vipd on the same config.
  v1.child.kill('SIGTERM');
  assertEq(await v1.exited, 0, 'vipd exit code');
  const afterStop = await next();
  const v2 = startVipd(lbConfig());
  await until('the restarted vipd reconciled', () => /"event":"ipvs-reconciled","ops":0/.test(v2.log()) || v2.log().slice(-1500));
  const afterRestart = await next();
  // Reload with a change to this very service (a weight) and a new service.
  writeFileSync('/run/vipd-test/vipd.yaml', lbConfig('  extra: {address: 10.80.0.100, port: 81, scheduler: rr, real_servers: [{address: 10.81.0.11, port: 8080}]}\n').replace('{address: 10.81.0.12, port: 8080}]', '{address: 10.81.0.12, port: 8080, weight: 2}]'));
  v2.child.kill('SIGHUP');
  await until('the reload', () => (sh('ipvsadm -Sn').match(/^-A /gm) ?? []).length === 7);
  const afterReload = await next();
  assertEq([afterStop, afterRestart, afterReload], [first, first, first], 'the same real server answers on the same connection after stop, restart, reload');
  assertEq(conn().length, 1, 'established IPVS connections after the reload');
  hold.stdin.end();
  v2.child.kill('SIGTERM');
  assertEq(await v2.exited, 0, 'vipd exit code');
  return { server: first, answers: lines };
});

await scenario('bad input: a scheduler the kernel lacks and an unroutable real server — clear errors, the rest of the table applied; a duplicate service is a config error at file:line:col', async () => {
  sh('ipvsadm -C');
  const cfg = lbConfig(`  two: {address: 10.80.0.100, port: 82, scheduler: twos, real_servers: [{address: 10.81.0.11}]}
  lost: {address: 10.80.0.100, port: 83, scheduler: rr, forwarding: dr, real_servers: [{address: 192.0.2.77}, {address: 10.81.0.12}]}
`);
  sh('ip route add unreachable 192.0.2.0/24');
  try {
    const v = startVipd(cfg);
    await until('the reconcile report', () => v.log().includes('"event":"ipvs-reconciled"') || v.log().slice(-1500));
    await until('the route check', () => v.log().includes('ipvs-route-problem') || v.log().slice(-1500));
    const log = v.log();
    const must = [
      /add service TCP 10\.80\.0\.100:82 \(twos\): ENOENT: this kernel has no scheduler \\"twos\\": load it \(modprobe ip_vs_twos\) or choose another/,
      /real server 192\.0\.2\.77 of virtual server \\"lost\\": no route to it \(unreachable\); its traffic will be dropped: add a route or correct the address/,
      /IPVS reconciled: \d+ operation\(s\), 2 failed/,
    ];
    for (const re of must) if (!re.test(log)) throw Object.assign(new Error(`log lacks ${re}`), { details: log.slice(-3000) });
    // Everything else is in the kernel: 6 services of the traffic config + "lost" with both real servers.
    const saved = sh('ipvsadm -Sn');
    assertEq((saved.match(/^-A /gm) ?? []).length, 7, 'services applied');
    if (!saved.includes('-a -t 10.80.0.100:83 -r 192.0.2.77:83 -g')) throw Object.assign(new Error('the unroutable real server should still be programmed (a route may come later)'), { details: saved });
    // The status reports both.
    const status = JSON.parse(sh(`${process.execPath} ${VIPD} status --json -s /run/vipd-test/vipd.sock`));
    assertEq([status.ipvs.lastReconcile.failed.length, status.ipvs.routeProblems.length], [2, 1], 'failed operations and route problems in vipd status --json');
    v.child.kill('SIGTERM');
    await v.exited;
    // A duplicate service: rejected before anything is touched, exit code 2.
    writeFileSync('/run/vipd-test/dup.yaml', lbConfig('  again: {address: 10.80.0.100, port: 80, scheduler: wrr, real_servers: [{address: 10.81.0.12}]}\n'));
    let err;
    try {
      sh(`${process.execPath} ${VIPD} check -c /run/vipd-test/dup.yaml`);
    } catch (e) {
      err = e;
    }
    if (err?.status !== 2 || !/dup\.yaml:\d+:\d+: virtual_servers\.again: TCP 10\.80\.0\.100:80 is already defined by virtual server "nat-web"/.test(err.stderr)) throw Object.assign(new Error('duplicate service not rejected as expected'), { details: { status: err?.status, stderr: err?.stderr } });
    return { errors: log.split('\n').filter((l) => /"level":50/.test(l)).map((l) => JSON.parse(l).msg), duplicate: err.stderr.trim() };
  } finally {
    sh('ip route del unreachable 192.0.2.0/24');
  }
});

// ---- The Octavia tutorial: a load balancer with two directors (VRRP) in front of two web workers.
//   one switch (vt-osw): lb1 10.90.0.11 (priority 150), lb2 10.90.0.12 (100), client 10.90.0.50,
//   worker1 10.90.0.21, worker2 10.90.0.22; VIP 10.90.0.100:80, direct routing (the workers hold the
//   VIP on lo and do not answer ARP for it), HTTP health monitor every second.
// Each director is a vipd in its own namespace with its own IPVS table (IPVS is per network namespace).
const OCT = ['olb1:10.90.0.11', 'olb2:10.90.0.12', 'ocl:10.90.0.50', 'ow1:10.90.0.21', 'ow2:10.90.0.22'];
function octaviaTopology() {
  sh(`for n in vt-osw ${OCT.map((h) => 'vt-' + h.split(':')[0]).join(' ')}; do ip netns del $n 2>/dev/null; done; true`);
  sh(`set -e
    ip netns add vt-osw
    ip -n vt-osw link add br0 type bridge
    ip -n vt-osw link set br0 up
    for h in ${OCT.join(' ')}; do
      n=\${h%%:*}; a=\${h#*:}
      ip netns add vt-$n
      ip -n vt-$n link set lo up
      ip link add x-$n netns vt-$n type veth peer name p-$n netns vt-osw
      ip -n vt-$n link set x-$n name eth0
      ip -n vt-$n addr add $a/24 dev eth0
      ip -n vt-$n link set eth0 up
      ip -n vt-osw link set p-$n master br0 up
    done
    for w in ow1 ow2; do
      ip -n vt-$w addr add 10.90.0.100/32 dev lo
      ip netns exec vt-$w sh -c 'for d in all eth0; do echo 1 > /proc/sys/net/ipv4/conf/$d/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/$d/arp_announce; done'
    done`);
}
const octConfig = (name, priority) => `global: {router_id: ${name}, control_socket: /run/vipd-test/${name}.sock}
vrrp_instances:
  VI_1: {interface: eth0, vrid: 51, priority: ${priority}, advert_int: 1, virtual_ipaddress: [10.90.0.100/32]}
virtual_servers:
  listener_http:
    address: 10.90.0.100
    port: 80
    scheduler: ROUND_ROBIN
    forwarding: dr
    real_servers: [{address: 10.90.0.21}, {address: 10.90.0.22}]
    health_check: {type: HTTP, delay: 1, timeout: 0.8, max_retries: 2, max_retries_down: 2, url_path: /, expected_codes: "200"}
`;
function startDirector(name, priority) {
  writeFileSync(`/run/vipd-test/${name}.yaml`, octConfig(name, priority));
  return runDirector(name);
}
/** vipd in namespace vt-NAME with /run/vipd-test/NAME.yaml, its output collected. */
function runDirector(name) {
  const child = spawn('ip', ['netns', 'exec', `vt-${name}`, process.execPath, '--no-memory-reducer', VIPD, 'run', '-c', `/run/vipd-test/${name}.yaml`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  children.add(child);
  return { child, log: () => log };
}
function startWorker(i) {
  const child = spawn('ip', ['netns', 'exec', `vt-ow${i}`, process.execPath, PEER, 'http', `worker ${i}`, '80'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (c) => reject(new Error(`worker ${i} exited ${c}`)));
  });
}
const procInfo = (pid) => {
  try {
    return sh(`cat /proc/${pid}/fdinfo/1 | head -2; ls -l /proc/${pid}/fd/1; cat /proc/${pid}/wchan; echo; grep State /proc/${pid}/status; cat /proc/${pid}/task/*/wchan | tr '\\0' ' '`);
  } catch (e) {
    return String(e);
  }
};
const dirStatus = (name) => JSON.parse(sh(`${process.execPath} ${VIPD} status --json -s /run/vipd-test/${name}.sock`));
const vrrpState = (name) => dirStatus(name).vrrp.instances[0].state;
const rsStatuses = (name) => Object.fromEntries(dirStatus(name).virtualServers[0].realServers.map((r) => [r.address, r.status]));
const get = (n) => JSON.parse(inNs('vt-ocl', `${process.execPath} ${PEER} client http 10.90.0.100 80 ${n}`));
function alternatesWorkers(names, what) {
  const bad = names.some((n, i) => !/^Hello from worker [12]$/.test(n) || (i > 0 && n === names[i - 1]));
  if (bad) throw Object.assign(new Error(`${what}: answers do not alternate between worker 1 and worker 2`), { details: names });
}

await scenario('the Octavia tutorial: two workers behind two directors — requests alternate, a stopped worker leaves the pool with no failed request after detection and returns, the backup takes over on a master kill with the same health view', async () => {
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  octaviaTopology();
  const out = {};
  await startWorker(1);
  let w2 = await startWorker(2);
  const lb1 = startDirector('olb1', 150);
  const lb2 = startDirector('olb2', 100);
  const logs = () => ({ lb1: lb1.log().slice(-1500), lb2: lb2.log().slice(-1500) });
  await until('lb1 MASTER and lb2 BACKUP', () => (vrrpState('olb1') === 'MASTER' && vrrpState('olb2') === 'BACKUP') || logs());
  const bothOnline = { '10.90.0.21': 'ONLINE', '10.90.0.22': 'ONLINE' };
  await until('both workers ONLINE on both directors', () => (JSON.stringify([rsStatuses('olb1'), rsStatuses('olb2')]) === JSON.stringify([bothOnline, bothOnline])) || [rsStatuses('olb1'), rsStatuses('olb2')]);
  // Both directors hold the table (the backup keeps it ready); only the master holds the VIP.
  const table = (ns) => inNs(ns, 'ipvsadm -Sn').split('\n').filter(Boolean).sort();
  assertEq(table('vt-olb1'), ['-A -t 10.90.0.100:80 -s wrr', '-a -t 10.90.0.100:80 -r 10.90.0.21:80 -g -w 1', '-a -t 10.90.0.100:80 -r 10.90.0.22:80 -g -w 1'], 'lb1 ipvsadm -Sn');
  assertEq(table('vt-olb2'), table('vt-olb1'), 'lb2 ipvsadm -Sn (kept ready on the backup)');
  out.start = get(10);
  alternatesWorkers(out.start, 'both workers up');

  // Stop worker 2: after detection (2 failed checks) every request goes to worker 1, none fails.
  w2.kill('SIGKILL');
  const stoppedAt = Date.now();
  await until('worker 2 ERROR on lb1', () => rsStatuses('olb1')['10.90.0.22'] === 'ERROR' || [rsStatuses('olb1'), lb1.log().slice(-800)]);
  out.detectionMs = Date.now() - stoppedAt;
  await until('lb1\'s DOWN log line with the reason', () => /RS 10\.90\.0\.22:80 of 10\.90\.0\.100:80 DOWN: TCP ECONNREFUSED \(connection refused\), 2\/2 failures/.test(lb1.log()) || { log: lb1.log().slice(-1500), fd1: procInfo(lb1.child.pid) }, 10_000);
  assertEq(table('vt-olb1'), ['-A -t 10.90.0.100:80 -s wrr', '-a -t 10.90.0.100:80 -r 10.90.0.21:80 -g -w 1'], 'lb1 table with worker 2 down');
  out.worker2Down = get(20);
  assertEq(out.worker2Down, Array(20).fill('Hello from worker 1'), 'every request after detection answered by worker 1');
  // The backup checks too: it sees worker 2 down just as the master does.
  await until('worker 2 ERROR on lb2 too', () => rsStatuses('olb2')['10.90.0.22'] === 'ERROR' || rsStatuses('olb2'));

  // Start worker 2 again: after 2 passing checks it is back and requests alternate again.
  w2 = await startWorker(2);
  await until('worker 2 ONLINE again on both', () => (rsStatuses('olb1')['10.90.0.22'] === 'ONLINE' && rsStatuses('olb2')['10.90.0.22'] === 'ONLINE') || [rsStatuses('olb1'), rsStatuses('olb2')]);
  out.worker2Back = get(10);
  alternatesWorkers(out.worker2Back, 'worker 2 back');

  // Kill the master director (power loss: kill -9 and its link down): lb2 takes over the VIP with
  // the table and health view it already has.
  const lb1View = rsStatuses('olb1');
  sh(`ip netns pids vt-olb1 | xargs -r kill -9; ip -n vt-osw link set p-olb1 down`);
  const killedAt = Date.now();
  await until('lb2 MASTER', () => vrrpState('olb2') === 'MASTER' || lb2.log().slice(-800));
  out.takeoverMs = Date.now() - killedAt;
  assertEq(rsStatuses('olb2'), lb1View, 'lb2\'s health view after the takeover = lb1\'s before the kill');
  await until('the client reaches the VIP through lb2', () => !get(1)[0].startsWith('error') || 'no answer');
  out.afterTakeover = get(10);
  alternatesWorkers(out.afterTakeover, 'through lb2');
  // And lb2's checks keep steering: worker 2 stops again, lb2 takes it out.
  w2.kill('SIGKILL');
  await until('worker 2 ERROR on lb2 (now master)', () => rsStatuses('olb2')['10.90.0.22'] === 'ERROR' || rsStatuses('olb2'));
  out.lb2Worker2Down = get(10);
  assertEq(out.lb2Worker2Down, Array(10).fill('Hello from worker 1'), 'through lb2 with worker 2 down');
  out.lb2Status = sh(`${process.execPath} ${VIPD} status -s /run/vipd-test/olb2.sock`);
  lb2.child.kill('SIGTERM');
  return out;
}, 240_000);

await scenario('a master reloading 10,000 real servers keeps its VIP: the parse runs in a thread and the dump yields, so its adverts go on and the backup never takes over', async () => {
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  octaviaTopology();
  // The real servers' network is reachable through eth0 (the kernel wants a unicast route to each).
  inNs('vt-olb1', 'ip route add 10.20.0.0/16 dev eth0');
  const big = (weight) => {
    const l = [`global: {router_id: olb1, control_socket: /run/vipd-test/olb1.sock}`, 'vrrp_instances:', '  VI_1: {interface: eth0, vrid: 51, priority: 150, advert_int: 1, virtual_ipaddress: [10.90.0.100/32]}', 'virtual_servers:'];
    for (let i = 0; i < 1000; i++) {
      l.push(`  s${i}:`, `    address: 10.40.${i >> 8}.${i & 255}`, '    port: 80', '    scheduler: wrr', '    real_servers:');
      for (let j = 0; j < 10; j++) l.push(`      - {address: 10.20.${100 + j}.${(i % 250) + 1}, port: ${8000 + j}, weight: ${i < 100 ? weight : 1}}`);
    }
    return l.join('\n') + '\n';
  };
  writeFileSync('/run/vipd-test/olb1.yaml', big(1));
  writeFileSync('/run/vipd-test/olb2.yaml', 'global: {router_id: olb2, control_socket: /run/vipd-test/olb2.sock}\nvrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, priority: 100, advert_int: 1, virtual_ipaddress: [10.90.0.100/32]}\n');
  const events = (d, event) => d.log().split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l));
  const lb1 = runDirector('olb1');
  await until('lb1 loaded its table', () => events(lb1, 'ipvs-reconciled').length > 0 || lb1.log().slice(-800), 120_000);
  const lb2 = runDirector('olb2');
  // States from the transition log lines (lb1's vipd status --json, 10,000 real servers, is a big read).
  const state = (d) => events(d, 'vrrp-transition').at(-1)?.to;
  await until('lb1 MASTER and lb2 BACKUP', () => (state(lb1) === 'MASTER' && state(lb2) === 'BACKUP') || [lb1.log().slice(-600), lb2.log().slice(-600)], 60_000);
  const lb2Before = events(lb2, 'vrrp-transition').length;
  writeFileSync('/run/vipd-test/olb1.yaml', big(2));
  const t0 = Date.now();
  lb1.child.kill('SIGHUP');
  await until('lb1 reloaded', () => events(lb1, 'reloaded').length > 0 || lb1.log().slice(-800), 120_000);
  const reloadMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  const weights = inNs('vt-olb1', 'ipvsadm -Sn').split('\n').filter((l) => / -w 2$/.test(l)).length;
  assertEq(weights, 1000, 'real servers with the new weight in the kernel');
  assertEq(events(lb2, 'vrrp-transition').slice(lb2Before).map((e) => e.to), [], 'lb2 transitions during lb1\'s reload');
  assertEq(state(lb1), 'MASTER', 'lb1 state after its reload');
  const reloaded = events(lb1, 'reloaded')[0];
  lb1.child.kill('SIGTERM');
  lb2.child.kill('SIGTERM');
  return { reloadMs, parseMs: reloaded.parseMs, ipvsMs: reloaded.ipvsMs, ipvsOps: reloaded.ipvsOps };
}, 300_000);

await scenario('metrics: a real Prometheus scrapes vipd in the guest — vipd_ipvs_up 1, the real servers\' weights and counters from the kernel\'s table, a reload\'s operations counted', async () => {
  sh('ipvsadm -C');
  mkdirSync('/run/vipd-test', { recursive: true, mode: 0o700 });
  const metrics = 'metrics: {listen: 127.0.0.1:9650}\n';
  const v = startVipd(vsConfig(3) + metrics);
  await until('the configured table', tableIs(webLines(3)));
  // Debian's Prometheus (this host's files), scraping every second; its TSDB in a tmpfs directory.
  const dir = '/run/vipd-test/prom';
  sh(`rm -rf ${dir}; mkdir -p ${dir}/data`);
  writeFileSync(`${dir}/prometheus.yml`, 'global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n  - job_name: vipd\n    static_configs: [{targets: ["127.0.0.1:9650"]}]\n');
  const prom = spawn('/usr/bin/prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, '--web.listen-address=127.0.0.1:19090', '--log.level=warn'], { stdio: 'ignore' });
  children.add(prom);
  const query = async (q) => {
    const r = await (await fetch(`http://127.0.0.1:19090/api/v1/query?query=${encodeURIComponent(q)}`)).json();
    if (r.status !== 'success') throw new Error(`${q}: ${r.error}`);
    return r.data.result;
  };
  const untilQuery = async (what, q, ok, ms = 90_000) => {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
      try {
        last = await query(q);
        if (ok(last)) return last;
      } catch (e) {
        last = e.message;
      }
      await sleep(500);
    }
    throw Object.assign(new Error(`timed out waiting for ${what}`), { details: last });
  };
  const one = (r) => (r.length === 1 ? Number(r[0].value[1]) : undefined);
  await untilQuery('vipd_ipvs_up 1', 'vipd_ipvs_up', (r) => one(r) === 1);
  const rs = 'addr="10.20.7.1:8080",proto="tcp",vip="10.70.0.1:80",virtual_server="web"';
  await untilQuery('the weight from the kernel', `vipd_lvs_rs_weight{${rs}}`, (r) => one(r) === 3);
  const conns = await query(`vipd_lvs_rs_connections_total{${rs}}`);
  assertEq(conns.length, 1, 'a connection counter of the real server');
  const svc = await query('vipd_lvs_vip_connections_total{addr="10.70.0.1:80",proto="tcp",virtual_server="web"}');
  assertEq(svc.length, 1, 'a connection counter of the service');
  // A reload changes a weight: the kernel's new weight, and the reconcile's operation counted.
  writeFileSync('/run/vipd-test/vipd.yaml', vsConfig(5) + metrics);
  v.child.kill('SIGHUP');
  await until('the reloaded table', tableIs(webLines(5)));
  await untilQuery('the new weight', `vipd_lvs_rs_weight{${rs}}`, (r) => one(r) === 5);
  const ops = await untilQuery('the reload\'s operations', 'vipd_ipvs_reconcile_operations_total{kind="reconcile"}', (r) => (one(r) ?? 0) >= 2);
  const dumps = await query('vipd_ipvs_reconcile_dump_seconds_count{kind="reconcile"}');
  v.child.kill('SIGTERM');
  assertEq(await v.exited, 0, 'exit code on SIGTERM');
  prom.kill('SIGTERM');
  return { reconcileOps: one(ops), reconcileDumps: one(dumps) };
}, 240_000);

client.close();
writeFileSync('results.json', JSON.stringify(results, null, 1));
process.exit(0);
