// Topology: the ECMP tier — three active directors behind one upstream router.
//   (bridges b-up, b-cl, b-in in vc-sw)
//   vc-rtr   the router: BIRD 2, BGP + BFD from each director, the VIP's equal routes merged
//            into one multipath route (ECMP, L4 hash); eth0 10.80.0.1 (directors), eth1 10.81.0.1
//            (client), eth2 10.82.0.1 (the real servers' way back)
//   vc-d1..3 directors: eth0 10.80.0.11..13, eth1 10.82.0.11..13; the VIP on lo; vipd announcing
//            it (mh, mh-fallback, mh-port; TCP checks) + BIRD exporting vipd's table 200; IPVS
//            sync daemons master+backup on eth1 (every director holds the others' connections)
//   vc-rs1..3 real servers 10.82.0.21..23, direct routing (VIP on lo, no ARP for it)
//   vc-cl    the client 10.81.0.50: N long-lived TCP connections, new ones on demand
// Each scenario's numbers are its details: test/bench/tier.bench.ts prints them.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { DaemonStatus } from '../../../src/cli/status-format.js';
import { request } from '../../../src/daemon/control.js';
import { birdArgs, directorBird, routerBird } from '../../../src/lab/bird.js';
import { Failure, inNs, sh, sleep, type Topology } from './harness.js';
import { PEER, RUN, runDir, runVipd, type Vipd } from './vipd.js';

const VIP = '10.85.0.100';
const N = Number(process.env.VIPD_TIER_FLOWS ?? 60);
const DIRS = ['d1', 'd2', 'd3'] as const;
type Dir = (typeof DIRS)[number];
const UP: Record<Dir, string> = { d1: '10.80.0.11', d2: '10.80.0.12', d3: '10.80.0.13' };
const RS = ['10.82.0.21', '10.82.0.22', '10.82.0.23'];
/** BFD under emulation: 200 ms x 5 (100 ms flapped while the guest's CPU was busy). */
const BFD = { intervalMs: 200, multiplier: 5 };
const ns = (h: string) => `vc-${h}`;

/** Processes that live across the scenarios (the harness kills a scenario's own at its end): killed by teardown. */
const lasting = new Set<ChildProcess>();
function keep<C extends ChildProcess>(c: C): C {
  lasting.add(c);
  c.once('exit', () => lasting.delete(c));
  return c;
}
const vipds: Partial<Record<Dir, Vipd>> = {};
const birds: Partial<Record<string, ChildProcess>> = {};
const servers: (ChildProcess | undefined)[] = [];

