// Topology: `vipd run` on the bare kernel with keepalived's other checkers —
// UDP_CHECK, DNS_CHECK, SMTP_CHECK, FILE_CHECK, HTTP_GET with two url blocks
// (one by its body's MD5 digest), MISC_CHECK (a non-zero exit other than 1 is a
// failure without misc_dynamic), PING_CHECK of an IPv6 real server, and a real
// server with two checkers (TCP and UDP: up while both pass) — against real servers in a
// namespace whose answers a file per service switches: each failure takes its
// real server out of the kernel's table (ipvsadm), each recovery brings it back;
// a FILE_CHECK with a weight (keepalived's dynamic) sets its real server's weight.

import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { Failure, saved, sh, type Topology, track, until } from './harness.js';
import { RUN, runDir, startVipd } from './vipd.js';

const NS = 'vck';
const RS = ['10.30.0.1', '10.30.0.2', '10.30.0.3'];
const flag = (name: string, on: boolean): void => (on ? writeFileSync(`${RUN}/ck-${name}`, '') : rmSync(`${RUN}/ck-${name}`, { force: true }));

/**
 * The real servers (one process in the namespace): UDP 9001 answers "PONG..." while
 * ck-udp-ADDRESS exists; DNS 53 answers NOERROR while ck-dns exists, else REFUSED;
 * SMTP 25 greets 220 while ck-smtp exists, else 554; HTTP 10.30.0.1:8080 answers /a with
 * "alpha" and /b with 200 while ck-http exists, else 503; TCP 7000 accepts. Each UDP
 * socket is bound to its address, so that answers come from it.
 */
const SERVERS = `
const fs = require('fs'), net = require('net'), dgram = require('dgram');
const on = (n) => fs.existsSync('${RUN}/ck-' + n);
const addrs = ${JSON.stringify(RS)};
for (const a of addrs) {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => { if (on('udp-' + a)) u.send(Buffer.concat([Buffer.from('PONG'), m]), r.port, r.address); });
  u.bind(9001, a);
  const d = dgram.createSocket('udp4');
  d.on('message', (q, r) => {
    if (q.length < 12) return;
    const h = Buffer.alloc(12);
    q.copy(h, 0, 0, 2);
    h.writeUInt16BE(0x8000 | (q.readUInt16BE(2) & 0x0100) | 0x80 | (on('dns') ? 0 : 5), 2);
    h.writeUInt16BE(1, 4);
    d.send(Buffer.concat([h, q.subarray(12)]), r.port, r.address);
  });
  d.bind(53, a);
}
net.createServer((c) => {
  c.on('error', () => {});
  c.write(on('smtp') ? '220 ready\\r\\n' : '554 go away\\r\\n');
  c.on('data', (b) => { const t = b.toString(); if (/^HELO/i.test(t)) c.write('250 hello\\r\\n'); if (/^QUIT/i.test(t)) c.end('221 bye\\r\\n'); });
}).listen(25);
require('http').createServer((q, s) => {
  if (q.url === '/a') return s.end('alpha');
  s.statusCode = q.url === '/b' && on('http') ? 200 : 503;
  s.end('b');
}).listen(8080, '10.30.0.1');
net.createServer((c) => c.on('error', () => {}).end()).listen(7000, () => console.log('ready'));
`;

