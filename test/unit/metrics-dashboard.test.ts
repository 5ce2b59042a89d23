// etc/grafana/vipd-dashboard.json: every expression parses as PromQL (promtool,
// from Debian's prometheus package, checks them as recording rules) and every
// metric it names is one vipd exports (read from a real scrape).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VipdMetrics } from '../../src/metrics/registry.js';
import type { RouterStatus } from '../../src/vrrp/router.js';

const PROMTOOL = '/usr/bin/promtool';
const file = fileURLToPath(new URL('../../etc/grafana/vipd-dashboard.json', import.meta.url));
type Panel = { title: string; targets?: { expr: string }[] };
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } };
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
/** Grafana's variables as Prometheus would see them after substitution. */
const substituted = (e: string) => e.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');

/** Every metric family vipd exports, with a histogram's and a summary's series names. */
async function exported(): Promise<Set<string>> {
  const m = new VipdMetrics({ snapshot: async () => ({ vrrp: { instances: [], groups: [], interfaces: [] } as unknown as RouterStatus, ipvsWanted: false, ipvs: undefined, names: new Map(), views: [], vsKeys: new Map() }) });
  const names = new Set<string>();
  for (const [, name, type] of (await m.scrape()).toString().matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
  }
  return names;
}

describe('the Grafana dashboard', () => {
  it('has panels with expressions', () => {
    expect(exprs.length).toBeGreaterThan(20);
  });

  it('names only metrics vipd exports, at least one in each expression', async () => {
    const names = await exported();
    for (const { panel, expr } of exprs) {
      const used = [...substituted(expr).matchAll(/\b((?:vipd|nodejs|process)_[a-z0-9_]+)\b/g)].map((x) => x[1]!);
      expect(used.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const n of used) expect(names.has(n), `${panel}: ${n} is not exported by vipd`).toBe(true);
    }
    const variable = dashboard.templating.list.find((v) => v.name === 'instance')!.query as string;
    expect(names.has(/label_values\((\w+),/.exec(variable)![1]!)).toBe(true);
  });

  it.skipIf(!existsSync(PROMTOOL))('every expression parses as PromQL (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-dash-'));
    try {
      const rules = join(dir, 'rules.yml');
      const body = exprs.map(({ expr }, i) => `      - record: vipd_dashboard_${i}\n        expr: ${JSON.stringify(substituted(expr))}`).join('\n');
      writeFileSync(rules, `groups:\n  - name: dashboard\n    rules:\n${body}\n`);
      const out = execFileSync(PROMTOOL, ['check', 'rules', rules], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toContain(`SUCCESS: ${exprs.length} rules found`);
      // And promtool does catch a broken one (the check can fail).
      writeFileSync(rules, `groups:\n  - name: d\n    rules:\n      - record: x\n        expr: "rate(vipd_vrrp_advertisements_sent_total[1m]"\n`);
      expect(() => execFileSync(PROMTOOL, ['check', 'rules', rules], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
