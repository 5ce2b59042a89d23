// Topology: the bare kernel, `vipd run` with keepalived's and Octavia's director vocabulary:
// a virtual_server_group (an address range and a fwmark) sharing one pool, the sorry server
// as keepalived runs it, connection_limit, admin_state_up, omega's notifiers at stop.
// The health checks are scripts reading a file per real server, so a test flips them at will.

import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { assertEq, saved, sh, type Topology, until } from './harness.js';
import { RUN, runDir, startVipd, vipdStatus } from './vipd.js';

const up = (rs: string, on: boolean): void => (on ? writeFileSync(`${RUN}/up-${rs}`, '') : rmSync(`${RUN}/up-${rs}`, { force: true }));

const config = (parkedUp: boolean): string => `global: {control_socket: ${RUN}/vipd.sock}
virtual_server_groups:
  farm: ["10.71.0.1-3 80", "fwmark 9"]
virtual_servers:
  farm:
    group: farm
    forwarding: dr
    scheduler: wrr
    quorum: 2
    connection_limit: 100
    omega: true
    notify_down: ${RUN}/note.sh
    quorum_down: ${RUN}/note.sh
    sorry_server: {address: 10.20.8.99}
    sorry_server_inhibit: true
    health_check: {type: SCRIPT, script: "${RUN}/chk.sh {address}", delay: 1, timeout: 0.9, max_retries: 1, max_retries_down: 1}
    real_servers: [{address: 10.20.8.1}, {address: 10.20.8.2}, {address: 10.20.8.3, admin_state_up: false}]
  parked:
    address: 10.71.0.9
    port: 80
    protocol: HTTP
    admin_state_up: ${parkedUp}
    real_servers: [{address: 10.20.8.1, port: 8080}]
`;

/** The kernel's table, ipvsadm -Sn sorted (which does not show thresholds). */
const table = (): string[] => saved();
/** Each real server's upper threshold, from ipvsadm -Ln --thresholds: "SERVICE -> RS U". */
const thresholds = (): string[] => {
  let svc = '';
  return sh('ipvsadm -Ln --thresholds')
    .split('\n')
    .flatMap((l) => {
      const s = /^(TCP|UDP|FWM)\s+(\S+)/.exec(l);
      if (s) svc = `${s[1]} ${s[2]}`;
      const d = /^\s+->\s+(\d\S+)\s+(\d+)/.exec(l);
      return d ? [`${svc} -> ${d[1]} ${d[2]}`] : [];
    })
    .sort();
};
const svc = ['-t 10.71.0.1:80', '-t 10.71.0.2:80', '-t 10.71.0.3:80', '-f 9'];
const port = (s: string) => (s === '-f 9' ? 0 : 80);
const pool = (rs: string[]): string[] =>
  svc.flatMap((s) => [`-A ${s} -s wrr`, ...rs.map((r) => `-a ${s} -r ${r.replace('PORT', String(port(s)))}`)]).sort();
const both = pool(['10.20.8.1:PORT -g -w 1', '10.20.8.2:PORT -g -w 1', '10.20.8.99:PORT -g -w 0']);
const sorryOnly = pool(['10.20.8.99:PORT -g -w 1']);
const limits = (rs: Array<[string, number]>): string[] =>
  ['TCP 10.71.0.1:80', 'TCP 10.71.0.2:80', 'TCP 10.71.0.3:80', 'FWM 9'].flatMap((s) => rs.map(([r, u]) => `${s} -> ${r}:${s === 'FWM 9' ? 0 : 80} ${u}`)).sort();

export const parity: Topology = {
  name: "keepalived's and Octavia's director vocabulary on the bare kernel",
  scenarios: [
    {
      title: 'virtual_server_group, sorry server, connection_limit, admin_state_up, omega: a group of three addresses and a fwmark shares one pool; quorum lost leaves the sorry server alone; a parked pool enters the kernel on reload; at stop omega runs the down notifiers and the table stays',
      limitMs: 150_000,
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        writeFileSync(`${RUN}/chk.sh`, `#!/bin/sh\ntest -e ${RUN}/up-$1\n`);
        writeFileSync(`${RUN}/note.sh`, `#!/bin/sh\necho "$*" >> ${RUN}/notes.log\n`);
        chmodSync(`${RUN}/chk.sh`, 0o755);
        chmodSync(`${RUN}/note.sh`, 0o755);
        rmSync(`${RUN}/notes.log`, { force: true });
        up('10.20.8.1', true);
        up('10.20.8.2', true);
        const v = startVipd(config(false));
        // Four services, each with both real servers (the limit split 50/50) and the sorry server inhibited at weight 0;
        // the parked pool (admin_state_up: false) and the member that is down by configuration are not in the kernel.
        await until('the group in the kernel', () => JSON.stringify(table()) === JSON.stringify(both) || { table: table(), log: v.log().slice(-3000) }, 60_000);
        // connection_limit 100: each of the two real servers' share, 50, as its upper threshold; the inhibited sorry server none.
        assertEq(thresholds(), limits([['10.20.8.1', 50], ['10.20.8.2', 50], ['10.20.8.99', 0]]), 'upper thresholds (ipvsadm -Ln --thresholds)');
        const st = vipdStatus();
        assertEq(st.virtualServers?.map((x) => [x.name, x.status]), [['farm', 'ONLINE'], ['parked', 'OFFLINE']], 'status of the two virtual servers');
        assertEq(st.virtualServers?.[0]?.realServers.map((r) => r.status), ['ONLINE', 'ONLINE', 'DISABLED'], "farm's real servers");

        // One real server fails: weight 1 < quorum 2 — the sorry server alone serves, in every service of the group.
        up('10.20.8.2', false);
        await until('only the sorry server', () => JSON.stringify(table()) === JSON.stringify(sorryOnly) || table());
        assertEq(thresholds(), limits([['10.20.8.99', 100]]), 'the sorry server takes the whole limit');
        await until('the quorum_down notifier', () => (existsSync(`${RUN}/notes.log`) && readFileSync(`${RUN}/notes.log`, 'utf8').includes('farm DOWN')) || 'no line yet');
        // It comes back: the real servers return and the sorry server goes back to weight 0.
        up('10.20.8.2', true);
        await until('the pool again', () => JSON.stringify(table()) === JSON.stringify(both) || table());

        // The parked pool comes up with a reload (protocol HTTP is served as TCP).
        writeFileSync(`${RUN}/vipd.yaml`, config(true));
        v.child.kill('SIGHUP');
        const parked = ['-A -t 10.71.0.9:80 -s wlc', '-a -t 10.71.0.9:80 -r 10.20.8.1:8080 -m -w 1'];
        await until('the parked pool in the kernel', () => JSON.stringify(table()) === JSON.stringify([...both, ...parked].sort()) || table());

        // Stop: omega's notifiers for the two real servers in service and the quorum; the table stays.
        writeFileSync(`${RUN}/notes.log`, '');
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'exit code on SIGTERM');
        const notes = readFileSync(`${RUN}/notes.log`, 'utf8').split('\n').filter(Boolean).sort();
        assertEq(notes, ['farm 10.20.8.1 0 DOWN', 'farm 10.20.8.2 0 DOWN', 'farm DOWN'], "omega's notifiers at stop");
        assertEq(table(), [...both, ...parked].sort(), 'the table after stop (kept: connections survive a restart)');
        sh('ipvsadm -C');
        return { notes };
      },
    },
  ],
};
