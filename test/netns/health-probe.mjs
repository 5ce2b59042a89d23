// One run of each given check, from inside a network namespace (the checks of
// vipd's health/ modules, compiled in dist/): node health-probe.mjs '[spec, ...]'
// prints the results as a JSON array.
// node health-probe.mjs --schedule N 'spec': runs the check on its schedule until N
// results, and prints each result's time (ms after the first) and each verdict change.

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { HealthMonitor } = await import(dist('health/monitor.js'));
const base = { intervalMs: 10_000, timeoutMs: 1000, rise: 1, fall: 1 };
const brief = ({ ok, reason, weight, weightAdd }) => ({ ok, reason, ...(weight !== undefined ? { weight } : {}), ...(weightAdd !== undefined ? { weightAdd } : {}) });

if (process.argv[2] === '--schedule') {
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
