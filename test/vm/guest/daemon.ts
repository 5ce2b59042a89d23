// Topology: the bare kernel with `vipd run` as the daemon operators start:
// programs its table, reloads, stops, and repairs hand edits by itself.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { assertEq, Failure, saved, sh, sleep, type Topology, track, until } from './harness.js';
import { RUN, runDir, startVipd } from './vipd.js';

const vsConfig = (w1: number, extra = '', ipvsExtra = ''): string => `global: {control_socket: ${RUN}/vipd.sock}
virtual_servers:
  web:
    address: 10.70.0.1
    port: 80
    scheduler: wrr
    real_servers:
      - {address: 10.20.7.1, port: 8080, weight: ${w1}}
      - {address: 10.20.7.2, port: 8080, weight: 1}
${extra}ipvs:
  timeouts: {tcp: 600, tcp_fin: 20, udp: 60}
${ipvsExtra}`;
const webLines = (w1: number): string[] => ['-A -t 10.70.0.1:80 -s wrr', `-a -t 10.70.0.1:80 -r 10.20.7.1:8080 -m -w ${w1}`, '-a -t 10.70.0.1:80 -r 10.20.7.2:8080 -m -w 1'];
const tableIs = (lines: string[]) => (): true | string[] => JSON.stringify(saved()) === JSON.stringify([...lines].sort()) || saved();

