// Runs inside the QEMU guest (keepalived's checker refuses to start without IPVS,
// which this host's kernel lacks). The same targets are checked in turn by
//   vipd        the daemon: checks, director and a VRRP master at advert_int 0.1 s, one process;
//   keepalived  2.2.7: its checker process, and its VRRP process as the master at 0.1 s.
// Targets (namespace vt-bt; VIPD_NS_PREFIX changes vt-): BENCH_TCP TCP listeners and BENCH_HTTP HTTP listeners,
// every one checked each second (TCP connect / HTTP GET, timeout 0.8 s, fall 1, rise 1).
// A VRRP backup (keepalived, namespace vt-bp, priority 100) watches the master's adverts.
// Per checker: after a warm-up, a window of BENCH_WINDOW_S seconds measures CPU (utime+stime
// of the checking process, % of one CPU), RSS, and the checks the targets actually served
// per second; then BENCH_KILLS targets are closed (one per 100 ms, 4:1 TCP:HTTP) and the
// time from close to the checker's verdict that takes the real server out is recorded;
// throughout, tcpdump at the backup timestamps the master's adverts (jitter = |interval - 100 ms|)
// and the backup's transitions to MASTER are counted (spurious: the target is zero).
// vipd serves /metrics (metrics.listen 127.0.0.1:9650) and, from the end of its start-up to the
// end of the window, curl in its namespace scrapes it every BENCH_SCRAPE_S seconds (5; 0: no
// metrics section), as Prometheus would: the time of each answer (the warm-up's apart), its
// size, and the longest advert interval that overlapped a scrape in the window.
// vipd runs with the node options of bin/vipd.js's first line (what systemd runs).
// Writes bench.json to the working directory (the share), or BENCH_OUT.
// Diagnosis: BENCH_DEBUG=1 prints the checker's last log lines when adverts were late
// (and its long GC pauses with BENCH_NODE_ARGS=--trace-gc); BENCH_NODE_ARGS passes
// node options to vipd (e.g. --cpu-prof --cpu-prof-dir=/tmp/share/prof);
// BENCH_HOST=1 runs vipd's half on a host without IPVS.
// Idle first (BENCH_IDLE_S, 15; 0: skipped): each daemon with the VRRP instance and one
// virtual server of two HTTP real servers checked every 5 s (the sample config's
// shape), its RSS after BENCH_IDLE_S seconds — every process of it: keepalived's
// parent, VRRP and checker processes, and their sum.
// Compiled with the guest's scenarios (tsconfig.guest.json) and run on their harness:
// node dist-test/test/bench/guest/checks-bench.js.

import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sh, sleep, VIPD, VIPD_NODE_COMMAND } from '../../vm/guest/harness.js';

const TARGETS = fileURLToPath(new URL('./checks-targets.js', import.meta.url));
const N_TCP = Number(process.env.BENCH_TCP ?? 10000);
const N_HTTP = Number(process.env.BENCH_HTTP ?? 2000);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 20);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 30);
const KILLS = Number(process.env.BENCH_KILLS ?? 100);
const ONLY = process.env.BENCH_ONLY; // "vipd" or "keepalived" while developing
// BENCH_HOST=1: vipd alone on a host without IPVS (native CPU; keepalived's checker needs IPVS).
const HOST = process.env.BENCH_HOST === '1';
const SCRAPE_S = Number(process.env.BENCH_SCRAPE_S ?? 5);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 15);
const PER_VS = 100;
const TCP0 = 20000;
const HTTP0 = 40000;
const TGT = '10.201.0.2';

const log = (m: string): void => console.log(`[${new Date().toISOString().slice(11, 23)}] ${m}`);
const children = new Set<ChildProcess>();
const spawnNs = (ns: string, cmd: string, args: string[]): ChildProcessWithoutNullStreams => {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
};
const lines = (stream: Readable, fn: (l: string) => void) => createInterface({ input: stream }).on('line', fn);
const pct = (xs: number[], p: number): number | undefined => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

