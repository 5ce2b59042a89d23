// Topology: traffic through the director — a client namespace, two real-server namespaces.
//   vt-cl 10.80.0.2 --cl0-- director (VIPs 10.80.0.100 nat, .101 dr, .102 tunnel) --br-rs-- vt-r1 10.81.0.11, vt-r2 10.81.0.12
// The real servers answer with their name (TCP :80 and :8080, UDP :53 on each address they serve).
// Direct-routing and tunnel replies leave the real servers with the VIP as source and reach the
// client through the director's routing (in production they go through the router): accept_local
// lets the director forward a packet whose source is one of its own addresses.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { assertEq, Failure, inNs, sh, sleep, type Topology, track, until, VIPD } from './harness.js';
import { PEER, RUN, runDir, startVipd, vipdStatus, vipdStatusText } from './vipd.js';

function lbTopology(): void {
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
async function startServers(): Promise<ChildProcess[]> {
  const servers: ChildProcess[] = [];
  for (const i of [1, 2]) {
    const child = track(spawn('ip', ['netns', 'exec', `vt-r${i}`, process.execPath, PEER, 'server', `r${i}`, '80,8080', `10.81.0.1${i}:53,10.80.0.101:53,10.80.0.102:53`], { stdio: ['ignore', 'pipe', 'inherit'] }));
    servers.push(child);
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (c) => reject(new Error(`real server r${i} exited ${c}`)));
    });
  }
  return servers;
}
let nextSport = 30000; // UDP source ports, never reused within a boot
const ask = (proto: 'tcp' | 'udp', host: string, port: number, count: number): string[] => {
  const sport = nextSport;
  nextSport += count;
  return JSON.parse(inNs('vt-cl', `${process.execPath} ${PEER} client ${proto} ${host} ${port} ${count} ${sport}`)) as string[];
};
const count = (names: string[]): Record<string, number> =>
  Object.fromEntries(Object.entries(names.reduce<Record<string, number>>((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {})).sort());
function alternates(names: string[], what: string): void {
  const bad = names.some((n, i) => !/^r[12]$/.test(n) || (i > 0 && n === names[i - 1]));
  if (bad) throw new Failure(`${what}: answers do not alternate between r1 and r2`, names);
}
const lbConfig = (extra = ''): string => `global: {control_socket: ${RUN}/vipd.sock}
virtual_servers:
  nat-web: {address: 10.80.0.100, port: 80, scheduler: rr, forwarding: nat, real_servers: [{address: 10.81.0.11, port: 8080}, {address: 10.81.0.12, port: 8080}]}
  nat-dns: {address: 10.80.0.100, port: 53, protocol: udp, scheduler: rr, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
  dr-web: {address: 10.80.0.101, port: 80, scheduler: wrr, forwarding: dr, real_servers: [{address: 10.81.0.11, weight: 3}, {address: 10.81.0.12, weight: 1}]}
  dr-dns: {address: 10.80.0.101, port: 53, protocol: udp, scheduler: wrr, forwarding: dr, real_servers: [{address: 10.81.0.11, weight: 3}, {address: 10.81.0.12, weight: 1}]}
  tun-web: {address: 10.80.0.102, port: 80, scheduler: sh, forwarding: tunnel, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
  tun-dns: {address: 10.80.0.102, port: 53, protocol: udp, scheduler: rr, forwarding: tunnel, real_servers: [{address: 10.81.0.11}, {address: 10.81.0.12}]}
${extra}`;
const statsConns = (svcFlag: string): Record<string, number> =>
  Object.fromEntries([...sh(`ipvsadm -Ln --stats ${svcFlag}`).matchAll(/-> (10\.81\.0\.1[12]):\d+ +(\d+)/g)].map((m) => [m[1], Number(m[2])]));
const services = (): number => (sh('ipvsadm -Sn').match(/^-A /gm) ?? []).length;

export const traffic: Topology = {
  name: 'traffic through the director',
  scenarios: [
    {
      title: 'traffic: NAT, direct routing and IPIP tunnel end to end over TCP and UDP — rr alternates, wrr honours 3:1, sh keeps a client on one server; ipvsadm --stats agrees',
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        lbTopology();
        await startServers();
        const v = startVipd(lbConfig());
        await until('six services programmed', () => services() === 6 || sh('ipvsadm -Sn') + v.log().slice(-1500));
        const out: Record<string, unknown> = {};
        const natTcp = (out.natTcp = ask('tcp', '10.80.0.100', 80, 10));
        alternates(natTcp, 'NAT TCP rr');
        const natUdp = (out.natUdp = ask('udp', '10.80.0.100', 53, 10));
        alternates(natUdp, 'NAT UDP rr');
        out.drTcp = count(ask('tcp', '10.80.0.101', 80, 40));
        assertEq(out.drTcp, { r1: 30, r2: 10 }, 'DR TCP wrr 3:1 over 40 requests');
        out.drUdp = count(ask('udp', '10.80.0.101', 53, 20));
        assertEq(out.drUdp, { r1: 15, r2: 5 }, 'DR UDP wrr 3:1 over 20 requests');
        const shNames = ask('tcp', '10.80.0.102', 80, 12);
        if (new Set(shNames).size !== 1 || !/^r[12]$/.test(shNames[0] ?? '')) throw new Failure('tunnel sh: one client should stay on one server', shNames);
        out.tunTcp = shNames;
        const tunUdp = (out.tunUdp = ask('udp', '10.80.0.102', 53, 10));
        alternates(tunUdp, 'tunnel UDP rr');
        // The kernel's own counters: connections per real server of the wrr service.
        // The kernel folds its per-CPU counters into these totals on its estimator's tick (every 2 s): wait for it.
        const wantStats = { '10.81.0.11': 30, '10.81.0.12': 10 };
        await until('ipvsadm -Ln --stats connections of the DR service', () => JSON.stringify((out.drStats = statsConns('-t 10.80.0.101:80'))) === JSON.stringify(wantStats) || out.drStats, 10_000);
        // vipd status shows the same table, with the config's names and the kernel's counters.
        const status = vipdStatusText();
        for (const re of [/^dr-web +TCP 10\.80\.0\.101:80 +wrr +ONLINE +10\.81\.0\.1[12]:80 /m, /^(dr-web .*| +)10\.81\.0\.11:80 +ONLINE +dr +3 +\d+ +\d+ +30 +no check$/m, /^(dr-web .*| +)10\.81\.0\.12:80 +ONLINE +dr +1 +\d+ +\d+ +10 +no check$/m, /^IPVS: 6 service\(s\), 6 managed by vipd/m])
          if (!re.test(status)) throw new Failure(`vipd status lacks ${re}`, status);
        out.status = status;
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'vipd exit code');
        return out;
      },
    },
    {
      title: 'an established TCP connection through the director survives a vipd restart and a config reload',
      run: async () => {
        // Topology and servers from the previous scenario stay up (their processes were killed: restart them).
        await startServers();
        const v1 = startVipd(lbConfig());
        await until('vipd reconciled (the table is kept from the previous scenario: 0 operations)', () => /"event":"ipvs-reconciled","ops":0/.test(v1.log()) || v1.log().slice(-1500));
        const hold = track(spawn('ip', ['netns', 'exec', 'vt-cl', process.execPath, PEER, 'hold', '10.80.0.100', '80'], { stdio: ['pipe', 'pipe', 'inherit'] }));
        const lines: string[] = [];
        let pending = '';
        hold.stdout.setEncoding('utf8');
        hold.stdout.on('data', (d: string) => {
          pending += d;
          for (let i; (i = pending.indexOf('\n')) >= 0; pending = pending.slice(i + 1)) lines.push(pending.slice(0, i));
        });
        const answers = () => lines.filter((l) => l !== 'connected');
        const next = async (): Promise<string> => {
          const n = answers().length;
          hold.stdin.write('ask\n');
          for (const end = Date.now() + 10000; answers().length <= n && Date.now() < end; ) await sleep(100);
          return answers().length > n ? answers().at(-1)! : 'no answer';
        };
        const first = await next();
        if (!/^r[12]$/.test(first)) throw new Failure('the held connection did not answer', lines);
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
        writeFileSync(`${RUN}/vipd.yaml`, lbConfig('  extra: {address: 10.80.0.100, port: 81, scheduler: rr, real_servers: [{address: 10.81.0.11, port: 8080}]}\n').replace('{address: 10.81.0.12, port: 8080}]', '{address: 10.81.0.12, port: 8080, weight: 2}]'));
        v2.child.kill('SIGHUP');
        await until('the reload', () => services() === 7);
        const afterReload = await next();
        assertEq([afterStop, afterRestart, afterReload], [first, first, first], 'the same real server answers on the same connection after stop, restart, reload');
        assertEq(conn().length, 1, 'established IPVS connections after the reload');
        hold.stdin.end();
        v2.child.kill('SIGTERM');
        assertEq(await v2.exited, 0, 'vipd exit code');
        return { server: first, answers: lines };
      },
    },
    {
      title: 'bad input: a scheduler the kernel lacks and an unroutable real server — clear errors, the rest of the table applied; a duplicate service is a config error at file:line:col',
      run: async () => {
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
          for (const re of must) if (!re.test(log)) throw new Failure(`log lacks ${re}`, log.slice(-3000));
          // Everything else is in the kernel: 6 services of the traffic config + "lost" with both real servers.
          const table = sh('ipvsadm -Sn');
          assertEq((table.match(/^-A /gm) ?? []).length, 7, 'services applied');
          if (!table.includes('-a -t 10.80.0.100:83 -r 192.0.2.77:83 -g')) throw new Failure('the unroutable real server should still be programmed (a route may come later)', table);
          // The status reports both.
          const status = vipdStatus();
          assertEq([status.ipvs?.lastReconcile?.failed.length, status.ipvs?.routeProblems?.length], [2, 1], 'failed operations and route problems in vipd status --json');
          v.child.kill('SIGTERM');
          await v.exited;
          // A duplicate service: rejected before anything is touched, exit code 2.
          writeFileSync(`${RUN}/dup.yaml`, lbConfig('  again: {address: 10.80.0.100, port: 80, scheduler: wrr, real_servers: [{address: 10.81.0.12}]}\n'));
          let err: { status?: number; stderr?: string } | undefined;
          try {
            sh(`${process.execPath} ${VIPD} check -c ${RUN}/dup.yaml`);
          } catch (e) {
            err = e as { status?: number; stderr?: string };
          }
          if (err?.status !== 2 || !/dup\.yaml:\d+:\d+: virtual_servers\.again: TCP 10\.80\.0\.100:80 is already defined by virtual server "nat-web"/.test(err.stderr ?? '')) throw new Failure('duplicate service not rejected as expected', { status: err?.status, stderr: err?.stderr });
          return { errors: log.split('\n').filter((l) => /"level":50/.test(l)).map((l) => (JSON.parse(l) as { msg: string }).msg), duplicate: err.stderr?.trim() };
        } finally {
          sh('ip route del unreachable 192.0.2.0/24');
        }
      },
    },
  ],
};
