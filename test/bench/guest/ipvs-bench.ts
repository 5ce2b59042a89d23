// Runs inside the QEMU guest (Debian kernel, real IPVS): loads 1,000 services x
// 10 real servers into an empty table, reconciles with no change, then applies a
// 10% change (1,000 real servers get a new weight), with
//   vipd        in process: the Reconciler (one dump, diff, batched operations);
//   vipd run    the daemon: start-up to the full table, SIGHUP to the change visible;
//   ipvsadm -R  ipvsadm-restore of the same table (load only: it cannot diff);
//   keepalived  2.2.7, checker process only (-C), the same table as virtual_server
//               blocks: start-up to the full table, SIGHUP to the change visible.
// Completion of a daemon is observed from outside by polling the kernel (the
// last service's real servers; then one full dump to confirm), every 5 ms.
// Writes bench.json to the working directory (the share). Compiled with the
// guest's scenarios (tsconfig.guest.json) and run on their harness.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { req } from '../../../src/ipvs/codec.js';
import type { DesiredService } from '../../../src/ipvs/diff.js';
import { type ReconcileReport, Reconciler } from '../../../src/ipvs/reconcile.js';
import type { ServiceKey } from '../../../src/ipvs/types.js';
import { NLM_F_DUMP, type Payload } from '../../../src/net/netlink.js';
import { sh, sleep, VIPD, VIPD_NODE_COMMAND } from '../../vm/guest/harness.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
/** No-op reconciles timed beside the floor's, per repetition. */
const NOOP_PAIRS = Number(process.env.BENCH_NOOP_PAIRS ?? 6);
const N_SVC = 1000;
const N_RS = 10;
// lo up: the kernel checks a real server's address against the local routing table, which exists once an address does.
sh('modprobe ip_vs; modprobe ip_vs_wrr; ip link set lo up');
mkdirSync('/run/bench', { recursive: true, mode: 0o700 });

// The table: service i = TCP 10.40.(i>>8).(i&255):80 wrr; real servers 10.20.100+j.(i%250+1):(8000+j) NAT.
// "changed" = the first 10% of services have every real server's weight set to 2.
const svcAddr = (i: number): string => `10.40.${i >> 8}.${i & 255}`;
const rsAddr = (i: number, j: number): string => `10.20.${100 + j}.${(i % 250) + 1}`;
const weight = (i: number, changed: boolean): number => (changed && i < N_SVC / 10 ? 2 : 1);
const key = (i: number): ServiceKey => ({ family: 'inet', protocol: 'tcp', address: svcAddr(i), port: 80 });
function desired(changed: boolean): DesiredService[] {
  const out: DesiredService[] = [];
  for (let i = 0; i < N_SVC; i++) {
    out.push({
      key: key(i), scheduler: 'wrr', schedFlags: { fallback: false, port: false }, persistence: 0, netmask: '255.255.255.255', onePacket: false,
      dests: Array.from({ length: N_RS }, (_, j) => ({ key: { address: rsAddr(i, j), port: 8000 + j }, forwarding: 'nat', weight: weight(i, changed), upperThreshold: 0, lowerThreshold: 0 })),
    });
  }
  return out;
}
function restoreFile() {
  const l = [];
  for (let i = 0; i < N_SVC; i++) {
    l.push(`-A -t ${svcAddr(i)}:80 -s wrr`);
    for (let j = 0; j < N_RS; j++) l.push(`-a -t ${svcAddr(i)}:80 -r ${rsAddr(i, j)}:${8000 + j} -m -w 1`);
  }
  return l.join('\n') + '\n';
}
function vipdYaml(changed: boolean): string {
  const l = ['global: {control_socket: /run/bench/vipd.sock}', 'virtual_servers:'];
  for (let i = 0; i < N_SVC; i++) {
    l.push(`  s${i}:`, `    address: ${svcAddr(i)}`, '    port: 80', '    scheduler: wrr', '    real_servers:');
    for (let j = 0; j < N_RS; j++) l.push(`      - {address: ${rsAddr(i, j)}, port: ${8000 + j}, weight: ${weight(i, changed)}}`);
  }
  return l.join('\n') + '\n';
}
function keepalivedConf(changed: boolean): string {
  const l = ['global_defs {', '  router_id bench', '}'];
  for (let i = 0; i < N_SVC; i++) {
    l.push(`virtual_server ${svcAddr(i)} 80 {`, '  lb_algo wrr', '  lb_kind NAT', '  protocol TCP');
    for (let j = 0; j < N_RS; j++) l.push(`  real_server ${rsAddr(i, j)} ${8000 + j} {`, `    weight ${weight(i, changed)}`, '  }');
    l.push('}');
  }
  return l.join('\n') + '\n';
}