const config = `global: {control_socket: ${RUN}/vipd.sock}
vrrp_track_files:
  wfile: {file: ${RUN}/ck-weight}
  dfile: {file: ${RUN}/ck-dynamic}
virtual_servers:
  udp:
    address: 10.72.0.1
    port: 9001
    protocol: udp
    health_check: {type: UDP_CHECK, require_reply: true, delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: 10.30.0.1, port: 9001}]
  dns:
    address: 10.72.0.2
    port: 53
    protocol: udp
    health_check: {type: DNS_CHECK, dns_type: SOA, dns_name: ".", delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: 10.30.0.2, port: 53}]
  smtp:
    address: 10.72.0.3
    port: 25
    health_check: {type: SMTP_CHECK, helo_name: lb.example.test, delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: 10.30.0.3, port: 25}]
  file:
    address: 10.72.0.4
    port: 80
    health_check: {type: FILE_CHECK, track_file: wfile, weight: 0}
    real_servers: [{address: 10.30.0.1, port: 80}]
  dynamic:
    address: 10.72.0.6
    port: 80
    health_check: {type: FILE_CHECK, track_file: dfile, weight: 2}
    real_servers: [{address: 10.30.0.3, port: 80, weight: 1}]
  both:
    address: 10.72.0.5
    port: 7000
    health_checks:
      - {type: TCP_CHECK, delay: 1, timeout: 0.5, retry: 0}
      - {type: UDP_CHECK, port: 9001, require_reply: "504f4e47", delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: 10.30.0.2, port: 7000}]
  http:
    address: 10.72.0.7
    port: 8080
    health_check: {type: HTTP_GET, delay: 1, timeout: 0.5, retry: 0, urls: [{path: /a, digest: 2c1743a391305fbf367df8e4f069f9f9}, {path: /b, status_code: 200}]}
    real_servers: [{address: 10.30.0.1, port: 8080}]
  misc:
    address: 10.72.0.8
    port: 80
    health_check: {type: MISC_CHECK, script: ${RUN}/ck-misc.sh, delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: 10.30.0.2, port: 80}]
  ping6:
    address: "fd72::1"
    port: 80
    health_check: {type: PING_CHECK, delay: 1, timeout: 0.5, retry: 0}
    real_servers: [{address: "fd30::1", port: 80}]
`;

const SERVICES: Record<string, [string, string]> = {
  udp: ['-A -u 10.72.0.1:9001 -s wlc', '-a -u 10.72.0.1:9001 -r 10.30.0.1:9001 -m -w 1'],
  dns: ['-A -u 10.72.0.2:53 -s wlc', '-a -u 10.72.0.2:53 -r 10.30.0.2:53 -m -w 1'],
  smtp: ['-A -t 10.72.0.3:25 -s wlc', '-a -t 10.72.0.3:25 -r 10.30.0.3:25 -m -w 1'],
  file: ['-A -t 10.72.0.4:80 -s wlc', '-a -t 10.72.0.4:80 -r 10.30.0.1:80 -m -w 1'],
  both: ['-A -t 10.72.0.5:7000 -s wlc', '-a -t 10.72.0.5:7000 -r 10.30.0.2:7000 -m -w 1'],
  http: ['-A -t 10.72.0.7:8080 -s wlc', '-a -t 10.72.0.7:8080 -r 10.30.0.1:8080 -m -w 1'],
  misc: ['-A -t 10.72.0.8:80 -s wlc', '-a -t 10.72.0.8:80 -r 10.30.0.2:80 -m -w 1'],
  ping6: ['-A -t [fd72::1]:80 -s wlc', '-a -t [fd72::1]:80 -r [fd30::1]:80 -m -w 1'],
};
/** keepalived's FILE_CHECK with a weight (what its man page calls dynamic): 1 + the file's value x 2. */
const dynamic = (value: number): string[] => ['-A -t 10.72.0.6:80 -s wlc', `-a -t 10.72.0.6:80 -r 10.30.0.3:80 -m -w ${1 + 2 * value}`];
/** The table with the real servers of `out` taken out (their services stay). */
const table = (out: string[] = [], value = 3): string[] => [...Object.entries(SERVICES).flatMap(([name, [svc, rs]]) => (out.includes(name) ? [svc] : [svc, rs])), ...dynamic(value)].sort();
const tableIs = (out: string[] = [], value = 3) => (): true | unknown => JSON.stringify(saved()) === JSON.stringify(table(out, value)) || { want: table(out, value), have: saved(), ipvsadm: sh('ipvsadm -Ln') };

