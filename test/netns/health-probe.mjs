// One run of each given check, from inside a network namespace (the checks of
// vipd's health/ modules, compiled in dist/): node health-probe.mjs '[spec, ...]'
// prints the results as a JSON array.
// node health-probe.mjs --schedule N 'spec': runs the check on its schedule until N
// results, and prints each result's time (ms after the first) and each verdict change.
// node health-probe.mjs --monitor N '[spec, ...]': the monitor runs the checks itself (its
// own runner: connect-only TCP checks take its promise-free path) until each has N results;
// prints per check each result (time after the check's first, ok, reason, ms) and its verdict changes.

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { HealthMonitor } = await import(dist('health/monitor.js'));
const base = { intervalMs: 10_000, timeoutMs: 1000, rise: 1, fall: 1 };
const brief = ({ ok, reason, weight, weightAdd }) => ({ ok, reason, ...(weight !== undefined ? { weight } : {}), ...(weightAdd !== undefined ? { weightAdd } : {}) });

if (process.argv[2] === '--monitor') {
  const n = Number(process.argv[3]);
  const specs = JSON.parse(process.argv[4]).map((s) => ({ ...base, ...s }));
  const out = specs.map(() => ({ runs: [], changes: [] }));
  let t0 = [];
  const m = new HealthMonitor((s, prev) => out[Number(s.key)].changes.push(`${prev}->${s.verdict}`));
  m.set(new Map(specs.map((spec, i) => [String(i), { spec, alpha: false }])));
  const end = Date.now() + 15_000;
  // Each result as the monitor records it (checks counts them; last is updated in place).
  const seen = specs.map(() => 0);
  while (Date.now() < end && out.some((o) => o.runs.length < n)) {
    await new Promise((r) => setTimeout(r, 2));
    specs.forEach((_, i) => {
      const st = m.get(String(i));
      if (st.checks === seen[i]) return;
      seen[i] = st.checks;
      t0[i] ??= st.last.at;
      if (out[i].runs.length < n) out[i].runs.push({ at: st.last.at - t0[i], ok: st.last.ok, reason: st.last.reason, ms: Math.round(st.last.ms) });
    });
  }
  m.stop();
  console.log(JSON.stringify(out));
} else if (process.argv[2] === '--schedule') {
  const n = Number(process.argv[3]);
  const spec = { ...base, ...JSON.parse(process.argv[4]) };
  const real = new HealthMonitor(() => {});
  const runs = [];
  const changes = [];
  let t0;
  const at = () => Math.round(performance.now() - t0);
  let finish;
  const finished = new Promise((r) => (finish = r));
  const m = new HealthMonitor((s) => changes.push({ at: at(), verdict: s.verdict, run: s.run }), {
    runner: async (s) => {
      t0 ??= performance.now();
      const started = at();
      const r = await real.runOnce(s);
      runs.push({ at: started, ...brief(r) });
      if (runs.length >= n) setTimeout(finish, 0);
      return r;
    },
  });
  m.set(new Map([['k', { spec, alpha: false }]]));
  let timer;
  await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
  clearTimeout(timer);
  m.stop();
  real.stop();
  console.log(JSON.stringify({ runs, changes }));
} else {
  const specs = JSON.parse(process.argv[2]);
  const m = new HealthMonitor(() => {});
  // The monitor's runner, one shot per spec (no scheduling).
  const results = await Promise.all(specs.map((s) => m.runOnce({ ...base, ...s })));
  m.stop();
  console.log(JSON.stringify(results.map(brief)));
}