if (!HOST) sh('for m in ip_vs ip_vs_rr bridge veth; do modprobe $m; done');
// VIPD_NS_PREFIX: the namespaces' prefix (vt- by default), for a run beside another on the same machine.
const NS = process.env.VIPD_NS_PREFIX ?? 'vt-';
const RUN = NS === 'vt-' ? '/run/bench' : `/run/bench-${NS.replace(/-$/, '')}`;
mkdirSync(RUN, { recursive: true, mode: 0o700 });
sh(`for n in ${NS}bsw ${NS}bd ${NS}bt ${NS}bp; do ip netns del $n 2>/dev/null; done; true`);
sh(`set -e
  ip netns add ${NS}bsw; ip -n ${NS}bsw link add br0 type bridge; ip -n ${NS}bsw link set br0 up
  for h in bd:10.201.0.1 bt:${TGT} bp:10.201.0.3; do
    n=\${h%%:*}; a=\${h#*:}
    ip netns add ${NS}$n; ip -n ${NS}$n link set lo up
    ip link add x-$n netns ${NS}$n type veth peer name p-$n netns ${NS}bsw
    ip -n ${NS}$n link set x-$n name eth0; ip -n ${NS}$n addr add $a/24 dev eth0; ip -n ${NS}$n link set eth0 up
    ip -n ${NS}bsw link set p-$n master br0 up
  done
  ip netns exec ${NS}bd sh -c 'echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range; echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse'
  ip netns exec ${NS}bt sh -c 'echo 4096 > /proc/sys/net/core/somaxconn'`);

// The same table for both: virtual server k (TCP 10.202.0.1:1000+k) has 100 real servers.
const groups: { type: 'TCP' | 'HTTP'; first: number; n: number }[] = [];
for (let i = 0; i < N_TCP; i += PER_VS) groups.push({ type: 'TCP', first: TCP0 + i, n: Math.min(PER_VS, N_TCP - i) });
for (let i = 0; i < N_HTTP; i += PER_VS) groups.push({ type: 'HTTP', first: HTTP0 + i, n: Math.min(PER_VS, N_HTTP - i) });
const ports = (g: (typeof groups)[number]): number[] => Array.from({ length: g.n }, (_, j) => g.first + j);

const vrrpYaml = `vrrp_instances:
  VI_B: {interface: eth0, vrid: 60, priority: 150, advert_int: 0.1, virtual_ipaddress: [10.201.0.100/32]}
`;
function vipdConfig(): string {
  const vs = groups.map((g, k) => {
    const hc = g.type === 'TCP' ? '{type: TCP, delay: 1, timeout: 0.8, max_retries: 1, max_retries_down: 1}' : '{type: HTTP, delay: 1, timeout: 0.8, max_retries: 1, max_retries_down: 1, url_path: /, expected_codes: "200"}';
    return `  vs${k}:\n    address: 10.202.0.1\n    port: ${1000 + k}\n    scheduler: rr\n    health_check: ${hc}\n    real_servers: [${ports(g).map((p) => `{address: ${TGT}, port: ${p}}`).join(', ')}]\n`;
  });
  const metrics = SCRAPE_S > 0 ? 'metrics: {listen: 127.0.0.1:9650}\n' : '';
  return `global: {router_id: bench, control_socket: ${RUN}/vipd.sock}\n${metrics}${vrrpYaml}virtual_servers:\n${vs.join('')}`;
}
const kaVrrp = (prio: number): string => `vrrp_instance VI_B {
  state BACKUP
  interface eth0
  virtual_router_id 60
  priority ${prio}
  advert_int 0.1
  virtual_ipaddress {
    10.201.0.100/32
  }
}
`;
function keepalivedConfig(): string {
  const vs = groups.map((g, k) => {
    const check = g.type === 'TCP'
      ? '    TCP_CHECK {\n      connect_timeout 0.8\n      retry 0\n    }'
      : '    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 0.8\n      retry 0\n    }';
    const rs = ports(g).map((p) => `  real_server ${TGT} ${p} {\n    weight 1\n${check}\n  }\n`).join('');
    return `virtual_server 10.202.0.1 ${1000 + k} {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n${rs}}\n`;
  });
  return `global_defs {\n  router_id bench\n  vrrp_version 3\n}\n${kaVrrp(150)}${vs.join('')}`;
}
const idleVipd = `global: {router_id: bench, control_socket: ${RUN}/vipd.sock}\n${vrrpYaml}virtual_servers:\n  web:\n    address: 10.202.0.1\n    port: 80\n    scheduler: wrr\n    health_check: {type: HTTP, delay: 5, timeout: 3, url_path: /, expected_codes: "200"}\n    real_servers: [{address: ${TGT}, port: ${HTTP0}}, {address: ${TGT}, port: ${HTTP0 + 1}}]\n`;
const idleKeepalived = `global_defs {\n  router_id bench\n  vrrp_version 3\n}\n${kaVrrp(150)}virtual_server 10.202.0.1 80 {\n  delay_loop 5\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n${[HTTP0, HTTP0 + 1].map((p) => `  real_server ${TGT} ${p} {\n    weight 1\n    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }\n  }\n`).join('')}}\n`;
writeFileSync(`${RUN}/peer.conf`, `global_defs {\n  router_id peer\n  vrrp_version 3\n}\n${kaVrrp(100)}`);

