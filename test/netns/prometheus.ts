// A real Prometheus (Debian's package) for the metrics tests: started inside a
// lab host with a scrape config of our targets, every second; queried over its
// HTTP API from inside the same host (curl), so no traffic leaves the lab.

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, waitFor } from './lab.js';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export class Prometheus {
  private readonly child: ChildProcess;
  readonly output: string[] = [];

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    targets: string[],
    readonly listen = '127.0.0.1:19090',
  ) {
    const dir = join(lab.dir, 'prometheus');
    mkdirSync(join(dir, 'data'), { recursive: true });
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vipd\n    static_configs:\n      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]\n`,
    );
    // Inside the lab's namespace (the lab dir, and with it the TSDB, is removed by lab.destroy()).
    this.child = lab.spawn(host, PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${listen}`, '--log.level=warn']);
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => this.output.push(d));
  }

  /** An instant query over the HTTP API: the result vector. */
  query(promql: string): Sample[] {
    const out = this.lab.exec(this.host, 'curl', ['-sS', '--max-time', '3', '--get', `http://${this.listen}/api/v1/query`, '--data-urlencode', `query=${promql}`]);
    const r = JSON.parse(out) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
    if (r.status !== 'success') throw new Error(`PromQL ${promql}: ${r.error}`);
    return r.data.result;
  }

  /** Waits until every target is up (scraped successfully). */
  async targetsUp(n: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => `Prometheus to scrape ${n} target(s) (its output: ${this.output.join('').slice(-400)})`, () => this.query('up == 1').length === n, timeoutMs, 250);
  }

  /** Waits until `promql` returns a vector `ok` accepts; returns it. */
  async until(promql: string, ok: (r: Sample[]) => boolean, timeoutMs = 15_000): Promise<Sample[]> {
    let last: Sample[] = [];
    await waitFor(() => `${promql} (last: ${JSON.stringify(last)})`, () => ok((last = this.query(promql))), timeoutMs, 250);
    return last;
  }

  stop(): void {
    if (this.child.pid && this.child.exitCode === null) process.kill(-this.child.pid, 'SIGTERM');
  }
}

export const value = (r: Sample[], match: Record<string, string>): number | undefined => {
  const s = r.find((x) => Object.entries(match).every(([k, v]) => x.metric[k] === v));
  return s ? Number(s.value[1]) : undefined;
};