export const daemon: Topology = {
  name: 'vipd run on the bare kernel',
  scenarios: [
    {
      title: 'vipd run: programs the configured table, applies a reload as a difference, rejects a bad reload, keeps the table on stop (flush_on_stop removes only its own)',
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        const foreign = ['-A -t 10.50.0.1:22 -s rr', '-a -t 10.50.0.1:22 -r 10.20.5.1:22 -m -w 1'];
        sh('ipvsadm -R', foreign.join('\n') + '\n');
        let v = startVipd(vsConfig(3));
        await until('the configured table', tableIs([...foreign, ...webLines(3)]));
        if (!/Timeout \(tcp tcpfin udp\): 600 20 60/.test(sh('ipvsadm -L --timeout'))) throw new Error('timeouts not applied');
        // Reload: a weight changes, a service is added.
        writeFileSync(`${RUN}/vipd.yaml`, vsConfig(5, '  dns: {address: 10.70.0.2, port: 53, protocol: udp, scheduler: rr, real_servers: [{address: 10.20.7.3}]}\n'));
        v.child.kill('SIGHUP');
        await until('the reloaded table', tableIs([...foreign, ...webLines(5), '-A -u 10.70.0.2:53 -s rr', '-a -u 10.70.0.2:53 -r 10.20.7.3:53 -m -w 1']));
        const reconciles = () => [...v.log().matchAll(/"event":"ipvs-reconciled","ops":(\d+)/g)].map((m) => Number(m[1]));
        await until("the reload's reconcile log line", () => reconciles().length >= 2 || v.log().slice(-2000));
        assertEq(reconciles(), [3, 3], 'operations per reconcile (start, reload)');
        const ops = reconciles();
        // A bad file: rejected, nothing touched.
        const before = saved();
        writeFileSync(`${RUN}/vipd.yaml`, vsConfig(5).replace('scheduler: wrr', 'scheduler: bogus'));
        v.child.kill('SIGHUP');
        await until('the rejection', () => v.log().includes('reload-rejected'));
        if (!/vipd\.yaml:\d+:\d+: virtual_servers\.web\.scheduler: unknown scheduler \\"bogus\\"/.test(v.log())) throw new Failure('rejection does not name the place', v.log().slice(-1500));
        assertEq(saved(), before, 'table after a rejected reload');
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'exit code on SIGTERM');
        assertEq(saved(), before, 'table after vipd stopped (kept: connections survive a restart)');
        // Restart with flush_on_stop: its services go on stop, the foreign one stays.
        v = startVipd(vsConfig(5, '', '  flush_on_stop: true\n'));
        await until('the table after restart', tableIs([...foreign, ...webLines(5)]));
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'exit code on SIGTERM');
        assertEq(saved(), [...foreign].sort(), 'table after a flush_on_stop stop');
        return { reconcileOps: ops };
      },
    },
    {
      title: 'vipd run repairs hand edits by itself: the periodic resync (resync_interval) restores a deleted real server and a changed weight, and says so',
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        const v = startVipd(vsConfig(3, '', '  resync_interval: 2\n'));
        await until('the configured table', tableIs(webLines(3)));
        sh('ipvsadm -d -t 10.70.0.1:80 -r 10.20.7.2:8080; ipvsadm -e -t 10.70.0.1:80 -r 10.20.7.1:8080 -m -w 9');
        const edited = Date.now();
        await until('the table repaired by the resync', tableIs(webLines(3)), 15_000);
        const ms = Date.now() - edited;
        await until('the drift warning', () => /IPVS resync: the kernel's table had drifted: 2 operation\(s\) to converge/.test(v.log()) || v.log().slice(-1500));
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'vipd exit code');
        return { repairedAfterMs: ms };
      },
    },
    {
      title: "metrics: a real Prometheus scrapes vipd in the guest — vipd_ipvs_up 1, the real servers' weights and counters from the kernel's table, a reload's operations counted",
      limitMs: 240_000,
      run: async () => {
        sh('ipvsadm -C');
        runDir();
        const metrics = 'metrics: {listen: 127.0.0.1:9650}\n';
        const v = startVipd(vsConfig(3) + metrics);
        await until('the configured table', tableIs(webLines(3)));
        // Debian's Prometheus (this host's files), scraping every second; its TSDB under the run directory (tmpfs).
        const dir = `${RUN}/prom`;
        sh(`rm -rf ${dir}; mkdir -p ${dir}/data`);
        writeFileSync(`${dir}/prometheus.yml`, 'global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n  - job_name: vipd\n    static_configs: [{targets: ["127.0.0.1:9650"]}]\n');
        const prom = track(spawn('/usr/bin/prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, '--web.listen-address=127.0.0.1:19090', '--log.level=warn'], { stdio: 'ignore' }));
        type Sample = { value: [number, string] };
        const query = async (q: string): Promise<Sample[]> => {
          const r = (await (await fetch(`http://127.0.0.1:19090/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; error?: string; data: { result: Sample[] } };
          if (r.status !== 'success') throw new Error(`${q}: ${r.error}`);
          return r.data.result;
        };
        const one = (r: Sample[]): number | undefined => (r.length === 1 ? Number(r[0]!.value[1]) : undefined);
        const untilQuery = async (what: string, q: string, ok: (r: Sample[]) => boolean, ms = 90_000): Promise<Sample[]> => {
          const end = Date.now() + ms;
          let last: unknown;
          while (Date.now() < end) {
            try {
              const r = await query(q);
              if (ok(r)) return r;
              last = r;
            } catch (e) {
              last = (e as Error).message;
            }
            await sleep(500);
          }
          throw new Failure(`timed out waiting for ${what}`, last);
        };
        await untilQuery('vipd_ipvs_up 1', 'vipd_ipvs_up', (r) => one(r) === 1);
        const rs = 'addr="10.20.7.1:8080",proto="tcp",vip="10.70.0.1:80",virtual_server="web"';
        await untilQuery('the weight from the kernel', `vipd_lvs_rs_weight{${rs}}`, (r) => one(r) === 3);
        assertEq((await query(`vipd_lvs_rs_connections_total{${rs}}`)).length, 1, 'a connection counter of the real server');
        assertEq((await query('vipd_lvs_vip_connections_total{addr="10.70.0.1:80",proto="tcp",virtual_server="web"}')).length, 1, 'a connection counter of the service');
        // A reload changes a weight: the kernel's new weight, and the reconcile's operation counted.
        writeFileSync(`${RUN}/vipd.yaml`, vsConfig(5) + metrics);
        v.child.kill('SIGHUP');
        await until('the reloaded table', tableIs(webLines(5)));
        await untilQuery('the new weight', `vipd_lvs_rs_weight{${rs}}`, (r) => one(r) === 5);
        const ops = await untilQuery("the reload's operations", 'vipd_ipvs_reconcile_operations_total{kind="reconcile"}', (r) => (one(r) ?? 0) >= 2);
        const dumps = await query('vipd_ipvs_reconcile_dump_seconds_count{kind="reconcile"}');
        v.child.kill('SIGTERM');
        assertEq(await v.exited, 0, 'exit code on SIGTERM');
        prom.kill('SIGTERM');
        return { reconcileOps: one(ops), reconcileDumps: one(dumps) };
      },
    },
  ],
};
