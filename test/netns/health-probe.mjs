// One run of each given check, from inside a network namespace (the checks of
// vipd's health/ modules, compiled in dist/): node health-probe.mjs '[spec, ...]'
// prints the results as a JSON array.

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { HealthMonitor } = await import(dist('health/monitor.js'));
const specs = JSON.parse(process.argv[2]);
const m = new HealthMonitor(() => {});
const base = { intervalMs: 10_000, timeoutMs: 1000, rise: 1, fall: 1 };
// The monitor's runner, one shot per spec (no scheduling).
const results = await Promise.all(specs.map((s) => m.runOnce({ ...base, ...s })));
m.stop();
console.log(JSON.stringify(results.map(({ ok, reason, weight }) => ({ ok, reason, ...(weight !== undefined ? { weight } : {}) }))));
