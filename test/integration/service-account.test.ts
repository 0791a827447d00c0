import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { DIRECTORY_USER_READONLY, GMAIL_READONLY, GOOGLE_TOKEN_AUDIENCE } from '../../src/emulator/workspace.js';
import { loadCredentials } from '../../src/gmail/auth.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';

/**
 * Service accounts with domain-wide delegation, against the emulator's Workspace domain: its token endpoint checks the
 * JWT-bearer assertion as Google does, a token opens only its subject's mailbox, and the pipeline reads several
 * mailboxes with one key file, each with its own subject's tokens.
 */
const ADMIN = 'user@example.com';
const SUSPENDED = 'user003@example.com';
const UNDELEGATED = 'user004@example.com';

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
before(async () => {
  [temporal, emu] = await Promise.all([
    startTestTemporal(),
    startTestEmulator({
      messages: 150,
      workspace: { domain: 'example.com', users: 4, suspended: [SUSPENDED], undelegated: [UNDELEGATED] },
    }),
  ]);
  const keyFile = join(temporal.dir, 'service-account.json');
  writeFileSync(keyFile, JSON.stringify(await (await fetch(`${emu.url}_emulator/service-account`)).json()));
  p = await startPipeline(testConfig(temporal, emu), loadCredentials(keyFile));
});
after(async () => {
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function assertion(claims: Record<string, unknown>, key = emu.workspace!.key.private_key, kid = emu.workspace!.key.private_key_id) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64({
    iss: emu.workspace!.key.client_email,
    aud: GOOGLE_TOKEN_AUDIENCE,
    scope: GMAIL_READONLY,
    iat: now,
    exp: now + 3600,
    ...claims,
  })}`;
  return `${body}.${sign('RSA-SHA256', Buffer.from(body), key).toString('base64url')}`;
}
async function grant(claims: Record<string, unknown>, key?: string) {
  const res = await fetch(emu.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assertion(claims, key) }),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string; error_description?: string } };
}
const get = async (path: string, token: string) =>
  (await fetch(`${emu.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;

test('emulator token endpoint: the JWT-bearer grant is checked as Google does, and a token opens only its own subject', async () => {
  const ok = await grant({ sub: 'user001@example.com' });
  assert.equal(ok.status, 200);
  const token = ok.body.access_token!;
  assert.equal(await get('gmail/v1/users/user001@example.com/profile', token), 200);
  assert.equal(await get('gmail/v1/users/me/profile', token), 200);
  assert.equal(await get('gmail/v1/users/user002@example.com/profile', token), 403, "another subject's mailbox");

  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const refusals: [string, Record<string, unknown>, number, string, RegExp, string?][] = [
    ['a key that is not the account’s', { sub: 'user001@example.com' }, 400, 'invalid_grant', /Invalid JWT Signature/, other],
    ['another audience', { sub: 'user001@example.com', aud: emu.tokenUrl }, 400, 'invalid_grant', /audience/],
    [
      'a lifetime over an hour',
      { sub: 'user001@example.com', exp: Math.floor(Date.now() / 1000) + 7200 },
      400,
      'invalid_grant',
      /short-lived/,
    ],
    ['expired', { sub: 'user001@example.com', iat: 1, exp: 3601 }, 400, 'invalid_grant', /short-lived/],
    [
      'a scope outside the delegation',
      { sub: 'user001@example.com', scope: 'https://mail.google.com/' },
      401,
      'unauthorized_client',
      /not authorized/,
    ],
    ['an unknown user', { sub: 'nobody@example.com' }, 400, 'invalid_grant', /Invalid email or User ID/],
    ['a suspended user', { sub: SUSPENDED }, 400, 'invalid_grant', /Invalid email or User ID/],
    ['a user outside the delegation', { sub: UNDELEGATED }, 401, 'unauthorized_client', /unauthorized/],
  ];
  for (const [what, claims, status, error, description, key] of refusals) {
    const r = await grant(claims, key);
    assert.equal(r.status, status, what);
    assert.equal(r.body.error, error, what);
    assert.match(r.body.error_description ?? '', description, what);
  }
  // Without a subject: the service account itself, which has no mailbox.
  const own = await grant({});
  assert.equal(own.status, 200);
  assert.equal(await get('gmail/v1/users/user001@example.com/profile', own.body.access_token!), 403);
});

test('emulator directory: users.list for the domain admin, paged, with the suspended flag; refused to others', async () => {
  const admin = (await grant({ sub: ADMIN, scope: DIRECTORY_USER_READONLY })).body.access_token!;
  const users: { primaryEmail: string; suspended: boolean }[] = [];
  let pageToken = '';
  do {
    const res = await fetch(
      `${emu.url}admin/directory/v1/users?customer=my_customer&maxResults=2${pageToken ? `&pageToken=${pageToken}` : ''}`,
      {
        headers: { authorization: `Bearer ${admin}` },
      },
    );
    assert.equal(res.status, 200);
    const page = (await res.json()) as { users: typeof users; nextPageToken?: string };
    users.push(...page.users);
    pageToken = page.nextPageToken ?? '';
  } while (pageToken);
  assert.deepEqual(
    users.map((u) => [u.primaryEmail, u.suspended]),
    [
      [ADMIN, false],
      ['user001@example.com', false],
      ['user002@example.com', false],
      [SUSPENDED, true],
      [UNDELEGATED, false],
    ],
  );
  const userToken = (await grant({ sub: 'user001@example.com', scope: DIRECTORY_USER_READONLY })).body.access_token!;
  assert.equal(await get('admin/directory/v1/users?customer=my_customer', userToken), 403, 'not an admin');
  assert.equal(await get('admin/directory/v1/users?domain=other.org', admin), 403, 'not our domain');
  const gmailOnly = (await grant({ sub: ADMIN })).body.access_token!;
  assert.equal(await get('admin/directory/v1/users?customer=my_customer', gmailOnly), 403, 'no directory scope');
});

test('the pipeline with a service-account key: two mailboxes at once, each exact with its own tokens; suspended and undelegated mailboxes fail with their reasons, "me" is a 400', async () => {
  type Status = { status: string; error: string | null; progress: { persisted: number } };
  const start = async (account: string) => {
    const r = await api<{ id: string }>(p, 'POST', '/extract', { account, format: 'raw', batchSize: 25 });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.id;
  };
  const ended = (id: string) =>
    waitFor(`${id} to end`, async () => {
      const s = (await api<Status>(p, 'GET', `/extract/${encodeURIComponent(id)}`)).body;
      return ['completed', 'failed'].includes(s.status) ? s : undefined;
    });
  const accounts = ['user001@example.com', 'user002@example.com'];
  const ids = await Promise.all(accounts.map(start));
  const me = await api<{ error: { code: string; message: string } }>(p, 'POST', '/extract', { account: 'me' });
  assert.equal(me.status, 400, 'no "me" to impersonate');
  assert.match(me.body.error.message, /by its address, not "me"/);
  const [badIds, results] = await Promise.all([Promise.all([SUSPENDED, UNDELEGATED].map(start)), Promise.all(ids.map(ended))]);
  for (const [i, account] of accounts.entries()) {
    assert.equal(results[i]!.status, 'completed', `${account}: ${results[i]!.error}`);
    const truth = listable(await manifest(emu, account));
    const lake = await lakeRows(p.lake, account);
    assert.equal(lake.rows, truth.length, account);
    assert.equal(lake.distinct, lake.rows, `${account}: no duplicates`);
    assert.deepEqual([...lake.ids].sort(), truth.map((e) => e.id).sort(), `${account}: its own messages, no other mailbox's`);
  }
  const [suspended, undelegated] = await Promise.all(badIds.map(ended));
  assert.equal(suspended!.status, 'failed');
  assert.match(suspended!.error ?? '', /invalid_grant|Invalid email or User ID/);
  assert.equal(undelegated!.status, 'failed');
  assert.match(undelegated!.error ?? '', /unauthorized_client|not authorized/i);
});

test('a fleet by domain on workers without GMAIL_DIRECTORY_ADMIN fails at once with the reason, not after retries', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/fleets', { domain: 'example.com', concurrency: 2 });
  assert.equal(started.status, 202);
  const fleet = await waitFor('the fleet to fail', async () => {
    const f = (await api<{ status: string; error: string | null }>(p, 'GET', `/fleets/${encodeURIComponent(started.body.id)}`)).body;
    return f.status === 'failed' ? f : undefined;
  });
  assert.match(fleet.error ?? '', /GMAIL_DIRECTORY_ADMIN/);
});
