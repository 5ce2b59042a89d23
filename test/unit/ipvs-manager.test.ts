// The daemon's IPVS manager when the netlink exchange itself fails (a lost answer,
// a full receive buffer): logged and shown, never thrown into the daemon — whose
// VRRP instances run on the same thread — and the next reconcile starts from a dump.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { IpvsManager } from '../../src/daemon/ipvs.js';
import { desiredTable } from '../../src/director/desired.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import type { IpvsOp } from '../../src/ipvs/ops.js';
import { serviceId } from '../../src/ipvs/types.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-ipvsm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a failed exchange is logged and retried, not thrown; the table in memory is dropped', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const cfg = parseConfig(
    [
      `global: {control_socket: ${dir}/vipd.sock}`,
      'ipvs: {resync_interval: 0}',
      'virtual_servers:',
      '  web:',
      '    address: 10.0.0.100',
      '    port: 80',
      '    real_servers: [{address: 10.0.0.2, port: 80}]',
    ].join('\n'),
    join(dir, 'vipd.yaml'),
  );
  const logs: { event?: string; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as { event?: string; msg: string }) });
  let failDump = true;
  let failApply = false;
  let dumps = 0;
  const fake = {
    dump: () => {
      dumps++;
      if (failDump) throw new Error('recvmmsg: No buffer space available');
      return [];
    },
    apply: (ops: IpvsOp[]) => {
      if (failApply) throw new Error('recvmmsg: No buffer space available');
      return ops.map((op) => ({ op }));
    },
    close: () => undefined,
  } as unknown as IpvsClient;
  // A health verdict, as the director would compute it: the real server's weight changes.
  let weight = 1;
  const desired = () => desiredTable(cfg).map((s) => ({ ...s, dests: s.dests.map((d) => ({ ...d, weight })) }));
  const scope = new Set(desired().map((s) => serviceId(s.key)));
  const m = new IpvsManager(cfg, log, () => fake);

  expect(m.reconcileFull(cfg, desired())).toBeUndefined();
  expect(m.lastError).toMatch(/reconcile failed: recvmmsg: No buffer space available/);
  const failed = logs.find((l) => l.event === 'ipvs-reconcile-failed');
  expect(failed?.msg).toMatch(/tries again in 5 s/);

  failDump = false;
  // The retry: a full reconcile with a dump, 5 s later.
  const dumpsBefore = dumps;
  await vi.advanceTimersByTimeAsync(5000);
  expect(dumps).toBe(dumpsBefore + 1);
  expect(m.lastError).toBeUndefined();
  expect(logs.find((l) => l.event === 'ipvs-reconciled')?.msg).toMatch(/IPVS reconciled: 2 operation\(s\), 0 failed \(dump/);

  // A verdict's reconcile from memory whose exchange fails: no throw, and the next one dumps afresh.
  failApply = true;
  weight = 0;
  const before = dumps;
  expect(() => m.reconcileFromMemory(desired(), scope)).not.toThrow();
  expect(m.lastError).toMatch(/reconcile failed/);
  failApply = false;
  m.reconcileFromMemory(desired(), scope);
  expect(dumps).toBe(before + 1);
  expect(m.lastError).toBeUndefined();
  m.stop();
  vi.useRealTimers();
});