const client = new IpvsClient();
const flush = () => client.flush();
/** Polls the kernel until `done` holds; returns ms since t0. */
async function until(t0: number, done: () => boolean, what: string, limitMs = 600_000): Promise<number> {
  for (;;) {
    if (done()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const destsOf = (i: number) => {
  try {
    return client.dests(key(i));
  } catch {
    return [];
  }
};
// Loaded: the last service has all its real servers (daemons add in config order), then a full dump agrees.
const loaded = () => destsOf(N_SVC - 1).length === N_RS && client.table().services.reduce((n, s) => n + s.dests.length, 0) === N_SVC * N_RS;
// Changed: the last changed service's real servers all have weight 2, and so do all changed ones.
const changedVisible = () => {
  const last = destsOf(N_SVC / 10 - 1);
  if (last.length !== N_RS || last.some((d) => d.weight !== 2)) return false;
  for (let i = 0; i < N_SVC / 10; i++) if (destsOf(i).some((d) => d.weight !== 2)) return false;
  return true;
};

function daemon(cmd: string, args: string[], logFile: string) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, log: () => log, exited, save: () => writeFileSync(logFile, log) };
}

interface Run {
  loadMs?: number;
  noopMs?: number;
  changeMs?: number;
  dumpMs?: number;
  [more: string]: unknown;
}
const runs: { vipd: Run[]; vipdMemory?: Run[]; floor?: Run[]; noopPairs?: { vipdMs: number; floorMs: number }[][]; vipdRun: Run[]; ipvsadm: Run[]; keepalived: Run[] } = { vipd: [], vipdRun: [], ipvsadm: [], keepalived: [] };
writeFileSync('/run/bench/table.txt', restoreFile());
writeFileSync('/run/bench/vipd.yaml', vipdYaml(false));
writeFileSync('/run/bench/vipd-changed.yaml', vipdYaml(true));
writeFileSync('/run/bench/keepalived.conf', keepalivedConf(false));
writeFileSync('/run/bench/keepalived-changed.conf', keepalivedConf(true));
const D0 = desired(false);
const D1 = desired(true);

for (let rep = 0; rep < REPS; rep++) {
  // ipvsadm-restore
  flush();
  let t0 = performance.now();
  sh('ipvsadm -R < /run/bench/table.txt');
  const restoreMs = performance.now() - t0;
  if (!loaded()) throw new Error('ipvsadm -R did not load the table');
  runs.ipvsadm.push({ loadMs: restoreMs });

  // vipd in process
  flush();
  const r = new Reconciler(client);
  const timed = (d: DesiredService[], opts?: { fromMemory?: boolean }): ReconcileReport & { totalMs: number } => {
    const t = performance.now();
    const rep = r.reconcile(d, opts);
    return { ...rep, totalMs: performance.now() - t };
  };
  const load = timed(D0);
  const noop = timed(D0);
  const change = timed(D1);
  if (load.failed.length || change.failed.length || noop.ops !== 0 || change.ops !== N_SVC) throw new Error(`vipd reconcile: ${JSON.stringify({ load: load.failed.length, noop: noop.ops, change: change.ops })}`);
  if (!changedVisible()) throw new Error('vipd change not in the kernel');
  const parts = (x: ReconcileReport & { totalMs: number }) => ({ dumpMs: Math.round(x.dumpMs), applyMs: Math.round(x.applyMs), diffMs: Math.round(x.totalMs - x.dumpMs - x.applyMs) });
  runs.vipd.push({ loadMs: load.totalMs, noopMs: noop.totalMs, changeMs: change.totalMs, loadOps: load.ops, changeOps: change.ops, parts: { load: parts(load), noop: parts(noop), change: parts(change) } });
  // The same from memory (what a health verdict or an operator command costs): no dump.
  const memNoop = timed(D1, { fromMemory: true });
  const memChange = timed(D0, { fromMemory: true });
  if (memNoop.source !== 'memory' || memNoop.ops !== 0 || memChange.ops !== N_SVC || memChange.failed.length) throw new Error(`vipd from memory: ${JSON.stringify({ noop: memNoop.ops, change: memChange.ops })}`);
  runs.vipdMemory ??= [];
  runs.vipdMemory.push({ noopMs: memNoop.totalMs, changeMs: memChange.totalMs });
  // The floor under any implementation on this kernel: the same operations as
  // pre-built netlink messages through the same socket (no config, no diff, no
  // message building), and the same dump with nothing decoded. vipd's own share
  // of each column is its time minus this one.
  {
    // The client's own socket and family (private: the floor goes under its API).
    const sock = client['sock'];
    const fam = client['family'];
    const asReq = (payload: Payload) => ({ type: fam, flags: 0, payload, operation: 'floor' });
    const loadReqs = D0.flatMap((s) => [asReq(req.newService(s)), ...s.dests.map((d) => asReq(req.newDest(s.key, d)))]);
    const changeReqs = D1.slice(0, N_SVC / 10).flatMap((s) => s.dests.map((d) => asReq(req.setDest(s.key, d))));
    const dumpReqs = D0.map((s) => ({ type: fam, flags: NLM_F_DUMP, payload: req.getDests(s.key), operation: 'floor' }));
    const timedMs = (f: () => void): number => {
      const t = performance.now();
      f();
      return performance.now() - t;
    };
    flush();
    const loadMs = timedMs(() => {
      if (sock.batch(loadReqs).some((e) => e)) throw new Error('floor load failed');
    });
    const floorNoop = (): void => {
      sock.request(fam, NLM_F_DUMP, req.getServices(), 'floor');
      sock.requestMany(dumpReqs);
    };
    const noopMs = timedMs(floorNoop);
    const changeMs = timedMs(() => {
      if (sock.batch(changeReqs).some((e) => e)) throw new Error('floor change failed');
    });
    if (!changedVisible()) throw new Error('floor change not in the kernel');
    runs.floor ??= [];
    runs.floor.push({ loadMs, noopMs, changeMs });
    // The no-op again, vipd's and the floor's in turns, NOOP_PAIRS of each (the kernel
    // holds D1 now): single timings of a few hundred ms taken a minute apart differ by
    // 2x on an emulated CPU, and vipd's first no-op above also pays for the garbage of
    // the load before it. Which of the two goes first alternates.
    const pairs: { vipdMs: number; floorMs: number }[] = [];
    for (let p = 0; p < NOOP_PAIRS; p++) {
      let vipdMs = 0;
      const vipdNoop = (): void => {
        const x = timed(D1);
        if (x.ops !== 0 || x.source !== 'dump') throw new Error(`vipd paired no-op: ${x.ops} operation(s), from ${x.source}`);
        vipdMs = x.totalMs;
      };
      let floorMs = 0;
      if (p % 2) (floorMs = timedMs(floorNoop)), vipdNoop();
      else vipdNoop(), (floorMs = timedMs(floorNoop));
      pairs.push({ vipdMs, floorMs });
    }
    runs.noopPairs ??= [];
    runs.noopPairs.push(pairs);
  }
  // The kernel's own floor for a dump: ipvsadm -Sn of the same table.
  t0 = performance.now();
  sh('ipvsadm -Sn > /dev/null');
  runs.ipvsadm.at(-1)!.dumpMs = performance.now() - t0;

  // vipd run (the daemon)
  flush();
  writeFileSync('/run/bench/vipd.yaml', vipdYaml(false));
  t0 = performance.now();
  const v = daemon(VIPD_NODE_COMMAND[0]!, [...VIPD_NODE_COMMAND.slice(1), VIPD, 'run', '-c', '/run/bench/vipd.yaml', '--json', '--log-level', 'info'], '/run/bench/vipd.log');
  const vLoad = await until(t0, loaded, 'vipd run to load the table');
  await until(t0, () => v.log().includes('"event":"ipvs-reconciled"'), 'vipd to log its reconcile');
  let reloads = (v.log().match(/"event":"reloaded"/g) ?? []).length;
  t0 = performance.now();
  v.child.kill('SIGHUP');
  await until(t0, () => (v.log().match(/"event":"reloaded"/g) ?? []).length > reloads, 'vipd no-op reload');
  const vNoop = performance.now() - t0;
  reloads++;
  writeFileSync('/run/bench/vipd.yaml', vipdYaml(true));
  t0 = performance.now();
  v.child.kill('SIGHUP');
  const vChange = await until(t0, changedVisible, 'vipd reload to change the weights');
  v.child.kill('SIGTERM');
  await v.exited;
  const reloadsLogged = v.log().split('\n').filter((l) => l.includes('"event":"reloaded"') || l.includes('"event":"ipvs-reconciled"')).map((l) => JSON.parse(l) as Record<string, unknown>).map(({ level, time, pid, hostname, ...rest }) => rest);
  runs.vipdRun.push({ loadMs: vLoad, noopMs: vNoop, changeMs: vChange, log: reloadsLogged });

  // keepalived 2.2.7, checker process only
  flush();
  sh('cp /run/bench/keepalived.conf /run/bench/k.conf; rm -f /run/bench/k*.pid');
  t0 = performance.now();
  const k = daemon('keepalived', ['-n', '-l', '-C', '-f', '/run/bench/k.conf', '-p', '/run/bench/k.pid', '-c', '/run/bench/kc.pid'], '/run/bench/keepalived.log');
  const kLoad = await until(t0, loaded, 'keepalived to load the table');
  sh('cp /run/bench/keepalived-changed.conf /run/bench/k.conf');
  t0 = performance.now();
  k.child.kill('SIGHUP');
  const kChange = await until(t0, changedVisible, 'keepalived reload to change the weights');
  k.child.kill('SIGTERM');
  await k.exited;
  runs.keepalived.push({ loadMs: kLoad, changeMs: kChange });
  if (rep === 0) k.save();
  writeFileSync('bench.json', JSON.stringify({ reps: rep + 1, runs }, null, 1));
}
client.close();
writeFileSync('bench.json', JSON.stringify({ reps: REPS, runs, kernel: sh('uname -r').trim() }, null, 1));
process.exit(0);
