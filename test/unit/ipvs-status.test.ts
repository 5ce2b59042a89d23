// The IPVS part of `vipd status`, shaped from values (no kernel): vipd's names,
// managed or foreign, counters when dumped, the manager's own state.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { ipvsStatus } from '../../src/daemon/ipvs-status.js';
import type { IpvsTable } from '../../src/ipvs/client.js';

const cfg = parseConfig(['virtual_servers:', '  web:', '    address: 10.0.0.1', '    port: 80', '    real_servers: [{address: 10.1.0.1, port: 8080}]'].join('\n'), '/etc/vipd/vipd.yaml');
const settings = { scheduler: 'wrr', schedFlags: { fallback: false, port: false }, netmask: '255.255.255.255', onePacket: false };
const table: IpvsTable = {
  services: [
    {
      key: { family: 'inet', protocol: 'tcp', address: '10.0.0.1', port: 80 },
      ...settings,
      persistence: 300,
      stats: { connections: 40, packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0 },
      dests: [{ key: { address: '10.1.0.1', port: 8080 }, forwarding: 'nat', weight: 3, upperThreshold: 0, lowerThreshold: 0, activeConns: 2, inactiveConns: 5, persistentConns: 0 }],
    },
    { key: { family: 'inet', protocol: 'tcp', address: '10.0.0.9', port: 22 }, ...settings, scheduler: 'rr', persistence: 0, dests: [] },
  ],
};

describe('vipd status: the IPVS part', () => {
  it('names, ownership and counters from the table; the manager state only when there is some', () => {
    const lastReport = { at: '2026-11-26T11:59:48Z', source: 'dump' as const, ops: 1, applied: 1, failed: [], dumpMs: 1, applyMs: 2 };
    expect(ipvsStatus({ table, virtualServers: cfg.virtualServers, owned: new Set(['tcp/10.0.0.1/80']), available: true, lastReport, routeProblems: ['p'], syncRole: 'backup' })).toEqual({
      available: true,
      lastReconcile: lastReport,
      routeProblems: ['p'],
      syncDaemon: 'backup',
      services: [
        {
          name: 'web',
          service: 'TCP 10.0.0.1:80',
          managed: true,
          scheduler: 'wrr',
          persistence: 300,
          connections: 40,
          realServers: [{ address: '10.1.0.1', port: 8080, forwarding: 'nat', weight: 3, activeConns: 2, inactiveConns: 5 }],
        },
        { service: 'TCP 10.0.0.9:22', managed: false, scheduler: 'rr', persistence: 0, realServers: [] },
      ],
    });
  });

  it('IPVS unavailable: the error, no services', () => {
    expect(ipvsStatus({ table: undefined, virtualServers: cfg.virtualServers, owned: new Set(), available: false, error: 'IPVS is not available in this kernel', routeProblems: [] })).toEqual({
      available: false,
      error: 'IPVS is not available in this kernel',
      services: [],
    });
  });
});