/** The namespaces, bridges and cables: one `ip -batch` per namespace (each `ip` is a process start, slow under emulation). */
function build(): void {
  sh(`for n in $(ip netns list | grep -o '^vc-[a-z0-9]*'); do ip netns pids $n | xargs -r kill -9; ip netns del $n; done; true`);
  const hosts = ['rtr', 'cl', ...DIRS, 'rs1', 'rs2', 'rs3'];
  const root = ['netns add vc-sw', ...hosts.map((h) => `netns add vc-${h}`)];
  const per: Record<string, string[]> = { sw: ['b-up', 'b-cl', 'b-in'].flatMap((b) => [`link add ${b} type bridge`, `link set ${b} type bridge forward_delay 0 stp_state 0`, `link set ${b} up`]) };
  for (const h of hosts) per[h] = ['link set lo up'];
  const sysctl: Record<string, string[]> = {};
  const link = (host: string, ifname: string, bridge: string, cidr: string) => {
    root.push(`link add x-${host}-${ifname} netns vc-${host} type veth peer name ${host}-${ifname} netns vc-sw`);
    per[host]!.push(`link set x-${host}-${ifname} name ${ifname}`, `addr add ${cidr} dev ${ifname}`, `link set ${ifname} up`);
    per.sw!.push(`link set ${host}-${ifname} master ${bridge} up`);
    (sysctl[host] ??= ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']).push(`net.ipv4.conf.${ifname}.rp_filter=0`);
  };
  link('rtr', 'eth0', 'b-up', '10.80.0.1/24');
  link('rtr', 'eth1', 'b-cl', '10.81.0.1/24');
  link('rtr', 'eth2', 'b-in', '10.82.0.1/24');
  sysctl.rtr!.push('net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1');
  link('cl', 'eth0', 'b-cl', '10.81.0.50/24');
  per.cl!.push('route add default via 10.81.0.1');
  DIRS.forEach((d, i) => {
    link(d, 'eth0', 'b-up', `${UP[d]}/24`);
    // README's advice for a tier (vipd warns without it): a handshake whose ACK reaches another director is scheduled there too.
    sysctl[d]!.push('net.ipv4.vs.sloppy_tcp=1');
    link(d, 'eth1', 'b-in', `10.82.0.1${i + 1}/24`);
    per[d]!.push(`addr add ${VIP}/32 dev lo`, 'route add default via 10.80.0.1');
  });
  RS.forEach((a, i) => {
    const h = `rs${i + 1}`;
    link(h, 'eth0', 'b-in', `${a}/24`);
    per[h]!.push(`addr add ${VIP}/32 dev lo`, 'route add default via 10.82.0.1');
    sysctl[h]!.push(...['all', 'eth0'].flatMap((d) => [`net.ipv4.conf.${d}.arp_ignore=1`, `net.ipv4.conf.${d}.arp_announce=2`]));
  });
  sh('modprobe ip_vs'); // its per-namespace sysctls (net.ipv4.vs.*) exist once it is loaded
  sh('ip -batch -', `${root.join('\n')}\n`);
  for (const [h, lines] of Object.entries(per)) sh(`ip -n vc-${h} -batch -`, `${lines.join('\n')}\n`);
  for (const [h, kv] of Object.entries(sysctl)) sh(`ip netns exec vc-${h} sysctl -qw ${kv.join(' ')}`);
}

function startBird(host: string, conf: string): void {
  writeFileSync(`${RUN}/${host}-bird.conf`, conf);
  birds[host] = keep(spawn('ip', ['netns', 'exec', ns(host), '/usr/sbin/bird', ...birdArgs(`${RUN}/${host}-bird.conf`, `${RUN}/${host}-bird.ctl`, `${RUN}/${host}-bird.pid`)], { stdio: 'ignore' }));
}
const startDirectorBird = (d: Dir) => startBird(d, directorBird({ routerId: UP[d], iface: 'eth0', localAs: 65010, upstream: { address: '10.80.0.1', as: 65000 }, table: 200, bfd: BFD }));

const vipdConfig = (d: Dir): string => `global: {router_id: ${d}, control_socket: ${RUN}/${d}.sock}
announce: {table: 200, drain_delay: 2}
ipvs:
  sync_daemon: {interface: eth1, sync_id: 7}   # no instance: master and backup, the tier's connections shared
virtual_servers:
  web:
    address: ${VIP}
    port: 80
    forwarding: dr
    announce: true                              # mh, mh-fallback, mh-port by default
    real_servers: [${RS.map((a) => `{address: ${a}}`).join(', ')}]
    health_check: {type: TCP, delay: 1, timeout: 0.8, max_retries: 1, max_retries_down: 2}
`;
function startDirector(d: Dir): Vipd {
  writeFileSync(`${RUN}/${d}.yaml`, vipdConfig(d));
  const v = runVipd(`${RUN}/${d}.yaml`, ns(d), keep);
  vipds[d] = v;
  return v;
}
/** A director's status over its control socket, from this process (a `vipd status` is a node start: seconds under emulation). */
const dirStatus = async (d: Dir) => (await request(`${RUN}/${d}.sock`, { cmd: 'status' }, 5000)) as DaemonStatus & { announce?: { tierHash?: string } };
/** Polls the async check every 100 ms until it is true. */
async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Failure(`timed out waiting for ${what}`, last);
}
const rsStatus = async (d: Dir, address: string) => (await dirStatus(d)).virtualServers?.[0]?.realServers.find((r) => r.address === address)?.status;