const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
};
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const HZ = Number(sh('getconf CLK_TCK'));
/** The node options bin/vipd.js runs with (its `#!/usr/bin/env -S node ...` line). */
/** One GET /metrics from inside vipd's namespace: [start, end] (ms, this clock) and the answer's bytes. */
const scrapeOnce = (): Promise<{ t0: number; t1: number; bytes: number; ms: number } | undefined> =>
  new Promise((resolve) => {
    const t0 = Date.now();
    const c = spawnNs(`${NS}bd`, 'curl', ['-s', '-o', '/dev/null', '-m', '10', '-w', '%{http_code} %{size_download} %{time_total}', 'http://127.0.0.1:9650/metrics']);
    let o = '';
    c.stdout.on('data', (d: Buffer) => (o += d));
    c.once('exit', () => {
      const [code, bytes, secs] = o.trim().split(' ');
      resolve(code === '200' ? { t0, t1: Date.now(), bytes: Number(bytes), ms: Number(secs) * 1000 } : undefined);
    });
  });

/** RSS (MB) of the idle daemon's processes after IDLE_S seconds, and their sum. */
async function idleRss(name: string): Promise<{ processes: Record<string, number>; sumMb: number }> {
  let d: ChildProcessWithoutNullStreams;
  let pids: () => Record<string, number>;
  if (name === 'vipd') {
    writeFileSync(`${RUN}/idle.yaml`, idleVipd);
    d = spawnNs(`${NS}bd`, VIPD_NODE_COMMAND[0]!, [...VIPD_NODE_COMMAND.slice(1), VIPD, 'run', '-c', `${RUN}/idle.yaml`, '--json']);
    pids = () => ({ vipd: d.pid! });
  } else {
    writeFileSync(`${RUN}/idle.conf`, idleKeepalived);
    d = spawnNs(`${NS}bd`, 'keepalived', ['-n', '-l', '-D', '-f', `${RUN}/idle.conf`, '-p', `${RUN}/idle.pid`, '-c', `${RUN}/idle-chk.pid`, '-r', `${RUN}/idle-vrrp.pid`]);
    const pid = (f: string) => Number(readFileSync(`${RUN}/${f}`, 'utf8'));
    pids = () => ({ parent: pid('idle.pid'), vrrp: pid('idle-vrrp.pid'), checker: pid('idle-chk.pid') });
  }
  d.stdout.resume();
  d.stderr.resume();
  await sleep(IDLE_S * 1000);
  if (d.exitCode !== null) throw new Error(`${name} (idle) exited ${d.exitCode}`);
  // For vipd, ip netns exec's child: the daemon itself (exec).
  const processes = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, Math.round(rssMb(pid) * 10) / 10]));
  d.kill('SIGTERM');
  await new Promise<void>((r) => (d.exitCode !== null ? r() : d.once('exit', () => r())));
  await sleep(500);
  sh(`ip -n ${NS}bd addr del 10.201.0.100/32 dev eth0 2>/dev/null; true`);
  return { processes, sumMb: Math.round(Object.values(processes).reduce((a, b) => a + b, 0) * 10) / 10 };
}

