// Topology: the bare kernel (no namespaces; the guest's rs0 route to the real
// servers' network). vipd's IPVS client and reconciler against the kernel,
// compared with ipvsadm — the kernel's own view.

import { IpvsClient } from '../../../src/ipvs/client.js';
import type { DesiredService } from '../../../src/ipvs/diff.js';
import { describeOp, type IpvsOp } from '../../../src/ipvs/ops.js';
import { Reconciler } from '../../../src/ipvs/reconcile.js';
import type { Dest, Service, ServiceKey } from '../../../src/ipvs/types.js';
import { assertEq, Failure, saved, sh, type Topology } from './harness.js';
import { RUN, runDir } from './vipd.js';

let client: IpvsClient | undefined;
const ipvs = (): IpvsClient => (client ??= new IpvsClient());

const tcp = (address: string, port: number): ServiceKey => ({ family: 'inet', protocol: 'tcp', address, port });
const udp = (address: string, port: number): ServiceKey => ({ family: 'inet', protocol: 'udp', address, port });
const sctp = (address: string, port: number): ServiceKey => ({ family: 'inet', protocol: 'sctp', address, port });
const svc = (key: ServiceKey, scheduler: string, o: Partial<Service> = {}): Service => ({ key, scheduler, schedFlags: { fallback: false, port: false }, persistence: 0, netmask: key.family === 'inet' ? '255.255.255.255' : '128', onePacket: false, ...o });
const dest = (address: string, port: number, forwarding: Dest['forwarding'], weight: number, o: Partial<Dest> = {}): Dest => ({ key: { address, port }, forwarding, weight, upperThreshold: 0, lowerThreshold: 0, ...o });

/** A service with the ipvsadm command that means the same, and its real servers with theirs. */
type Row = [Service, string, [Dest, string][]];

// Every kind of service and real server, each with the ipvsadm command that means the same.
const table: Row[] = [
  [svc(tcp('10.10.0.1', 80), 'rr'), '-A -t 10.10.0.1:80 -s rr', [
    [dest('10.20.0.1', 8080, 'nat', 1), '-a -t 10.10.0.1:80 -r 10.20.0.1:8080 -m -w 1'],
    [dest('10.20.0.2', 8080, 'nat', 2, { upperThreshold: 100, lowerThreshold: 10 }), '-a -t 10.10.0.1:80 -r 10.20.0.2:8080 -m -w 2 -x 100 -y 10'],
  ]],
  [svc(udp('10.10.0.1', 53), 'wrr', { onePacket: true }), '-A -u 10.10.0.1:53 -s wrr -o', [
    [dest('10.20.0.3', 53, 'dr', 5), '-a -u 10.10.0.1:53 -r 10.20.0.3:53 -g -w 5'],
    [dest('10.20.0.4', 53, 'tunnel', 0, { tunnel: { type: 'ipip' } }), '-a -u 10.10.0.1:53 -r 10.20.0.4:53 -i -w 0'],
  ]],
  [svc(sctp('10.10.0.2', 3868), 'sh', { schedFlags: { fallback: true, port: true } }), '-A --sctp-service 10.10.0.2:3868 -s sh -b sh-fallback,sh-port', [
    [dest('10.20.0.5', 3868, 'nat', 1), '-a --sctp-service 10.10.0.2:3868 -r 10.20.0.5:3868 -m -w 1'],
  ]],
  [svc({ family: 'inet', fwmark: 7 }, 'lc', { persistence: 300, netmask: '255.255.255.0' }), '-A -f 7 -s lc -p 300 -M 255.255.255.0', [
    [dest('10.20.0.6', 0, 'dr', 1), '-a -f 7 -r 10.20.0.6:0 -g -w 1'],
  ]],
  [svc({ family: 'inet6', protocol: 'tcp', address: '2001:db8::1', port: 443 }, 'mh', { schedFlags: { fallback: true, port: false } }), '-A -t [2001:db8::1]:443 -s mh -b mh-fallback', [
    [dest('2001:db8::10', 443, 'nat', 3), '-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 3'],
  ]],
  [svc(tcp('10.10.0.3', 80), 'wlc', { persistence: 60 }), '-A -t 10.10.0.3:80 -s wlc -p 60', [
    [dest('10.20.0.7', 80, 'tunnel', 1, { tunnel: { type: 'gue', port: 6080 } }), '-a -t 10.10.0.3:80 -r 10.20.0.7:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum'],
    [dest('10.20.0.8', 80, 'tunnel', 1, { tunnel: { type: 'gre' } }), '-a -t 10.10.0.3:80 -r 10.20.0.8:80 -i -w 1 --tun-type gre'],
    [dest('10.20.0.9', 80, 'tunnel', 1, { tunnel: { type: 'gre', checksum: 'csum' } }), '-a -t 10.10.0.3:80 -r 10.20.0.9:80 -i -w 1 --tun-type gre --tun-csum'],
  ]],
  ...['sed', 'nq', 'dh', 'lblc', 'lblcr', 'fo', 'ovf'].map((s, i): Row => [
    svc(tcp('10.10.1.' + (i + 1), 80), s), `-A -t 10.10.1.${i + 1}:80 -s ${s}`,
    [[dest('10.20.1.' + (i + 1), 80, 'nat', 1), `-a -t 10.10.1.${i + 1}:80 -r 10.20.1.${i + 1}:80 -m -w 1`]],
  ]),
];

