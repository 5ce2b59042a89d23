import { describe, expect, it } from 'vitest';
import { type DaemonStatus, formatStatus } from '../../src/cli/status-format.js';

const now = new Date('2026-11-26T12:00:00Z');
const base: DaemonStatus = {
  routerId: 'lb1',
  pid: 42,
  config: '/etc/vipd/vipd.yaml',
  startedAt: '2026-11-26T11:59:00Z',
  vrrp: { instances: [], groups: [], interfaces: [] },
};

describe('vipd status: IPVS table', () => {
  it('one row per real server, the service named once, foreign services marked, problems listed', () => {
    const text = formatStatus(
      {
        ...base,
        ipvs: {
          available: true,
          syncDaemon: 'master',
          lastReconcile: { at: '2026-11-26T11:59:48Z', source: 'dump', ops: 3, applied: 2, failed: [{ operation: 'add service TCP 10.0.0.1:82 (twos)', code: 'ENOENT', message: 'add service TCP 10.0.0.1:82 (twos): ENOENT: this kernel has no scheduler "twos"' }], dumpMs: 1, applyMs: 2 },
          routeProblems: ['real server 192.0.2.7 of virtual server "lost": no route to it'],
          services: [
            {
              name: 'web',
              service: 'TCP 10.0.0.1:80',
              managed: true,
              scheduler: 'wrr',
              persistence: 300,
              realServers: [
                { address: '10.1.0.1', port: 8080, forwarding: 'nat', weight: 3, activeConns: 2, inactiveConns: 5, connections: 30 },
                { address: '2001:db8::2', port: 8080, forwarding: 'dr', weight: 1, activeConns: 0, inactiveConns: 1, connections: 10 },
              ],
            },
            { service: 'TCP 10.0.0.9:22', managed: false, scheduler: 'rr', persistence: 0, realServers: [] },
          ],
        },
        virtualServers: [
          {
            name: 'web',
            status: 'DEGRADED',
            quorum: { required: 1, hysteresis: 0, healthyWeight: 4, met: true },
            sorryServerActive: false,
            realServers: [
              { address: '10.1.0.1', port: 8080, status: 'ONLINE', weight: 3, configWeight: 3, health: { verdict: 'up', reason: 'HTTP 200', at: Date.parse('2026-11-26T11:59:58Z'), lastOk: true, run: 9, checks: 9, failures: 0, rise: 2, fall: 3 } },
              { address: '2001:db8::2', port: 8080, status: 'DRAINING', weight: 0, configWeight: 1, admin: 'drain' },
              { address: '10.1.0.3', port: 8080, status: 'ERROR', configWeight: 1, health: { verdict: 'down', reason: 'HTTP 503 (expected 200-204)', at: Date.parse('2026-11-26T11:59:59Z'), lastOk: false, run: 3, checks: 12, failures: 3, rise: 2, fall: 3 } },
              { address: '10.1.0.4', port: 8080, status: 'ERROR', configWeight: 1, health: { verdict: 'down', reason: 'HTTP 200', at: Date.parse('2026-11-26T11:59:59Z'), lastOk: true, run: 1, checks: 20, failures: 3, rise: 2, fall: 3 } },
            ],
          },
        ],
      },
      now,
    );
    expect(text).toContain('IPVS: 2 service(s), 1 managed by vipd; last reconcile 12s ago: 3 operation(s), 1 failed; sync daemon master');
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.startsWith('VIRTUAL SERVER'));
    expect(lines[header]).toMatch(/^VIRTUAL SERVER +SERVICE +SCHED +STATUS +REAL SERVER +STATUS +FWD +WEIGHT +ACTIVE +INACTIVE +CONNS +LAST CHECK$/);
    expect(lines[header + 1]).toMatch(/^web +TCP 10\.0\.0\.1:80 +wrr p300s +DEGRADED +10\.1\.0\.1:8080 +ONLINE +nat +3 +2 +5 +30 +HTTP 200 \(9 passes in a row, 2s ago\)$/);
    expect(lines[header + 2]).toMatch(/^ +\[2001:db8::2\]:8080 +DRAINING +dr +1 +0 +1 +10 +no check$/);
    expect(lines[header + 3]).toMatch(/^ +10\.1\.0\.3:8080 +ERROR +- +- +- +- +- +HTTP 503 \(expected 200-204\) \(3 failures in a row, 1s ago\)$/);
    expect(lines[header + 4]).toMatch(/^ +10\.1\.0\.4:8080 +ERROR +- +- +- +- +- +HTTP 200 \(1\/2 passes, 1s ago\)$/);
    expect(lines[header + 5]).toMatch(/^\(not vipd's\) +TCP 10\.0\.0\.9:22 +rr +- +\(none\)$/);
    // Columns line up: every real server starts at the same column.
    expect(lines[header + 2]!.indexOf('[2001')).toBe(lines[header + 1]!.indexOf('10.1.0.1'));
    expect(text).toContain('problems:\n  add service TCP 10.0.0.1:82 (twos): ENOENT: this kernel has no scheduler "twos"\n  real server 192.0.2.7 of virtual server "lost": no route to it');
  });

  it('no IPVS section when the daemon has no IPVS part', () => {
    expect(formatStatus(base, now)).not.toContain('IPVS');
  });
});

describe('vipd status: an instance held in FAULT by an I/O failure', () => {
  it('shows FAULT with the reason, the failures in a row and the next check', () => {
    const why = 'cannot add VIP 10.0.0.100/24 to eth0: EPERM (operation not permitted): vipd needs CAP_NET_ADMIN — run as root or under the shipped unit';
    const text = formatStatus(
      {
        ...base,
        vrrp: {
          groups: [],
          interfaces: [],
          instances: [
            {
              name: 'VI_1',
              interface: 'eth0',
              vrid: 51,
              version: 3,
              advertIntervalCs: 100,
              state: 'FAULT',
              since: 0,
              sinceWall: '2026-11-26T11:59:50Z',
              lastReason: why,
              priority: 150,
              effectivePriority: 150,
              masterAdverIntervalCs: 100,
              masterDownIntervalMs: 3414,
              faults: [why],
              io: { reason: why, attempt: 3, retryInMs: 3500 },
              vips: ['10.0.0.100/24'],
              vipsHeld: false,
              counters: { advertsSent: 2, advertsReceived: 0, sendErrors: 0, becameMaster: 1, garpsSent: 0, dropped: {} },
            },
          ],
        },
      },
      now,
    );
    const lines = text.split('\n');
    expect(lines.find((l) => l.startsWith('VI_1 '))).toMatch(/^VI_1 +eth0 +51 +FAULT +10s +150 +- +v3 1s +10\.0\.0\.100\/24$/);
    expect(lines).toContain(`  VI_1: FAULT: ${why}`);
    expect(lines).toContain('  VI_1: I/O failure 3 in a row, next check in 4s');
  });
});

describe('vipd status: tracked processes and files', () => {
  it('a row per vrrp_track_process (state, a pending change, count, quorum, pids) and per track_file, and how processes are seen', () => {
    const text = formatStatus(
      {
        ...base,
        vrrp: {
          ...base.vrrp,
          processes: [
            { name: 'haproxy', state: 'UP', count: 3, quorum: 1, pids: [101, 102, 103], detection: 'process connector', trackedBy: ['VI_1', 'VI_2'] },
            { name: 'nginx', state: 'UP', count: 0, quorum: 2, quorumMax: 4, pids: [], pendingMs: 1500, detection: 'process connector', trackedBy: [] },
          ],
          files: [{ name: 'prio', file: '/run/vipd/prio', value: -5, trackedBy: ['VI_1'] }, { name: 'bad', file: '/run/x', value: 0, error: 'EACCES', trackedBy: ['VI_2'] }],
        },
      },
      now,
    );
    const lines = text.split('\n');
    const p = lines.findIndex((l) => l.startsWith('TRACK PROCESS'));
    expect(lines[p]).toMatch(/^TRACK PROCESS +STATE +RUNNING +QUORUM +TRACKED BY +PIDS$/);
    expect(lines[p + 1]).toMatch(/^haproxy +UP +3 +1 +VI_1, VI_2 +101 102 103$/);
    expect(lines[p + 2]).toMatch(/^nginx +UP \(changing in 1\.5s\) +0 +2\.\.4 +- +-$/);
    expect(lines[p + 3]).toBe('  (processes seen through: process connector)');
    const f = lines.findIndex((l) => l.startsWith('TRACK FILE'));
    expect(lines[f + 1]).toMatch(/^prio +-5 +VI_1 +\/run\/vipd\/prio$/);
    expect(lines[f + 2]).toMatch(/^bad +0 +VI_2 +\/run\/x \(unreadable: EACCES\)$/);
  });
});
