// Times chart reads of Lookout's series endpoint beside Prometheus's query_range on the same
// samples (see scripts/compare-prometheus.sh): 5 warm-ups, then 30 measured rounds per case,
// one round after another; a Lookout round of several charts sends them together, as the
// browser does (one request per chart). Prints p50 and p99 in milliseconds.
const lookout = process.env.LOOKOUT;
const token = process.env.TOKEN;
const prom = process.env.PROM;
const end = Number(process.env.END_MS);
const HOUR = 3_600_000;
const hosts = Array.from({ length: Number(process.env.HOSTS ?? 20) }, (_, i) => `sim-${String(i).padStart(3, '0')}`);
const DAY = 86_400_000;

async function timed(run) {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function get(url, headers = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status} ${url}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

const series = (vm, start, points) =>
  get(`${lookout}/api/v1/history/series?vmId=${vm}&metrics=cpu.usagePercent&start=${start}&end=${end}&points=${points}`, { authorization: `Bearer ${token}` });
const range = (query, start, step) =>
  get(`${prom}/api/v1/query_range?query=${encodeURIComponent(query)}&start=${start / 1000}&end=${end / 1000}&step=${step}`);

function stats(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: at(0.5), p99: at(0.99) };
}

async function measure(run) {
  for (let i = 0; i < 5; i++) await run();
  const times = [];
  for (let i = 0; i < 30; i++) times.push(await timed(run));
  return stats(times);
}

// The answer's size, to show both sides drew the same chart.
async function points(run) {
  const answer = await run();
  return answer;
}

const cases = [
  {
    name: 'one host, CPU, 24 h of raw samples (8 640 points)',
    lookout: () => series('sim-000', end - DAY, 8700).then((s) => { if (s.data.resolution !== 'raw') throw new Error(s.data.resolution); return s.data.t.length; }),
    prometheus: () => range('cpu_percent{vm="sim-000"}', end - DAY, 10).then((r) => r.data.result[0].values.length),
  },
  {
    // Ranges start an hour inside the window their tier keeps (raw 7 days, hourly 30 days), so
    // both sides answer the same resolution.
    name: 'one host, CPU, 7 days on an 800-px chart (15-min buckets; Lookout adds min, max, p95)',
    lookout: () => series('sim-000', end - 7 * DAY + HOUR, 800).then((s) => { if (s.data.resolution !== '15m') throw new Error(s.data.resolution); return s.data.t.length; }),
    prometheus: () => range('avg_over_time(cpu_percent{vm="sim-000"}[15m])', end - 7 * DAY + HOUR, 900).then((r) => r.data.result[0].values.length),
  },
  {
    name: `${hosts.length} hosts, CPU, 30 days hourly average (Lookout: one request per host, with min, max, p95)`,
    lookout: () => Promise.all(hosts.map((vm) => series(vm, end - 30 * DAY + HOUR, 800))).then((all) => { if (all[0].data.resolution !== '1h') throw new Error(all[0].data.resolution); return all.reduce((n, s) => n + s.data.t.length, 0); }),
    prometheus: () => range('avg_over_time(cpu_percent[1h])', end - 30 * DAY + HOUR, 3600).then((r) => r.data.result.reduce((n, s) => n + s.values.length, 0)),
  },
  {
    name: `${hosts.length} hosts, CPU, 30 days hourly p95`,
    lookout: () => Promise.all(hosts.map((vm) => series(vm, end - 30 * DAY + HOUR, 800))).then((all) => all.reduce((n, s) => n + s.data.t.length, 0)),
    prometheus: () => range('quantile_over_time(0.95, cpu_percent[1h])', end - 30 * DAY + HOUR, 3600).then((r) => r.data.result.reduce((n, s) => n + s.values.length, 0)),
  },
  {
    name: `${hosts.length} hosts, CPU, 30 days by day: avg, max and p95`,
    lookout: () => Promise.all(hosts.map((vm) => series(vm, end - 30 * DAY, 40))).then((all) => all.reduce((n, s) => n + s.data.t.length, 0)),
    prometheus: () => Promise.all([
      range('avg_over_time(cpu_percent[1d])', end - 30 * DAY, 86400),
      range('max_over_time(cpu_percent[1d])', end - 30 * DAY, 86400),
      range('quantile_over_time(0.95, cpu_percent[1d])', end - 30 * DAY, 86400),
    ]).then((all) => all[0].data.result.reduce((n, s) => n + s.values.length, 0)),
  },
];

console.log('| read | points (Lookout / Prometheus) | Lookout p50 / p99 | Prometheus p50 / p99 |');
console.log('|---|---|---|---|');
for (const c of cases) {
  const [lp, pp] = [await points(c.lookout), await points(c.prometheus)];
  const l = await measure(c.lookout);
  const p = await measure(c.prometheus);
  const f = (s) => `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)} ms`;
  console.log(`| ${c.name} | ${lp} / ${pp} | ${f(l)} | ${f(p)} |`);
}
