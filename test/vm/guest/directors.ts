// Topology: the Octavia tutorial — a load balancer with two directors (VRRP) in front of two web workers.
//   one switch (vt-osw): lb1 10.90.0.11 (priority 150), lb2 10.90.0.12 (100), client 10.90.0.50,
//   worker1 10.90.0.21, worker2 10.90.0.22; VIP 10.90.0.100:80, direct routing (the workers hold the
//   VIP on lo and do not answer ARP for it), HTTP health monitor every second.
// Each director is a vipd in its own namespace with its own IPVS table (IPVS is per network namespace).

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { assertEq, Failure, inNs, sh, sleep, type Topology, track, until } from './harness.js';
import { events, PEER, RUN, runDir, runVipd, type Vipd, vipdStatus, vipdStatusText } from './vipd.js';

const OCT = ['olb1:10.90.0.11', 'olb2:10.90.0.12', 'ocl:10.90.0.50', 'ow1:10.90.0.21', 'ow2:10.90.0.22'];
function octaviaTopology(): void {
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
const octConfig = (name: string, priority: number): string => `global: {router_id: ${name}, control_socket: ${RUN}/${name}.sock}
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
/** vipd in namespace vt-NAME with /run/vipd-test/NAME.yaml. */
const runDirector = (name: string): Vipd => runVipd(`${RUN}/${name}.yaml`, `vt-${name}`);
function startDirector(name: string, priority: number): Vipd {
  writeFileSync(`${RUN}/${name}.yaml`, octConfig(name, priority));
  return runDirector(name);
}
function startWorker(i: number): Promise<ChildProcess> {
  const child = track(spawn('ip', ['netns', 'exec', `vt-ow${i}`, process.execPath, PEER, 'http', `worker ${i}`, '80'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (c) => reject(new Error(`worker ${i} exited ${c}`)));
  });
}
const procInfo = (pid: number | undefined): string => {
  try {
    return sh(`cat /proc/${pid}/fdinfo/1 | head -2; ls -l /proc/${pid}/fd/1; cat /proc/${pid}/wchan; echo; grep State /proc/${pid}/status; cat /proc/${pid}/task/*/wchan | tr '\\0' ' '`);
  } catch (e) {
    return String(e);
  }
};
const dirStatus = (name: string) => vipdStatus(`${RUN}/${name}.sock`);
const vrrpState = (name: string) => dirStatus(name).vrrp.instances[0]?.state;
const rsStatuses = (name: string): Record<string, string> => Object.fromEntries((dirStatus(name).virtualServers?.[0]?.realServers ?? []).map((r) => [r.address, r.status]));
const get = (n: number): string[] => JSON.parse(inNs('vt-ocl', `${process.execPath} ${PEER} client http 10.90.0.100 80 ${n}`)) as string[];
function alternatesWorkers(names: string[], what: string): void {
  const bad = names.some((n, i) => !/^Hello from worker [12]$/.test(n) || (i > 0 && n === names[i - 1]));
  if (bad) throw new Failure(`${what}: answers do not alternate between worker 1 and worker 2`, names);
}

export const directors: Topology = {
  name: 'two directors (VRRP) in front of two workers',
  scenarios: [
    {
      title: 'the Octavia tutorial: two workers behind two directors — requests alternate, a stopped worker leaves the pool with no failed request after detection and returns, the backup takes over on a master kill with the same health view',
      limitMs: 240_000,
      run: async () => {
        runDir();
        octaviaTopology();
        const out: Record<string, unknown> = {};
        await startWorker(1);
        let w2 = await startWorker(2);
        const lb1 = startDirector('olb1', 150);
        const lb2 = startDirector('olb2', 100);
        const logs = () => ({ lb1: lb1.log().slice(-1500), lb2: lb2.log().slice(-1500) });
        await until('lb1 MASTER and lb2 BACKUP', () => (vrrpState('olb1') === 'MASTER' && vrrpState('olb2') === 'BACKUP') || logs());
        const bothOnline = { '10.90.0.21': 'ONLINE', '10.90.0.22': 'ONLINE' };
        await until('both workers ONLINE on both directors', () => JSON.stringify([rsStatuses('olb1'), rsStatuses('olb2')]) === JSON.stringify([bothOnline, bothOnline]) || [rsStatuses('olb1'), rsStatuses('olb2')]);
        // Both directors hold the table (the backup keeps it ready); only the master holds the VIP.
        const table = (ns: string) => inNs(ns, 'ipvsadm -Sn').split('\n').filter(Boolean).sort();
        assertEq(table('vt-olb1'), ['-A -t 10.90.0.100:80 -s wrr', '-a -t 10.90.0.100:80 -r 10.90.0.21:80 -g -w 1', '-a -t 10.90.0.100:80 -r 10.90.0.22:80 -g -w 1'], 'lb1 ipvsadm -Sn');
        assertEq(table('vt-olb2'), table('vt-olb1'), 'lb2 ipvsadm -Sn (kept ready on the backup)');
        const start = (out.start = get(10));
        alternatesWorkers(start, 'both workers up');

        // Stop worker 2: after detection (2 failed checks) every request goes to worker 1, none fails.
        w2.kill('SIGKILL');
        const stoppedAt = Date.now();
        await until('worker 2 ERROR on lb1', () => rsStatuses('olb1')['10.90.0.22'] === 'ERROR' || [rsStatuses('olb1'), lb1.log().slice(-800)]);
        out.detectionMs = Date.now() - stoppedAt;
        await until("lb1's DOWN log line with the reason", () => /RS 10\.90\.0\.22:80 of 10\.90\.0\.100:80 DOWN: TCP ECONNREFUSED \(connection refused\), 2\/2 failures/.test(lb1.log()) || { log: lb1.log().slice(-1500), fd1: procInfo(lb1.child.pid) }, 10_000);
        assertEq(table('vt-olb1'), ['-A -t 10.90.0.100:80 -s wrr', '-a -t 10.90.0.100:80 -r 10.90.0.21:80 -g -w 1'], 'lb1 table with worker 2 down');
        out.worker2Down = get(20);
        assertEq(out.worker2Down, Array(20).fill('Hello from worker 1'), 'every request after detection answered by worker 1');
        // The backup checks too: it sees worker 2 down just as the master does.
        await until('worker 2 ERROR on lb2 too', () => rsStatuses('olb2')['10.90.0.22'] === 'ERROR' || rsStatuses('olb2'));

        // Start worker 2 again: after 2 passing checks it is back and requests alternate again.
        w2 = await startWorker(2);
        await until('worker 2 ONLINE again on both', () => (rsStatuses('olb1')['10.90.0.22'] === 'ONLINE' && rsStatuses('olb2')['10.90.0.22'] === 'ONLINE') || [rsStatuses('olb1'), rsStatuses('olb2')]);
        const back = (out.worker2Back = get(10));
        alternatesWorkers(back, 'worker 2 back');

        // Kill the master director (power loss: kill -9 and its link down): lb2 takes over the VIP with
        // the table and health view it already has.
        const lb1View = rsStatuses('olb1');
        sh(`ip netns pids vt-olb1 | xargs -r kill -9; ip -n vt-osw link set p-olb1 down`);
        const killedAt = Date.now();
        await until('lb2 MASTER', () => vrrpState('olb2') === 'MASTER' || lb2.log().slice(-800));
        out.takeoverMs = Date.now() - killedAt;
        assertEq(rsStatuses('olb2'), lb1View, "lb2's health view after the takeover = lb1's before the kill");
        await until('the client reaches the VIP through lb2', () => !get(1)[0]?.startsWith('error') || 'no answer');
        const through = (out.afterTakeover = get(10));
        alternatesWorkers(through, 'through lb2');
        // And lb2's checks keep steering: worker 2 stops again, lb2 takes it out.
        w2.kill('SIGKILL');
        await until('worker 2 ERROR on lb2 (now master)', () => rsStatuses('olb2')['10.90.0.22'] === 'ERROR' || rsStatuses('olb2'));
        out.lb2Worker2Down = get(10);
        assertEq(out.lb2Worker2Down, Array(10).fill('Hello from worker 1'), 'through lb2 with worker 2 down');
        out.lb2Status = vipdStatusText(`${RUN}/olb2.sock`);
        lb2.child.kill('SIGTERM');
        return out;
      },
    },
    {
      title: 'a master reloading 10,000 real servers keeps its VIP: the parse runs in a thread and the dump yields, so its adverts go on and the backup never takes over',
      limitMs: 300_000,
      run: async () => {
        runDir();
        octaviaTopology();
        // The real servers' network is reachable through eth0 (the kernel wants a unicast route to each).
        inNs('vt-olb1', 'ip route add 10.20.0.0/16 dev eth0');
        const big = (weight: number): string => {
          const l = [`global: {router_id: olb1, control_socket: ${RUN}/olb1.sock}`, 'vrrp_instances:', '  VI_1: {interface: eth0, vrid: 51, priority: 150, advert_int: 1, virtual_ipaddress: [10.90.0.100/32]}', 'virtual_servers:'];
          for (let i = 0; i < 1000; i++) {
            l.push(`  s${i}:`, `    address: 10.40.${i >> 8}.${i & 255}`, '    port: 80', '    scheduler: wrr', '    real_servers:');
            for (let j = 0; j < 10; j++) l.push(`      - {address: 10.20.${100 + j}.${(i % 250) + 1}, port: ${8000 + j}, weight: ${i < 100 ? weight : 1}}`);
          }
          return l.join('\n') + '\n';
        };
        writeFileSync(`${RUN}/olb1.yaml`, big(1));
        writeFileSync(`${RUN}/olb2.yaml`, `global: {router_id: olb2, control_socket: ${RUN}/olb2.sock}\nvrrp_instances:\n  VI_1: {interface: eth0, vrid: 51, priority: 100, advert_int: 1, virtual_ipaddress: [10.90.0.100/32]}\n`);
        const lb1 = runDirector('olb1');
        await until('lb1 loaded its table', () => events(lb1, 'ipvs-reconciled').length > 0 || lb1.log().slice(-800), 120_000);
        const lb2 = runDirector('olb2');
        // States from the transition log lines (lb1's vipd status --json, 10,000 real servers, is a big read).
        const state = (d: Vipd) => events(d, 'vrrp-transition').at(-1)?.to;
        await until('lb1 MASTER and lb2 BACKUP', () => (state(lb1) === 'MASTER' && state(lb2) === 'BACKUP') || [lb1.log().slice(-600), lb2.log().slice(-600)], 60_000);
        const lb2Before = events(lb2, 'vrrp-transition').length;
        writeFileSync(`${RUN}/olb1.yaml`, big(2));
        const t0 = Date.now();
        lb1.child.kill('SIGHUP');
        await until('lb1 reloaded', () => events(lb1, 'reloaded').length > 0 || lb1.log().slice(-800), 120_000);
        const reloadMs = Date.now() - t0;
        await sleep(2000);
        const weights = inNs('vt-olb1', 'ipvsadm -Sn').split('\n').filter((l) => / -w 2$/.test(l)).length;
        assertEq(weights, 1000, 'real servers with the new weight in the kernel');
        assertEq(events(lb2, 'vrrp-transition').slice(lb2Before).map((e) => e.to), [], "lb2 transitions during lb1's reload");
        assertEq(state(lb1), 'MASTER', 'lb1 state after its reload');
        const reloaded = events(lb1, 'reloaded')[0]!;
        lb1.child.kill('SIGTERM');
        lb2.child.kill('SIGTERM');
        return { reloadMs, parseMs: reloaded.parseMs, ipvsMs: reloaded.ipvsMs, ipvsOps: reloaded.ipvsOps };
      },
    },
  ],
};