export const checkers: Topology = {
  name: "keepalived's checkers programming IPVS",
  scenarios: [
    {
      title: 'checkers: UDP_CHECK, DNS_CHECK, SMTP_CHECK, FILE_CHECK, HTTP_GET with url blocks and a digest, MISC_CHECK, PING_CHECK over IPv6 and a real server with two checkers (TCP and UDP) each take their real server out of the kernel on failure and put it back on recovery; a weighted FILE_CHECK sets the real server\'s weight from the file (ipvsadm -Ln)',
      limitMs: 150_000,
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        sh(`ip netns del ${NS} 2>/dev/null; ip netns add ${NS}; ip link add ck0 type veth peer name ck1 netns ${NS}; ip addr add 10.30.0.254/24 dev ck0; ip link set ck0 up`);
        sh(`ip -n ${NS} link set lo up; ip -n ${NS} link set ck1 up; ${RS.map((a) => `ip -n ${NS} addr add ${a}/24 dev ck1`).join('; ')}`);
        sh(`ip addr add fd30::254/64 dev ck0 nodad; ip -n ${NS} addr add fd30::1/64 dev ck1 nodad`);
        for (const f of ['udp-10.30.0.1', 'udp-10.30.0.2', 'dns', 'smtp', 'http', 'misc']) flag(f, true);
        // keepalived's MISC_CHECK: exit 0 up, anything else down (3 here: not only 1) without misc_dynamic.
        writeFileSync(`${RUN}/ck-misc.sh`, `#!/bin/sh\ntest -e ${RUN}/ck-misc || exit 3\n`, { mode: 0o755 });
        writeFileSync(`${RUN}/ck-weight`, '0\n');
        writeFileSync(`${RUN}/ck-dynamic`, '3\n');
        const srv = track(spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', SERVERS], { stdio: ['ignore', 'pipe', 'pipe'] }));
        let srvLog = '';
        srv.stderr.on('data', (d) => (srvLog += d));
        await new Promise<void>((resolve, reject) => {
          srv.stdout.once('data', () => resolve());
          srv.once('exit', (c) => reject(new Failure(`the real servers exited ${c}`, srvLog)));
        });
        const v = startVipd(config);
        const steps: Record<string, string> = {};
        const step = async (what: string, out: string[], value = 3): Promise<void> => {
          const t0 = Date.now();
          await until(what, tableIs(out, value), 30_000).catch((e: Failure) => {
            throw new Failure(e.message, { last: e.details, log: v.log().slice(-3000) });
          });
          steps[what] = `${Date.now() - t0} ms`;
        };
        await step('every real server in, the FILE_CHECK with weight 2 reading 3: weight 1 + 6', []);
        writeFileSync(`${RUN}/ck-dynamic`, '5\n');
        await step('the file reads 5: weight 1 + 10', [], 5);
        writeFileSync(`${RUN}/ck-dynamic`, '3\n');
        flag('udp-10.30.0.1', false);
        await step('UDP_CHECK: no reply, out', ['udp']);
        flag('dns', false);
        await step('DNS_CHECK: REFUSED, out', ['udp', 'dns']);
        flag('smtp', false);
        await step('SMTP_CHECK: 554 greeting, out', ['udp', 'dns', 'smtp']);
        writeFileSync(`${RUN}/ck-weight`, '1\n');
        await step('FILE_CHECK: the file holds 1 (weight 0: down), out', ['udp', 'dns', 'smtp', 'file']);
        flag('udp-10.30.0.2', false);
        await step('two checkers: TCP passes, UDP fails, out', ['udp', 'dns', 'smtp', 'file', 'both']);
        const allOut = sh('ipvsadm -Ln');
        flag('udp-10.30.0.2', true);
        await step('two checkers: both pass, back', ['udp', 'dns', 'smtp', 'file']);
        writeFileSync(`${RUN}/ck-weight`, '0\n');
        await step('FILE_CHECK: 0, back', ['udp', 'dns', 'smtp']);
        for (const f of ['udp-10.30.0.1', 'dns', 'smtp']) flag(f, true);
        await step('UDP, DNS, SMTP answer again: every real server back', []);
        flag('http', false);
        await step('HTTP_GET: /a still matches its digest, /b answers 503: out', ['http']);
        flag('misc', false);
        await step('MISC_CHECK: exit 3, out', ['http', 'misc']);
        sh(`ip -n ${NS} addr del fd30::1/64 dev ck1`);
        await step('PING_CHECK of fd30::1: no echo reply, out', ['http', 'misc', 'ping6']);
        sh(`ip -n ${NS} addr add fd30::1/64 dev ck1 nodad`);
        for (const f of ['http', 'misc']) flag(f, true);
        await step('HTTP, MISC and PING6 pass again: back', []);
        v.child.kill('SIGTERM');
        await v.exited;
        sh('ipvsadm -C');
        return { steps, allOut };
      },
    },
  ],
  teardown: () => void sh(`ip netns del ${NS} 2>/dev/null; ip link del ck0 2>/dev/null; true`),
};