async function measure(name: string) {
  log(`${name}: starting targets (${N_TCP} TCP, ${N_HTTP} HTTP)`);
  const targets = spawnNs(`${NS}bt`, 'sh', ['-c', `ulimit -n 200000; exec ${process.execPath} ${TARGETS} ${TGT} ${TCP0} ${N_TCP} ${HTTP0} ${N_HTTP}`]);
  const served: number[] = [];
  const killedAt = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    lines(targets.stdout, (l) => {
      if (l === 'ready') resolve();
      else if (l.startsWith('served ')) served.push(Number(l.slice(7)));
      else if (l.startsWith('killed ')) {
        const [, port, at] = l.split(' ');
        killedAt.set(Number(port), Number(at));
      }
    });
    targets.stderr.on('data', (d) => process.stderr.write(d));
    targets.once('exit', (c) => reject(new Error(`targets exited ${c}`)));
  });

  const idle = IDLE_S > 0 ? await idleRss(name) : undefined;
  if (idle) log(`${name}: idle RSS ${JSON.stringify(idle)}`);

  // The backup peer and the advert capture.
  const peer = spawnNs(`${NS}bp`, 'keepalived', ['-n', '-l', '-D', '-P', '-f', `${RUN}/peer.conf`, '-p', `${RUN}/peer.pid`, '-r', `${RUN}/peer-vrrp.pid`, '-c', `${RUN}/peer-chk.pid`]);
  let peerMaster = 0;
  const peerLog: string[] = [];
  const onPeer = (l: string) => {
    peerLog.push(l);
    if (/Entering MASTER STATE/.test(l)) peerMaster++;
  };
  lines(peer.stdout, onPeer);
  lines(peer.stderr, onPeer);

  const downAt = new Map<number, number>();
  let verdicts = 0; // real servers taken out or put back (flaps before the kills are false verdicts)
  let checker: ChildProcessWithoutNullStreams;
  let pidOf: () => number;
  const out: string[] = [];
  const t0 = Date.now();
  if (name === 'vipd') {
    writeFileSync(`${RUN}/vipd.yaml`, vipdConfig());
    checker = spawnNs(`${NS}bd`, 'sh', ['-c', `ulimit -n 200000; exec ${VIPD_NODE_COMMAND.join(' ')} ${process.env.BENCH_NODE_ARGS ?? ""} ${VIPD} run -c ${RUN}/vipd.yaml --json`]);
    pidOf = () => checker.pid!;
    const onLine = (l: string) => {
      out.push(l);
      if (out.length > 200) out.shift();
      if (process.env.BENCH_DEBUG && /Mark-Compact|Scavenge/.test(l) && Number(/(\d+\.\d+) \/ \d+\.\d+ ms/.exec(l)?.[1]) > 50) log(`gc: ${l.slice(0, 200)}`);
      if (l.includes('"event":"rs-health"')) verdicts++;
      const m = /"event":"rs-health".*"rs":"10\.201\.0\.2:(\d+)","verdict":"down"/.exec(l);
      if (m && !downAt.has(Number(m[1]))) downAt.set(Number(m[1]), Date.now());
    };
    lines(checker.stdout, onLine);
    lines(checker.stderr, onLine);
  } else {
    writeFileSync(`${RUN}/keepalived.conf`, keepalivedConfig());
    checker = spawnNs(`${NS}bd`, 'sh', ['-c', `ulimit -n 200000; exec keepalived -n -l -D -f ${RUN}/keepalived.conf -p ${RUN}/ka.pid -c ${RUN}/ka-chk.pid -r ${RUN}/ka-vrrp.pid`]);
    pidOf = () => Number(readFileSync(`${RUN}/ka-chk.pid`, 'utf8'));
    const onLine = (l: string) => {
      out.push(l);
      if (out.length > 200) out.shift();
      if (/(Removing|Adding) service \[10\.201\.0\.2\]/.test(l)) verdicts++;
      const m = /Removing service \[10\.201\.0\.2\]:tcp:(\d+) from VS/.exec(l);
      if (m && !downAt.has(Number(m[1]))) downAt.set(Number(m[1]), Date.now());
    };
    lines(checker.stdout, onLine);
    lines(checker.stderr, onLine);
  }
  // Started = every virtual server in the kernel (without IPVS: the checks reach the targets).
  for (; HOST; await sleep(500)) if ((served.at(-1) ?? 0) > 0) break;
  for (; !HOST; ) {
    if (checker.exitCode !== null) throw new Error(`${name} exited ${checker.exitCode}:\n${out.join('\n')}`);
    const n = Number(sh(`ip netns exec ${NS}bd ipvsadm -Ln | grep -c '^TCP' || true`));
    if (n === groups.length) break;
    if (Date.now() - t0 > 300_000) throw new Error(`${name}: table not programmed after 300 s (${n}/${groups.length}):\n${out.slice(-30).join('\n')}`);
    await sleep(500);
  }
  const startS = (Date.now() - t0) / 1000;
  log(`${name}: table programmed after ${startS.toFixed(1)} s; warming up ${WARM_S} s`);
  // Scraped from here on, every SCRAPE_S seconds, as Prometheus scrapes a running director: the
  // first scrapes after start run code not yet optimised (reported apart), the window's are the rest.
  const scrapes: { at: number; answer: ReturnType<typeof scrapeOnce> }[] = [];
  const scrape = () => void scrapes.push({ at: Date.now(), answer: scrapeOnce() });
  const scraper = name === 'vipd' && SCRAPE_S > 0 ? setInterval(scrape, SCRAPE_S * 1000) : undefined;
  if (scraper) scrape();
  await sleep(WARM_S * 1000);
  const pid = pidOf();
  const adverts: number[] = [];
  const cap = spawnNs(`${NS}bp`, 'tcpdump', ['-i', 'eth0', '-n', '-tt', '-l', '-Q', 'in', 'ip proto 112 and src 10.201.0.1']);
  lines(cap.stdout, (l) => adverts.push(Number(l.split(' ')[0]) * 1000));
  if (process.env.BENCH_LAG) { const lag = spawn(process.execPath, [process.env.BENCH_LAG], { stdio: ['ignore', 'inherit', 'inherit'] }); children.add(lag); }
  const peerMasterBefore = peerMaster;
  const verdictsBefore = verdicts;
  const servedFrom = served.length;
  const c0 = cpuTicks(pid);
  const w0 = Date.now();
  let rssMax = 0;
  for (let s = 0; s < WINDOW_S; s++) {
    await sleep(1000);
    rssMax = Math.max(rssMax, rssMb(pid));
  }
  clearInterval(scraper);
  const cpuPct = ((cpuTicks(pid) - c0) / HZ / ((Date.now() - w0) / 1000)) * 100;
  const falseVerdicts = verdicts - verdictsBefore;
  const servedWin = served.slice(servedFrom + 1, served.length);
  log(`${name}: CPU ${cpuPct.toFixed(1)} %, RSS ${rssMax.toFixed(0)} MB, served ${servedWin.join(' ')}`);

  // Detection: close targets one by one, 4 TCP : 1 HTTP, spread over the check interval.
  const victims: number[] = [];
  for (let i = 0; i < KILLS; i++) victims.push(i % 5 === 4 ? HTTP0 + ((i * 37) % N_HTTP) : TCP0 + ((i * 97) % N_TCP));
  for (const p of victims) {
    targets.stdin.write(`kill ${p}\n`);
    await sleep(100);
  }
  for (const end = Date.now() + 20_000; Date.now() < end && victims.some((p) => !downAt.has(p)); ) await sleep(200);
  const lat = victims.filter((p) => downAt.has(p) && killedAt.has(p)).map((p) => downAt.get(p)! - killedAt.get(p)!);
  await sleep(500);
  cap.kill('SIGTERM');
  await sleep(300);
  const iv = adverts.slice(1).map((t, i) => t - adverts[i]!);
  const gaps = iv.map((x, i): [number, number] => [x, adverts[i]! - w0]).filter(([x]) => x > 300).map(([x, at]) => `${Math.round(x)} ms at +${(at / 1000).toFixed(1)} s`);
  if (gaps.length) log(`${name}: advert gaps > 300 ms (window ${WINDOW_S} s from +0, kills after): ${gaps.join(', ')}`);
  if (gaps.length && process.env.BENCH_DEBUG) log(out.slice(-40).map((l) => { try { const j = JSON.parse(l) as { time?: string; msg?: string }; return `${j.time?.slice(11, 23)} ${j.msg}`; } catch { return l; } }).join('\n'));
  const jitter = iv.map((x) => Math.abs(x - 100));
  const answered = async (xs: typeof scrapes) => (await Promise.all(xs.map((x) => x.answer))).filter((x) => x !== undefined);
  const inWindow = scrapes.filter((x) => x.at >= w0);
  const scraped = await answered(inWindow);
  const warmupMs = (await answered(scrapes.filter((x) => x.at < w0))).map((x) => Math.round(x.ms));
  // The longest advert interval that overlapped a scrape (an interval ending during it or just after).
  const duringScrape = iv.filter((_, i) => scraped.some((x) => adverts[i + 1]! >= x.t0 && adverts[i]! <= x.t1));
  const res = {
    name,
    startS,
    cpuPct,
    rssMb: rssMax,
    servedPerS: pct(servedWin, 50),
    falseVerdicts,
    detection: { n: lat.length, missed: victims.length - lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat) },
    adverts: { n: adverts.length, jitterP50: pct(jitter, 50), jitterP99: pct(jitter, 99), maxInterval: Math.max(...iv) },
    spuriousTransitions: peerMaster - peerMasterBefore,
    scrape: scraped.length ? { n: scraped.length, failed: inWindow.length - scraped.length, warmupMs, msP50: pct(scraped.map((x) => x.ms), 50), msMax: Math.max(...scraped.map((x) => x.ms)), ms: scraped.map((x) => Math.round(x.ms)), bytes: scraped[0]!.bytes, maxAdvertIntervalDuring: duringScrape.length ? Math.max(...duringScrape) : undefined } : undefined,
    peerMasterTotal: peerMaster,
    idle,
  };
  log(`${name}: ${JSON.stringify(res)}`);
  if (res.detection.missed) log(`${name} last output:\n${out.slice(-20).join('\n')}`);
  checker.kill('SIGTERM');
  await new Promise<void>((r) => (checker.exitCode !== null ? r() : checker.once('exit', () => r())));
  peer.kill('SIGTERM');
  targets.kill('SIGKILL');
  await sleep(1000);
  if (!HOST) sh(`ip netns exec ${NS}bd ipvsadm -C; true`);
  sh(`ip -n ${NS}bd addr del 10.201.0.100/32 dev eth0 2>/dev/null; true`);
  return res;
}

const results: Awaited<ReturnType<typeof measure>>[] = [];
try {
  for (const name of ['vipd', 'keepalived']) if (!ONLY || ONLY === name) results.push(await measure(name));
} finally {
  for (const c of children) c.kill('SIGKILL');
  if (HOST) sh(`for n in ${NS}bsw ${NS}bd ${NS}bt ${NS}bp; do ip netns del $n 2>/dev/null; done; true`);
  writeFileSync(process.env.BENCH_OUT ?? 'bench.json', JSON.stringify({ tcp: N_TCP, http: N_HTTP, windowS: WINDOW_S, kills: KILLS, kernel: sh('uname -r').trim(), host: HOST, results }, null, 1));
}
process.exit(0);
