/**
 * Signing a mailbox in, as Google does it: `gmail-lake login` against the emulator playing Google's authorization
 * server (consent page, loopback redirect, PKCE), driven by headless Chromium or, for the SSH case, by pasting the
 * redirected address back; Google's refusals of codes and verifiers; bad client files; and a refresh token that
 * expires mid-backfill — the extraction fails saying what to do, `auth_expired` is published, and after `login` the
 * next `extract` resumes with nothing fetched twice.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { cliJson, consent, signInUrl, startCli } from '../helpers/cli.js';
import { control, emulatorStats } from '../helpers/emulator.js';
import { api } from '../helpers/http.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal, testConfig } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

const OWNER = 'user@example.com';
const SECOND = 'second@example.com';
const SECRET = 'whsec-login-0123456789abcdef';

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
let browser: Browser;
let clientFile: string;
let env: Record<string, string>;
let hook: Server;
const events: { type: string; subject: string }[] = [];

before(async () => {
  const hookPort = await freePort();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      events.push(JSON.parse(body) as { type: string; subject: string });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(hookPort, '127.0.0.1', r));
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 300, sizes: { [SECOND]: 1500 } })]);
  // No credentials file: every mailbox is read with the credentials `login` stores for it.
  const config = testConfig(temporal, emu, {
    GMAIL_QUOTA_PROFILE: 'legacy',
    WEBHOOK_URLS: `http://127.0.0.1:${hookPort}/events`,
    WEBHOOK_SECRET: SECRET,
    // The refused refresh is the point of one test: the SDK's warnings about it are expected.
    LOG_LEVEL: 'error',
  });
  p = await startPipeline(config, undefined);
  clientFile = join(temporal.dir, 'client_secret.json');
  writeFileSync(clientFile, JSON.stringify(emu.clientFile()));
  env = {
    GMAIL_LAKE_HOME: join(temporal.dir, 'home'),
    GOOGLE_API_URL: emu.url,
    GMAIL_LAKE_API_URL: p.url,
    GMAIL_LAKE_API_KEY: TEST_API_KEY,
    TEMPORAL_ADDRESS: temporal.address,
  };
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
});
after(async () => {
  await browser?.close();
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close(), new Promise((r) => hook?.close(r))]);
});

const progress = (id: string) => api<ExtractionProgress>(p, 'GET', `/extract/${encodeURIComponent(id)}`).then((r) => r.body);
const until = (id: string, what: string, pred: (s: ExtractionProgress) => boolean) =>
  waitFor(what, async () => {
    const s = await progress(id);
    return pred(s) ? s : undefined;
  });

/** `login` with the redirected address pasted back (no browser on this machine: the SSH case). */
async function loginByPaste(account: string) {
  const cli = startCli(['login', account, '--client-file', clientFile, '--no-browser'], env);
  const redirected = await consent(await signInUrl(cli), account, 'allow');
  cli.child.stdin?.write(`${redirected}\n`);
  return cli.done;
}

test('Chromium signs in on the consent page: the token file is 0600 and an extraction with it is exact', async () => {
  const cli = startCli(['login', OWNER, '--client-file', clientFile, '--no-browser'], env);
  const page = await browser.newPage();
  try {
    await page.goto(await signInUrl(cli));
    assert.equal(await page.inputValue('input[name=account]'), OWNER, 'the consent page offers the asked-for account (login_hint)');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('Signed in.').waitFor();
  } finally {
    await page.close();
  }
  const r = await cli.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Signed in as user@example\.com/);
  const file = join(env.GMAIL_LAKE_HOME!, 'credentials', `${OWNER}.json`);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
  assert.equal(statSync(join(env.GMAIL_LAKE_HOME!, 'credentials')).mode & 0o777, 0o700);

  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: OWNER });
  assert.equal(started.status, 202);
  const done = await until(started.body.id, 'completion', (s) => s.status !== 'running');
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const truth = listable(await manifest(emu, OWNER));
  const lake = await lakeRows(p.lake, OWNER);
  assert.equal(lake.rows, truth.length);
  assert.deepEqual([...lake.ids].sort(), truth.map((e) => e.id).sort());
});