function startServer(i: number): Promise<void> {
  const child = keep(spawn('ip', ['netns', 'exec', ns(`rs${i + 1}`), process.execPath, PEER, 'server', `rs${i + 1}`, '80'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  servers[i] = child;
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`rs${i + 1} exited ${c}`)));
  });
}

/** The router's next hops for the VIP (directors' names), sorted. */
function nextHops(): string[] {
  const out = inNs(ns('rtr'), `ip route show ${VIP}/32`);
  return [...out.matchAll(/via (\S+)/g)].map((m) => DIRS.find((d) => UP[d] === m[1]) ?? m[1]!).sort();
}
/** Polls (every 20 ms) until the router's next hops are `want`; ms it took. */
async function hopsBecome(want: Dir[], ms = 60_000): Promise<number> {
  const t0 = performance.now();
  const end = Date.now() + ms;
  while (JSON.stringify(nextHops()) !== JSON.stringify([...want].sort())) {
    if (Date.now() > end) throw new Failure(`router next hops not ${want.join(',')}`, { now: nextHops(), logs: Object.fromEntries(Object.entries(vipds).map(([d, v]) => [d, v!.log().slice(-1500)])) });
    await sleep(20);
  }
  return Math.round(performance.now() - t0);
}

/** The director the router sends each client source port to (its own ECMP hash, asked with ip route get). */
function routedTo(sports: number[]): Dir[] {
  const batch = sports.map((p) => `route get ${VIP} from 10.81.0.50 iif eth1 ipproto tcp sport ${p} dport 80`).join('\n');
  // One answer line per question ("VIP from ... via NEXTHOP dev eth0 ..."), each followed by its "cache" line.
  const out = sh(`ip -n ${ns('rtr')} -batch -`, `${batch}\n`).split('\n').filter((l) => l.startsWith(VIP));
  if (out.length !== sports.length) throw new Failure('ip route get: not one answer per question', out);
  return out.map((l) => (DIRS.find((d) => l.includes(`via ${UP[d]} `)) ?? '?') as Dir);
}

/** The client's long-lived connections (lb-peer flows): commands in, one JSON line out each. */
class Flows {
  private readonly child: ChildProcess;
  private readonly lines: Interface;
  private readonly queue: ((l: string) => void)[] = [];
  first!: { sports: number[]; answers: string[] };

  constructor(n: number) {
    this.child = keep(spawn('ip', ['netns', 'exec', ns('cl'), process.execPath, PEER, 'flows', VIP, '80', String(n)], { stdio: ['pipe', 'pipe', 'pipe'] }));
    let stderr = '';
    this.child.stderr!.on('data', (d) => (stderr += d));
    this.lines = createInterface({ input: this.child.stdout! });
    this.lines.on('line', (l) => this.queue.shift()?.(l));
    // A client that dies answers every pending command with its last words.
    this.child.once('exit', (code) => {
      for (const r of this.queue.splice(0)) r(JSON.stringify({ exited: code, stderr: stderr.slice(-1000) }));
    });
  }

  async open(): Promise<this> {
    this.first = Flows.checked(await new Promise<string>((r) => this.queue.push(r)));
    return this;
  }

  async cmd<T>(c: string): Promise<T> {
    const answer = new Promise<string>((r) => this.queue.push(r));
    if (this.child.exitCode === null) this.child.stdin!.write(`${c}\n`);
    else this.queue.pop()?.(JSON.stringify({ exited: this.child.exitCode }));
    return Flows.checked(await answer);
  }