const ops: IpvsOp[] = table.flatMap(([s, , ds]) => [{ op: 'add-service', service: s } as IpvsOp, ...ds.map(([d]): IpvsOp => ({ op: 'add-dest', service: s.key, dest: d }))]);
const ipvsadmRestore = table.flatMap(([, a, ds]) => [a, ...ds.map(([, c]) => c)]).join('\n') + '\n';

export const kernel: Topology = {
  name: 'the bare kernel',
  teardown: () => {
    client?.close();
    client = undefined;
  },
  scenarios: [
    {
      title: 'every kind of service and real server: the kernel holds exactly what ipvsadm would have programmed',
      run: async () => {
        sh('ipvsadm -C');
        sh('ipvsadm -R', ipvsadmRestore);
        const reference = saved();
        const referenceList = sh('ipvsadm -Ln');
        sh('ipvsadm -C');
        const res = ipvs().apply(ops);
        const failed = res.filter((r) => r.error).map((r) => `${describeOp(r.op)}: ${r.error!.message}`);
        assertEq(failed, [], 'operations that failed');
        assertEq(saved(), reference, 'ipvsadm -Sn after vipd vs after ipvsadm -R');
        if (sh('ipvsadm -Ln') !== referenceList) throw new Error('ipvsadm -Ln differs');
        return { ops: ops.length, services: table.length, reference };
      },
    },
    {
      title: 'dumps decode to what was programmed (services, flags, persistence, tunnels)',
      run: async () => {
        const got = ipvs().table();
        const keys = (ds: { address: string; port: number }[]) => ds.map((d) => `${d.address}:${d.port}`).sort();
        const want = table.map(([s, , ds]) => ({ key: s.key, scheduler: s.scheduler, dests: keys(ds.map(([d]) => d.key)) }));
        const norm = (t: unknown[]) => t.map((s) => JSON.stringify(s)).sort();
        assertEq(norm(got.services.map((s) => ({ key: s.key, scheduler: s.scheduler, dests: keys(s.dests.map((d) => d.key)) }))), norm(want), 'service and real server keys');
        for (const [s, , ds] of table) {
          const g = got.services.find((x) => JSON.stringify(x.key) === JSON.stringify(s.key));
          if (!g) throw new Failure(`service ${JSON.stringify(s.key)} not in the dump`);
          const { stats, dests, ...settings } = g;
          assertEq(settings, s, `settings of ${JSON.stringify(s.key)}`);
          for (const [d] of ds) {
            const gd = dests.find((x) => x.key.address === d.key.address && x.key.port === d.key.port);
            if (!gd) throw new Failure(`real server ${d.key.address}:${d.key.port} not in the dump`);
            const { activeConns, inactiveConns, persistentConns, stats: dstats, ...dset } = gd;
            assertEq(dset, d, `real server ${d.key.address}:${d.key.port}`);
          }
        }
        return { services: got.services.length };
      },
    },
    {
      title: 'edit in place: weight, thresholds, scheduler and persistence change without re-creating',
      run: async () => {
        const [s, , ds] = table[0]!;
        const res = ipvs().apply([
          { op: 'edit-service', service: { ...s, scheduler: 'wrr', persistence: 120 } },
          { op: 'edit-dest', service: s.key, dest: { ...ds[0]![0], weight: 7, upperThreshold: 50 } },
        ]);
        assertEq(res.filter((r) => r.error).map((r) => r.error!.message), [], 'errors');
        const line = sh('ipvsadm -Ln -t 10.10.0.1:80');
        if (!/TCP {2}10\.10\.0\.1:80 wrr persistent 120/.test(line)) throw new Failure('service not edited', line);
        if (!/10\.20\.0\.1:8080 +Masq +7 /.test(line)) throw new Failure('real server not edited', line);
        return line;
      },
    },
    {
      title: 'errors: a missing scheduler, a duplicate service, a non-unicast real server, a missing service — each reported with its code, the rest applied',
      run: async () => {
        sh('ipvsadm -C');
        const good = svc(tcp('10.30.0.1', 80), 'rr');
        const res = ipvs().apply([
          { op: 'add-service', service: svc(tcp('10.30.0.2', 80), 'twos') }, // not in this kernel (6.1)
          { op: 'add-service', service: good },
          { op: 'add-service', service: good },
          { op: 'add-dest', service: good.key, dest: dest('224.1.2.3', 80, 'nat', 1) },
          { op: 'add-dest', service: good.key, dest: dest('10.20.0.9', 80, 'nat', 1) },
          { op: 'del-service', key: tcp('10.30.0.9', 80) },
        ]);
        const codes = res.map((r) => r.error?.code ?? 'ok');
        assertEq(codes, ['ENOENT', 'ok', 'EEXIST', 'EINVAL', 'ok', 'ESRCH'], 'per-operation outcome');
        const msg = res[0]!.error!.message;
        if (!msg.includes('add service TCP 10.30.0.2:80 (twos)')) throw new Error(`error does not name the operation: ${msg}`);
        const list = sh('ipvsadm -Ln');
        if (!list.includes('10.30.0.1:80 rr') || !list.includes('10.20.0.9:80')) throw new Failure('the good operations were not applied', list);
        return { codes, messages: res.filter((r) => r.error).map((r) => r.error!.message) };
      },
    },
    {
      title: 'batching: 1,000 services x 10 real servers in one apply, then one dump',
      run: async () => {
        sh('ipvsadm -C');
        const big: IpvsOp[] = [];
        for (let i = 0; i < 1000; i++) {
          const s = svc(tcp(`10.40.${i >> 8}.${i & 255}`, 80), 'wrr');
          big.push({ op: 'add-service', service: s });
          for (let j = 0; j < 10; j++) big.push({ op: 'add-dest', service: s.key, dest: dest(`10.20.${100 + (j >> 8)}.${((i * 10 + j) % 250) + 1}`, 8000 + j, 'nat', 1) });
        }
        let t0 = performance.now();
        const res = ipvs().apply(big);
        const applyMs = performance.now() - t0;
        const failed = res.filter((r) => r.error);
        if (failed.length) throw new Error(`${failed.length} failed, first: ${failed[0]!.error!.message}`);
        t0 = performance.now();
        const t = ipvs().table();
        const dumpMs = performance.now() - t0;
        const dests = t.services.reduce((n, s) => n + s.dests.length, 0);
        assertEq([t.services.length, dests], [1000, 10000], 'services and real servers in the dump');
        const lines = Number(sh('ipvsadm -Sn | wc -l').trim());
        assertEq(lines, 11000, 'ipvsadm -Sn lines');
        return { ops: big.length, applyMs: Math.round(applyMs), dumpMs: Math.round(dumpMs) };
      },
    },
    {
      title: 'timeouts and the connection sync daemon',
      run: async () => {
        const client = ipvs();
        client.setTimeouts({ tcp: 900, tcpFin: 30, udp: 120 });
        assertEq(client.getTimeouts(), { tcp: 900, tcpFin: 30, udp: 120 }, 'timeouts');
        if (!/Timeout \(tcp tcpfin udp\): 900 30 120/.test(sh('ipvsadm -L --timeout'))) throw new Error('ipvsadm disagrees on timeouts');
        client.startDaemon({ state: 'master', interface: 'rs0', syncId: 9 });
        const d = client.daemons();
        if (d.length !== 1 || d[0]!.state !== 'master' || d[0]!.interface !== 'rs0' || d[0]!.syncId !== 9) throw new Failure('daemon dump', d);
        const text = sh('ipvsadm -L --daemon');
        if (!/master sync daemon \(mcast=rs0, syncid=9/.test(text)) throw new Failure('ipvsadm --daemon', text);
        client.stopDaemon('master');
        assertEq(client.daemons(), [], 'daemons after stop');
        return text.trim();
      },
    },
    {
      title: 'reconcile: converges after hand edits with ipvsadm, in few operations, and leaves a foreign service alone',
      run: async () => {
        sh('ipvsadm -C');
        sh('ipvsadm -A -t 10.50.0.1:22 -s rr && ipvsadm -a -t 10.50.0.1:22 -r 10.20.5.1:22 -m'); // someone else's
        const desired: DesiredService[] = [];
        for (let i = 0; i < 100; i++) {
          const s = svc(tcp(`10.60.0.${i + 1}`, 80), 'wrr');
          desired.push({ ...s, dests: Array.from({ length: 10 }, (_, j) => dest(`10.20.6.${j + 1}`, 8000 + i, 'nat', 1 + j)) });
        }
        runDir();
        const state = `${RUN}/owned.json`; // a directory of our own, as vipd requires (not the 9p share)
        const r = new Reconciler(ipvs(), { stateFile: state });
        const first = r.reconcile(desired);
        assertEq([first.ops, first.failed.length], [1100, 0], 'first reconcile: operations, failures');
        const noop = r.reconcile(desired);
        assertEq(noop.ops, 0, 'operations of a no-op reconcile');
        // Hand edits: a weight, a deleted real server, an extra real server, a scheduler, a deleted service.
        sh('ipvsadm -e -t 10.60.0.1:80 -r 10.20.6.1:8000 -m -w 50');
        sh('ipvsadm -d -t 10.60.0.2:80 -r 10.20.6.2:8001');
        sh('ipvsadm -a -t 10.60.0.3:80 -r 10.20.6.99:8002 -m -w 1');
        sh('ipvsadm -E -t 10.60.0.4:80 -s rr');
        sh('ipvsadm -D -t 10.60.0.5:80');
        const fix = r.reconcile(desired);
        assertEq([fix.ops, fix.failed.length], [1 + 1 + 1 + 1 + 1 + 10, 0], 'repair: operations, failures');
        const after = r.reconcile(desired);
        assertEq(after.ops, 0, 'operations after the repair');
        const foreign = sh('ipvsadm -Ln -t 10.50.0.1:22');
        if (!foreign.includes('10.20.5.1:22')) throw new Failure('foreign service touched', foreign);
        // A service removed from the desired table is deleted (it is ours); the foreign one stays.
        const fewer = r.reconcile(desired.slice(1));
        assertEq(fewer.ops, 1, 'operations when one service leaves the config');
        // A new Reconciler (a restarted vipd) knows from the state file what it owns.
        const again = new Reconciler(ipvs(), { stateFile: state }).reconcile(desired.slice(2));
        assertEq(again.ops, 1, 'a restarted reconciler deletes the service it owned');
        if (!sh('ipvsadm -Ln').includes('10.50.0.1:22')) throw new Error('foreign service deleted');
        return { firstMs: Math.round(first.dumpMs + first.applyMs), noopMs: Math.round(noop.dumpMs + noop.applyMs), repairOps: fix.ops };
      },
    },
  ],
};