describe("Google's refusals, as Google words them", () => {
  const CLIENT = { client_id: 'emulator-client-id', client_secret: 'emulator-client-secret' };
  const REDIRECT = 'http://127.0.0.1:9/callback';
  const pkce = () => {
    const verifier = randomBytes(48).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const authUrl = (params: Record<string, string>) =>
    `${emu.url}o/oauth2/v2/auth?${new URLSearchParams({
      client_id: CLIENT.client_id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'https://www.googleapis.com/auth/gmail.readonly',
      access_type: 'offline',
      prompt: 'consent',
      state: 'st',
      ...params,
    })}`;
  const codeFor = async (challenge: string) =>
    new URL(await consent(authUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), OWNER, 'allow')).searchParams.get('code')!;
  const token = async (form: Record<string, string>) => {
    const res = await fetch(emu.tokenUrl, { method: 'POST', body: new URLSearchParams({ ...CLIENT, ...form }) });
    return { status: res.status, body: (await res.json()) as { error?: string; error_description?: string; refresh_token?: string } };
  };
  const exchange = (code: string, verifier: string, redirect = REDIRECT) =>
    token({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirect });

  test('a wrong PKCE verifier and a reused code are invalid_grant; a reused code revokes what it minted', async () => {
    const a = pkce();
    const wrong = await exchange(await codeFor(a.challenge), pkce().verifier);
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });

    const b = pkce();
    const code = await codeFor(b.challenge);
    const first = await exchange(code, b.verifier);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.refresh_token, 'offline access with consent: a refresh token');
    const again = await exchange(code, b.verifier);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    assert.equal(refreshed.body.error, 'invalid_grant', 'the refresh token minted with a replayed code is revoked');

    const c = pkce();
    const mismatch = await exchange(await codeFor(c.challenge), c.verifier, 'http://127.0.0.1:10/callback');
    assert.equal(mismatch.body.error, 'redirect_uri_mismatch', 'the redirect URI must be exactly the authorization request’s');
  });

  test('redirects, clients and consent: loopback only for Desktop clients, no OOB, access_denied, revocation', async () => {
    const page = async (url: string) => {
      const res = await fetch(url);
      return { status: res.status, text: await res.text() };
    };
    const { challenge } = pkce();
    assert.match(
      (await page(authUrl({ code_challenge: challenge, redirect_uri: 'https://evil.example.com/cb' }))).text,
      /redirect_uri_mismatch/,
    );
    assert.equal((await page(authUrl({ redirect_uri: 'urn:ietf:wg:oauth:2.0:oob' }))).status, 400);
    assert.equal((await page(authUrl({ client_id: 'nobody' }))).status, 401);
    const denied = new URL(await consent(authUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), OWNER, 'deny'));
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st');

    const v = pkce();
    const issued = await exchange(await codeFor(v.challenge), v.verifier);
    const revoke = (t: string) => fetch(`${emu.url}revoke?token=${encodeURIComponent(t)}`, { method: 'POST' });
    assert.equal((await revoke(issued.body.refresh_token!)).status, 200);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token! })).body.error, 'invalid_grant');
    assert.equal((await revoke(issued.body.refresh_token!)).status, 400, 'a token revoked already is invalid_token');
  });
});

