import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generateCodecKey } from '../../src/codec.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { offlinePage } from '../helpers/browser.js';
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
  // Payloads encrypted, so the Temporal Web UI shows them only through the codec endpoint.
  p = await startPipeline(
    testConfig(temporal, emu, {
      GMAIL_FETCH_CONCURRENCY: '2',
      PAYLOAD_KEYS: generateCodecKey('k1'),
      TEMPORAL_UI_URL: temporal.server.uiUrl,
    }),
    credentials,
  );
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

const QUERY = 'after:2001/02/03';

/**
 * The Temporal Web UI's own codec setting, as a user makes it once per browser (Codec Server → "Use my browser
 * setting", the endpoint, "Include cross-origin credentials", Apply); the dev server cannot set the credentials flag.
 */
async function setWebUiCodec(page: Page, endpoint: string) {
  await page.goto(`${temporal.server.uiUrl}/namespaces/default/workflows`);
  await page.locator('[data-testid="data-encoder-status"]').click();
  await page.locator('[data-testid="override-accordion"]').click();
  await page.locator('[data-testid="use-local-endpoint-input"]').check({ force: true });
  await page.fill('#data-encoder-endpoint-input', endpoint);
  const credentialsSwitch = page.locator('#pass-access-credentials');
  await credentialsSwitch.dispatchEvent('click'); // the sticky top bar covers its label for a pointer
  assert.ok(await credentialsSwitch.isChecked());
  await page.getByRole('button', { name: 'Apply' }).click();
}

/** A page that may load only from the API itself: anything else (a CDN) is refused and recorded. */
const offlineUiPage = () => offlinePage(browser, new URL(p.url).origin, { width: 1280, height: 720 });

test('/ui in headless Chromium, offline: the key is asked for, the running extraction shows live progress, Pause, Resume and Cancel act on it', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata', batchSize: 50 });
  assert.equal(started.status, 202);
  const { page, elsewhere } = await offlineUiPage();
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
    `${temporal.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(started.body.id)}`,
  );
  await page.screenshot({ path: join(ARTIFACTS, 'ui.png'), fullPage: true });

  await row.getByRole('button', { name: 'Pause' }).click();
  await row.locator('.status.paused').waitFor();
  assert.equal((await api<{ status: string }>(p, 'GET', `/extract/${encodeURIComponent(started.body.id)}`)).body.status, 'paused');
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.locator('.status.running').waitFor();
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Cancel' }).click();
  await row.locator('.status.canceled').waitFor();
  assert.deepEqual(elsewhere, [], 'nothing loaded from anywhere but the API');
});

test('/docs in headless Chromium, offline: Swagger UI renders the API from /openapi.json', async () => {
  const { page, elsewhere } = await offlineUiPage();
  await page.goto(`${p.url}/docs`);
  await page.locator('.swagger-ui .info .title').filter({ hasText: 'gmail-lake' }).waitFor();
  await page.locator('.opblock-summary-path', { hasText: '/extract/{id}/pause' }).first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
  assert.deepEqual(elsewhere, []);
});

test('Temporal Web UI with encrypted payloads: ciphertext until the browser signs in to /ui, then the input (query) and the current details in clear through /codec', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', query: QUERY, format: 'metadata', batchSize: 20 });
  assert.equal(started.status, 202);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await setWebUiCodec(page, `${p.url}/codec`);
  const workflowPage = `${temporal.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(started.body.id)}`;
  const input = page
    .locator('section, div')
    .filter({ has: page.getByRole('heading', { name: 'Input', exact: true }) })
    .last();

  // Not signed in: the Web UI asks /codec with credentials and gets 401, so it shows the encrypted payload.
  const refused = page.waitForResponse((r) => r.url().startsWith(`${p.url}/codec/decode`));
  await page.goto(workflowPage);
  assert.equal((await refused).status(), 401);
  await input.getByText('YmluYXJ5L2VuY3J5cHRlZA==').first().waitFor(); // base64 of binary/encrypted
  assert.ok(!(await page.locator('body').innerText()).includes(QUERY));

  await page.goto(`${p.url}/ui`);
  await page.fill('#key', TEST_API_KEY);
  await page.click('#login button');
  await page.locator('#who').filter({ hasText: 'Temporal Web UI decoding on' }).waitFor();
  assert.ok(!(await page.evaluate<string>('document.cookie')).includes('gmail_lake_codec'), 'the session cookie is HttpOnly');

  await page.goto(workflowPage);
  await input.getByText(QUERY).waitFor();
  await page.getByText('User Metadata', { exact: true }).click();
  await page.waitForURL(/\/user-metadata$/);
  // The Web UI renders Markdown in an iframe: read every frame.
  const allText = async () =>
    (
      await Promise.all(
        page.frames().map((f) =>
          f
            .locator('body')
            .innerText()
            .catch(() => ''),
        ),
      )
    ).join('\n');
  // The Web UI fetches the metadata once per visit: on a loaded machine that fetch (through the codec) can fail or come
  // back before the workflow's first details, so a page still without them after 20 s is opened again.
  let opened = Date.now();
  const details = await waitFor(
    'the current details',
    async () => {
      const text = await allText();
      if (/msg\/s · ETA|run \d+ · ended/.test(text)) return text;
      if (Date.now() - opened > 20_000) {
        await page.reload();
        opened = Date.now();
      }
      return undefined;
    },
    180_000,
    500,
  );
  assert.match(details, /user@example\.com — \w+, \d+(\.\d)?% \([\d,]+ of [\d,]+\)/);
  assert.match(details, /Gmail backfill of user@example\.com \(after:2001\/02\/03\)/, 'the summary, decoded');
  await page.screenshot({ path: join(ARTIFACTS, 'temporal-ui-details.png'), fullPage: true });
  await context.close();
});