  private static checked<T>(line: string): T {
    const v = JSON.parse(line) as T & { exited?: number };
    if (v.exited !== undefined) throw new Failure('the client (lb-peer flows) exited', v);
    return v;
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

/** The flows whose answer now differs from `before` (error, or another real server), by the director they were on. */
function broken(before: string[], now: string[], on: Dir[]): { total: number; byDirector: Record<string, number>; samples: string[] } {
  const byDirector: Record<string, number> = {};
  const samples: string[] = [];
  now.forEach((a, i) => {
    if (a === before[i]) return;
    byDirector[on[i]!] = (byDirector[on[i]!] ?? 0) + 1;
    if (samples.length < 5) samples.push(`${before[i]} -> ${a}`);
  });
  return { total: Object.values(byDirector).reduce((a, b) => a + b, 0), byDirector, samples };
}
const count = <T extends string>(xs: T[]): Record<string, number> => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
/** Connections this director's IPVS scheduled itself (ipvsadm --stats Conns; synced ones are not counted). */
const scheduled = (d: Dir): number => Number(/TCP\s+\S+\s+(\d+)/.exec(inNs(ns(d), 'ipvsadm -Ln --stats'))?.[1] ?? -1);
const kill9 = (d: Dir) => {
  vipds[d]!.child.kill('SIGKILL');
  birds[d]?.kill('SIGKILL');
};
const cable = (d: Dir, up: boolean) => sh(`ip -n vc-sw link set ${d}-eth0 ${up ? 'up' : 'down'}`);
async function allOnline(): Promise<void> {
  await until('every director sees every real server ONLINE', async () => (await Promise.all(DIRS.flatMap((d) => RS.map((a) => rsStatus(d, a))))).every((s) => s === 'ONLINE'), 30_000);
}

let flows: Flows | undefined;

export const tier: Topology = {
  name: 'the ECMP tier: three directors behind a BGP router',
  scenarios: [
    {
      title: 'ECMP tier: three directors (vipd + BIRD 2) announce the VIP over BGP with BFD; the router holds it with three next hops, the router spreads flows over every director, each sending them to the same real server choice (mh), and all show one tier hash',
      limitMs: 240_000,
      run: async () => {
        const t0 = performance.now();
        const phases: Record<string, number> = {};
        const phase = (name: string) => (phases[name] = Math.round(performance.now() - t0));
        runDir();
        build();
        await Promise.all(RS.map((_, i) => startServer(i)));
        phase('built, servers up');
        startBird('rtr', routerBird({ routerId: '10.80.0.1', iface: 'eth0', localAs: 65000, peers: DIRS.map((d) => ({ name: d, address: UP[d], as: 65010 })), bfd: BFD }));
        for (const d of DIRS) startDirectorBird(d);
        for (const d of DIRS) startDirector(d);
        const converged = await hopsBecome([...DIRS], 120_000);
        phase('three next hops');
        await allOnline();
        phase('all ONLINE');
        flows = await new Flows(N).open();
        phase('flows open');
        const errors = flows.first.answers.filter((a) => a.startsWith('error'));
        if (errors.length) throw new Failure(`${errors.length} of ${N} connections failed`, flows.first.answers);
        // Every director carries traffic: the router's ECMP hash (asked per flow with ip route get) sends flows to
        // each of the three. The connections each director's IPVS scheduled are reported beside it: they are
        // counters of the service, which a reconcile that re-creates it would reset (seen once in CI: one director
        // at 0 while all 60 flows were answered) — a reported number, not the test of the spread.
        const routed = count(routedTo(flows.first.sports));
        const perDirector = Object.fromEntries(DIRS.map((d) => [d, scheduled(d)]));
        if (DIRS.some((d) => (routed[d] ?? 0) < 1)) throw new Failure('the router sent no flow to a director', { routed, perDirector });
        const quiet = DIRS.filter((d) => perDirector[d]! < 1).map((d) => ({ director: d, log: vipds[d]!.log().slice(-2000) }));
        const advice = DIRS.filter((d) => vipds[d]!.log().includes('"event":"ipvs-sysctl-advice"'));
        if (advice.length) throw new Failure('vipd advised a sysctl the directors have set (net.ipv4.vs.sloppy_tcp=1)', advice);
        const hashes = await Promise.all(DIRS.map(async (d) => (await dirStatus(d)).announce?.tierHash));
        if (!hashes[0] || hashes.some((h) => h !== hashes[0])) throw new Failure('tier hashes differ', hashes);
        const route = inNs(ns('rtr'), `ip route show ${VIP}/32`);
        const announcedAt = DIRS.map((d) => vipds[d]!.log().split('\n').find((l) => l.includes('"event":"vip-announced"'))).map((l) => (l ? (JSON.parse(l) as { time: string }).time : undefined));
        return { phases, announcedAt, convergedMs: converged, route, perDirector, routed, realServers: count(flows.first.answers), tierHash: hashes[0], ...(quiet.length ? { scheduledNone: quiet } : {}) };
      },
    },
    {
      title: 'ECMP tier: a real server dies — only its flows break; every other flow keeps its real server, new flows avoid it (mh-fallback); back, it is ONLINE on every director',
      limitMs: 120_000,
      run: async () => {
        if (!flows) throw new Failure('the tier is not up (first scenario failed)');
        const before = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        servers[2]!.kill('SIGKILL');
        await until('every director took rs3 out', async () => (await Promise.all(DIRS.map((d) => rsStatus(d, RS[2]!)))).every((s) => s === 'ERROR'), 30_000);
        const now = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        const onRs3 = before.filter((a) => a === 'rs3').length;
        const movedOthers = now.filter((a, i) => before[i] !== 'rs3' && a !== before[i]).length;
        const fresh = await flows.cmd<{ answers: string[] }>(`fresh ${N / 2}`);
        if (movedOthers > 0) throw new Failure(`${movedOthers} flows of rs1/rs2 broke or moved`, { before, now });
        if (fresh.answers.some((a) => a === 'rs3' || a.startsWith('error'))) throw new Failure('a new flow went to rs3 or failed', fresh.answers);
        await startServer(2);
        await allOnline();
        flows.close();
        flows = undefined;
        return { flows: N, onDeadServer: onRs3, brokenOnDeadServer: now.filter((a, i) => before[i] === 'rs3' && a !== 'rs3').length, movedOthers, freshFlows: count(fresh.answers) };
      },
    },
    {
      title: 'ECMP tier: a director dies (kill -9, cable pulled) — BFD takes its next hop out; flows of the survivors keep working, the dead director\'s continue on the same real server through the others (mh + sync); the count that broke is reported',
      limitMs: 120_000,
      run: async () => {
        flows = await new Flows(N).open();
        const on = routedTo(flows.first.sports);
        await sleep(1500); // the sync daemons carry every connection to the other directors
        const before = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        await flows.cmd<unknown>('churned');
        await flows.cmd<unknown>('churn');
        const t0 = performance.now();
        kill9('d3');
        cable('d3', false);
        await hopsBecome(['d1', 'd2'], 30_000);
        const convergedMs = Math.round(performance.now() - t0);
        await sleep(1000);
        const now = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        const newConnections = await flows.cmd<{ ok: number; failed: number }>('churned');
        const b = broken(before, now, on);
        const onDead = on.filter((d) => d === 'd3').length;
        const result = { flows: N, onDeadDirector: onDead, broken: b, convergedMs, bfd: `${BFD.intervalMs} ms x ${BFD.multiplier}`, newConnections };
        if (onDead === 0) throw new Failure('no flow was on d3: the event tests nothing', result);
        if (b.total > 0) throw new Failure(`${b.total} of ${N} connections broke`, result);
        return result;
      },
    },
    {
      title: 'ECMP tier: a director stops gracefully (SIGTERM) — the VIP is withdrawn before vipd stops its IPVS part; no connection breaks',
      limitMs: 120_000,
      run: async () => {
        if (!flows) throw new Failure('no flows (the previous scenario failed)');
        const on = routedTo(flows.first.sports);
        const before = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        const v = vipds.d2!;
        const t0 = performance.now();
        v.child.kill('SIGTERM');
        const withdrawnMs = await hopsBecome(['d1'], 30_000);
        const code = await v.exited;
        const exitedMs = Math.round(performance.now() - t0);
        const now = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        const newConnections = await flows.cmd<{ ok: number; failed: number }>('churned');
        // What the daemon did after the signal, in order: the withdrawal must come before the IPVS part (sync daemons stopped).
        const after = v.log().split('\n').filter(Boolean);
        const order = after
          .slice(after.findIndex((l) => l.includes('"event":"stopping"')))
          .filter((l) => /"event":"(vip-withdrawn|announce-drain|ipvs-sync-daemon|stopped)"/.test(l))
          .map((l) => (JSON.parse(l) as { event: string; role?: string }).event + ((JSON.parse(l) as { role?: string }).role ? ` ${(JSON.parse(l) as { role?: string }).role}` : ''));
        const b = broken(before, now, on);
        const result = { flows: N, onStoppedDirector: on.filter((d) => d === 'd2').length, broken: b, withdrawnMs, exitedMs, exitCode: code, order, newConnections };
        if (withdrawnMs >= exitedMs) throw new Failure('the router still had d2 when vipd exited', result);
        if (code !== 0 || JSON.stringify(order) !== JSON.stringify(['vip-withdrawn', 'announce-drain', 'ipvs-sync-daemon stopped', 'stopped'])) throw new Failure('not withdrawn first, or not a clean exit', result);
        if (b.total > 0) throw new Failure(`${b.total} of ${N} connections broke on a graceful stop`, result);
        // Nor does one being opened: sloppy_tcp lets the director the router moved it to schedule its handshake's ACK.
        if (newConnections.failed > 0) throw new Failure(`${newConnections.failed} new connection(s) failed during a graceful stop`, result);
        return result;
      },
    },
    {
      title: 'ECMP tier: directors added back — the router spreads new flows over three again (about a third each); established flows keep their real server',
      limitMs: 180_000,
      run: async () => {
        if (!flows) throw new Failure('no flows (the previous scenario failed)');
        const on = routedTo(flows.first.sports);
        const before = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        startDirector('d2');
        cable('d3', true);
        startDirectorBird('d3');
        startDirector('d3');
        const t0 = performance.now();
        await hopsBecome([...DIRS], 90_000);
        const convergedMs = Math.round(performance.now() - t0);
        await sleep(1000);
        const now = (await flows.cmd<{ answers: string[] }>('probe')).answers;
        const fresh = await flows.cmd<{ sports: number[]; answers: string[] }>(`fresh ${N}`);
        const freshOn = count(routedTo(fresh.sports));
        const b = broken(before, now, on);
        const result = { flows: N, broken: b, convergedMs, freshFlows: N, freshByDirector: freshOn, freshFailed: fresh.answers.filter((a) => a.startsWith('error')).length, newConnections: await flows.cmd<{ ok: number; failed: number }>('churned') };
        if (b.total > 0) throw new Failure(`${b.total} of ${N} established connections broke when directors were added`, result);
        if (DIRS.some((d) => (freshOn[d] ?? 0) < N / 6)) throw new Failure('a director took less than a sixth of new flows', result);
        if (result.freshFailed > 0) throw new Failure('new flows failed', result);
        return result;
      },
    },
  ],
  teardown: () => {
    flows?.close();
    for (const c of lasting) c.kill('SIGKILL');
    sh(`for n in $(ip netns list | grep -o '^vc-[a-z0-9]*'); do ip netns pids $n | xargs -r kill -9; ip netns del $n; done; true`);
  },
};