test('login refuses a web client file, another account than the one asked for, and a denied consent — storing nothing', async () => {
  const webFile = join(temporal.dir, 'web_client.json');
  writeFileSync(webFile, JSON.stringify(emu.clientFile('web')));
  const web = await startCli(['login', '--client-file', webFile, '--no-browser'], env).done;
  assert.equal(web.code, 2);
  assert.match(web.stderr, /web application's client.*Desktop app/);

  const other = startCli(['login', SECOND, '--client-file', clientFile, '--no-browser'], env);
  other.child.stdin?.write(`${await consent(await signInUrl(other), 'third@example.com', 'allow')}\n`);
  const mismatch = await other.done;
  assert.equal(mismatch.code, 4, mismatch.stderr);
  assert.match(mismatch.stderr, /signed in as third@example\.com, not second@example\.com: nothing was stored/);

  const denying = startCli(['login', SECOND, '--client-file', clientFile, '--no-browser'], env);
  denying.child.stdin?.write(`${await consent(await signInUrl(denying), SECOND, 'deny')}\n`);
  const denied = await denying.done;
  assert.equal(denied.code, 4);
  assert.match(denied.stderr, /consent denied/);
  const { body } = await cliJson<{ accounts: { account: string }[] }>(['accounts'], env);
  assert.deepEqual(
    body.accounts.map((a) => a.account),
    [OWNER],
  );
});

test('a refresh token expiring mid-backfill fails the extraction with what to do; after login it resumes with nothing refetched', async () => {
  const first = await loginByPaste(SECOND);
  assert.equal(first.code, 0, first.stderr);
  await control(emu, 'PATCH', 'settings', { quota: 'legacy' });
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: SECOND, includeSpamTrash: true });
  await until(started.body.id, '200 messages stored', (s) => s.progress.persisted >= 200);
  // The app is in Testing status: its refresh tokens end; the next access-token refresh is refused.
  await control(emu, 'PATCH', 'settings', { refreshTokenTtl: 1 });
  await control(emu, 'POST', 'tokens/expire');
  const failed = await until(started.body.id, 'the failure', (s) => s.status !== 'running');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'the refresh token for second@example.com expired or was revoked — run `gmail-lake login second@example.com`');
  await waitFor('the auth_expired event', async () =>
    events.find((e) => e.type === 'dev.gmail-lake.extraction.auth_expired' && e.subject === started.body.id),
  );
  const metrics = await (await fetch(`${p.url}/metrics`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })).text();
  assert.match(metrics, /gmail_lake_auth_refused_total\{reason="expired"\} [1-9]/);
  const accounts = await cliJson<{ accounts: { account: string; state: string }[] }>(['accounts'], env);
  assert.equal(accounts.body.accounts.find((a) => a.account === SECOND)?.state, 'expired or revoked');
  const doctor = await cliJson<{ checks: { name: string; ok: boolean; fix?: string }[] }>(['doctor'], env);
  assert.equal(doctor.code, 1);
  const check = doctor.body.checks.find((c) => c.name === `account ${SECOND}`);
  assert.equal(check?.ok, false);
  assert.match(check?.fix ?? '', /gmail-lake login second@example\.com/);

  // Signed in again (the app published or the token renewed): the next extract resumes from the lake's checkpoint.
  await control(emu, 'PATCH', 'settings', { refreshTokenTtl: null });
  const committed = (await lakeRows(p.lake, SECOND)).rows;
  assert.ok(committed >= 200);
  const again = await loginByPaste(SECOND);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Signed in again as second@example\.com/);
  await control(emu, 'POST', 'stats/reset');
  const resumed = await api<{ id: string }>(p, 'POST', '/extract', { account: SECOND, includeSpamTrash: true });
  const done = await until(resumed.body.id, 'completion after login', (s) => s.status !== 'running');
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const truth = await manifest(emu, SECOND);
  // Each message left is fetched once: by a get of its own or inside a thread (one threads.get for 3 or more).
  assert.equal(done.progress.fetched, truth.length - committed, 'no message fetched twice');
  const stats = await emulatorStats(emu);
  const requests = (stats['messages.get']?.served ?? 0) + 3 * (stats['threads.get']?.served ?? 0);
  assert.ok(requests <= truth.length - committed, `${requests} message fetches for ${truth.length - committed} messages`);
  const lake = await lakeRows(p.lake, SECOND);
  assert.equal(lake.rows, truth.length);
  assert.equal(lake.distinct, lake.rows);
});

test('a scheduled sync refused for an expired token keeps the schedule and its place; after login the next run catches up, nothing refetched', async () => {
  const mailbox = () =>
    api<{
      lastSync: { status: string; reason: string | null; trigger: string | null; startedAt: string; changes: { added: number } } | null;
      schedule: { paused: boolean; nextRunAt: string | null } | null;
    }>(p, 'GET', `/mailboxes/${SECOND}`).then((r) => r.body);
  const syncAfter = (since: number, what: string, status: string) =>
    waitFor(what, async () => {
      const m = await mailbox();
      const s = m.lastSync;
      return s && s.trigger === 'schedule' && Date.parse(s.startedAt) > since && s.status === status ? m : undefined;
    });
  assert.equal((await api(p, 'PUT', `/mailboxes/${SECOND}/schedule`, { every: '2s' })).status, 201);
  try {
    await syncAfter(Date.now(), 'a scheduled sync', 'completed');
    await control(emu, 'POST', `users/${SECOND}/messages`, { count: 5 });
    const expiredAt = Date.now();
    await control(emu, 'PATCH', 'settings', { refreshTokenTtl: 1 });
    await control(emu, 'POST', 'tokens/expire');
    const refused = await syncAfter(expiredAt, 'a scheduled sync refused', 'failed');
    assert.equal(
      refused.lastSync!.reason,
      'the refresh token for second@example.com expired or was revoked — run `gmail-lake login second@example.com`',
    );
    assert.equal(refused.schedule?.paused, false, 'the schedule keeps running');
    assert.ok(refused.schedule?.nextRunAt, 'with its next run');

    await control(emu, 'PATCH', 'settings', { refreshTokenTtl: null });
    await control(emu, 'POST', 'stats/reset');
    const loggedIn = Date.now();
    assert.equal((await loginByPaste(SECOND)).code, 0);
    await syncAfter(loggedIn, 'a scheduled sync after login', 'completed');
    const truth = await manifest(emu, SECOND);
    await waitFor('the 5 messages added meanwhile in the lake', async () => (await lakeRows(p.lake, SECOND)).rows === truth.length);
    assert.equal((await emulatorStats(emu))['messages.get']?.served, 5, 'only they are fetched: the mirror went on from where it was');
  } finally {
    await api(p, 'DELETE', `/mailboxes/${SECOND}/schedule`);
  }
});
