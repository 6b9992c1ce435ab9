// Browser end-to-end: sign in, see every card, watch a WebSocket update change the page, open the
// capacity page, an export from the exports page, sign out.
// Runs against a server started by scripts/test.sh (LOOKOUT_URL, LOOKOUT_PASSWORD).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const base = process.env.LOOKOUT_URL ?? 'http://127.0.0.1:3000';
const password = process.env.LOOKOUT_PASSWORD;
const output = new URL('../output/', import.meta.url);

// Debian's Chromium, never a downloaded one; flags keep it off the (closed) network.
const launchOptions = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
};

test('sign in, watch live updates, sign out', { timeout: 120_000 }, async () => {
  assert.ok(password, 'LOOKOUT_PASSWORD must be set');
  const browser = await chromium.launch(launchOptions);
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });

    await page.goto(`${base}/`);
    await page.waitForURL('**/login');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('button[type=submit]');
    await page.waitForURL('**/login?error=1');
    await page.getByRole('alert').waitFor();

    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);

    for (const card of ['cpu', 'memory', 'disk', 'network', 'processes', 'connections']) {
      await page.getByTestId(`card-${card}`).waitFor();
    }
    // Hydration opened the WebSocket.
    await page.waitForSelector('[data-testid=stream-state][data-state=live]', { timeout: 30_000 });
    const live = page.locator('main.live');
    const updatesBefore = Number(await live.getAttribute('data-updates'));
    const timeBefore = await page.getByTestId('updated-at').textContent();
    await page.waitForFunction(
      (n) => Number(document.querySelector('main.live').dataset.updates) >= n + 2,
      updatesBefore,
      { timeout: 20_000 },
    );
    const timeAfter = await page.getByTestId('updated-at').textContent();
    assert.notEqual(timeAfter, timeBefore, 'the "updated" time follows the live samples');
    assert.match(await page.getByTestId('card-cpu-value').textContent(), /^\d+(\.\d)? %$/);
    assert.ok(await page.locator('[data-testid=live-chart] svg polyline').count() > 0, 'the chart is drawn');

    await mkdir(output, { recursive: true });
    await page.screenshot({ path: new URL('live.png', output).pathname, fullPage: true });

    // The capacity page: fleet chart with the threshold line, forecast, alerts and anomalies.
    await page.getByTestId('nav-capacity').click();
    await page.waitForURL(`${base}/capacity`);
    await page.waitForSelector('[data-testid=capacity-chart] svg', { timeout: 30_000 });
    assert.ok(await page.locator('[data-testid=capacity-chart] svg [stroke="#DC2626"]').count() > 0, 'the 80 % threshold is drawn');
    for (const table of ['forecast-table', 'alerts-table', 'anomalies-table']) {
      await page.getByTestId(table).waitFor();
    }
    await page.screenshot({ path: new URL('capacity.png', output).pathname, fullPage: true });

    // The exports page: start an Excel export, watch its progress bar complete, download the file.
    await page.getByTestId('nav-exports').click();
    await page.waitForURL(`${base}/exports`);
    await page.getByTestId('export-hosts').waitFor();
    await page.getByTestId('export-start').click();
    const done = page.locator('[data-testid=export-row][data-status=completed]').first();
    await done.waitFor({ timeout: 60_000 });
    assert.equal(await done.locator('progress').getAttribute('value'), '100');
    const href = await done.getByTestId('export-download').getAttribute('href');
    const file = await page.request.get(`${base}${href}`);
    assert.equal(file.status(), 200);
    assert.equal(file.headers()['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    assert.match(file.headers()['content-disposition'], /^attachment; filename=".+\.xlsx"$/);
    await page.screenshot({ path: new URL('exports.png', output).pathname, fullPage: true });
    await page.goto(`${base}/`);
    await page.getByTestId('logout').waitFor();

    await page.getByTestId('logout').click();
    await page.waitForURL('**/login');
    await page.goto(`${base}/`);
    await page.waitForURL('**/login');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
