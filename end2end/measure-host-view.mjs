// Times the host view over a simulated fleet (see scripts/measure-host-view.sh): signs in, opens
// the fleet page, then for each preset the host view of several hosts, each in a fresh page (the
// browser's cache warm, as for a person who has opened Lookout before). Prints p50/p99 per
// preset of: the server-rendered page received, its first paint (with the static SVG charts),
// the interactive charts mounted (WASM loaded and hydrated), the fetch of all charts' series
// (sent together, one request per chart), their drawing, and the total from navigation to every
// interactive chart drawn. Reported, not asserted.
import { chromium } from 'playwright-core';

const base = process.env.LOOKOUT_URL;
const password = process.env.LOOKOUT_PASSWORD;
const fleetSize = Number(process.env.HOSTS ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const PRESETS = ['24h', '7d', '30d'];

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms`;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const signIn = await context.newPage();
  await signIn.goto(`${base}/login`);
  await signIn.fill('input[name=username]', 'admin');
  await signIn.fill('input[name=password]', password);
  await signIn.click('button[type=submit]');
  await signIn.waitForURL(`${base}/`);
  const rows = await signIn.locator('[data-testid=fleet-row][data-vm^=sim-]').count();
  if (rows !== fleetSize) throw new Error(`the fleet page lists ${rows} simulated hosts, not ${fleetSize}`);
  await signIn.close();

  const fleetTimes = [];
  for (let i = 0; i < ROUNDS; i++) {
    const page = await context.newPage();
    await page.goto(`${base}/`, { waitUntil: 'load' });
    fleetTimes.push(await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd));
    await page.close();
  }
  console.log(`fleet page, ${fleetSize} hosts (navigation to load): ${stats(fleetTimes)}`);

  for (const preset of PRESETS) {
    const first = [], fetch = [], draw = [], html = [], paint = [], mounted = [];
    let panels = 0, points = 0, resolution = '';
    for (let i = 0; i < ROUNDS + 2; i++) {
      // Hosts spread over the fleet; the first two rounds warm the server and the browser's cache.
      const vm = `sim-${String((i * 37) % fleetSize).padStart(3, '0')}`;
      const page = await context.newPage();
      const problems = [];
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(`${base}/hosts/${vm}?range=${preset}`);
      await page.waitForFunction(() => (window.LookoutTimings?.renders.length ?? 0) > 0
        && document.querySelector('.charts')?.dataset.loading === '', null, { timeout: 60_000 });
      const record = await page.evaluate(() => {
        const navigation = performance.getEntriesByType('navigation')[0];
        const paint = performance.getEntriesByName('first-contentful-paint')[0];
        return { ...window.LookoutTimings.renders[0], responseEnd: navigation.responseEnd, paint: paint ? paint.startTime : NaN };
      });
      resolution = await page.$eval('.charts', (c) => c.dataset.resolution);
      if (problems.length) throw new Error(`${vm} ${preset}: ${problems.join('; ')}`);
      await page.close();
      if (i < 2) continue;
      first.push(record.sinceNavigationMs);
      fetch.push(record.fetchMs);
      draw.push(record.renderMs);
      html.push(record.responseEnd);
      paint.push(record.paint);
      mounted.push(record.sinceNavigationMs - record.fetchMs - record.renderMs);
      panels = record.panels;
      points = record.points;
    }
    console.log(`host view ${preset} (${panels} charts, ${resolution}, ~${points} values):
  server-rendered page received ${stats(html)}; first paint (its static charts) ${stats(paint)};
  interactive charts mounted ${stats(mounted)}; their series fetched ${stats(fetch)}; drawn ${stats(draw)};
  navigation to every interactive chart drawn ${stats(first)}`);
  }
} finally {
  await browser.close();
}
