import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { api } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal, testConfig } from '../helpers/stack.js';

/** Screenshots kept as test artifacts (git-ignored). */
const ARTIFACTS = join(projectRoot, 'test/artifacts');

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
let browser: Browser;
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 3000, settings: { faults: { latencyMs: 3 } } })]);
  p = await startPipeline(testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '2' }), credentials);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

/** A page that may load only from the API itself: anything else (a CDN) is refused and recorded. */
async function offlinePage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const elsewhere: string[] = [];
  const origin = new URL(p.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  return { page: await context.newPage(), elsewhere };
}

test('/ui in headless Chromium, offline: the key is asked for, the running extraction shows live progress, Pause and Resume act on it', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata', batchSize: 50 });
  assert.equal(started.status, 202);
  const { page, elsewhere } = await offlinePage();
  await page.goto(`${p.url}/ui`);
  await page.locator('#message').filter({ hasText: 'Enter an API key' }).waitFor();
  await page.fill('#key', TEST_API_KEY);
  await page.click('#login button');
  const row = page.locator(`#extractions tr[data-id="${started.body.id}"]`);
  await row.locator('.status.running').waitFor();
  await waitFor('a percent above 0 in the row', async () => /[1-9]\d*(\.\d)?%/.test((await row.textContent()) ?? ''), 60_000);
  assert.match((await row.textContent()) ?? '', /user@example\.com/);
  assert.equal(
    await row.locator('a').getAttribute('href'),
    `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(started.body.id)}`,
  );
  await page.screenshot({ path: join(ARTIFACTS, 'ui.png'), fullPage: true });

  await row.getByRole('button', { name: 'Pause' }).click();
  await row.locator('.status.paused').waitFor();
  assert.equal((await api<{ status: string }>(p, 'GET', `/extract/${encodeURIComponent(started.body.id)}`)).body.status, 'paused');
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.locator('.status.running, .status.completed').first().waitFor();
  assert.deepEqual(elsewhere, [], 'nothing loaded from anywhere but the API');
});

test('/docs in headless Chromium, offline: Swagger UI renders the API from /openapi.json', async () => {
  const { page, elsewhere } = await offlinePage();
  await page.goto(`${p.url}/docs`);
  await page.locator('.swagger-ui .info .title').filter({ hasText: 'gmail-lake' }).waitFor();
  await page.locator('.opblock-summary-path', { hasText: '/extract/{id}/pause' }).first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
  assert.deepEqual(elsewhere, []);
});
