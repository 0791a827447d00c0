import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { MailboxService } from '../../src/api/mailboxes.js';
import { googleEndpoints } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { type RunningEmulator, startEmulator } from '../../src/emulator/server.js';

/**
 * POST /push/gmail as Pub/Sub calls it: tokens signed by the emulator playing Google (its keys at /oauth2/v1/certs,
 * fetched by google-auth-library's verifyIdToken), checked for signature, issuer, expiry, audience and service account.
 */
const AUDIENCE = 'https://lake.example.com/push/gmail';
const ACCOUNT = 'gmail-push@lake-project.iam.gserviceaccount.com';
let emu: RunningEmulator;
before(async () => {
  emu = await startEmulator({ messages: 5 });
});
after(() => emu.close());

function setup(push = true, certsUrl = googleEndpoints(emu.url).certsUrl) {
  const calls: [string, string][] = [];
  const mailboxes = {
    async pushed(account: string, historyId: string) {
      calls.push([account, historyId]);
      return { status: 'syncing' as const, account, id: `gmail-sync-${account}`, runId: 'r1' };
    },
  } as unknown as MailboxService;
  const app = createApp({
    auth: { keys: [], ratePerMinute: 0 },
    extractions: {} as never,
    mailboxes,
    push: push ? { audience: AUDIENCE, serviceAccount: ACCOUNT, certsUrl } : undefined,
    readiness: {},
    logger: createLogger('silent'),
  });
  const post = async (token: string | undefined, body: unknown) => {
    const res = await app.request('/push/gmail', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as { status?: string; error?: { code: string; message: string } } };
  };
  return { post, calls };
}

const data = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
const push = (n: unknown) => ({
  message: { data: data(n), messageId: '1', publishTime: new Date().toISOString() },
  subscription: 'projects/lake-project/subscriptions/gmail-push',
});
const good = () => emu.pubsub.token({ audience: AUDIENCE, serviceAccountEmail: ACCOUNT });

test('a push signed by Google for the audience and service account starts the sync of its mailbox', async () => {
  const { post, calls } = setup();
  const r = await post(good(), push({ emailAddress: 'User@Example.com', historyId: 1234567 }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'syncing');
  assert.deepEqual(calls, [['user@example.com', '1234567']]);
});

test('a push without a valid token is refused, saying why and never echoing the token', async () => {
  const { post, calls } = setup();
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const cases: [string | undefined, number, RegExp][] = [
    [undefined, 401, /Bearer token/],
    ['not-a-jwt', 401, /not a well-formed/],
    [emu.pubsub.token({ audience: 'https://elsewhere.example.com/', serviceAccountEmail: ACCOUNT }), 401, /audience/],
    [emu.pubsub.token({ audience: AUDIENCE, serviceAccountEmail: ACCOUNT }, { key: other }), 401, /signature/],
    [
      emu.pubsub.token({ audience: AUDIENCE, serviceAccountEmail: ACCOUNT }, { key: other, kid: 'f'.repeat(40) }),
      401,
      /key Google does not publish/,
    ],
    [emu.pubsub.token({ audience: AUDIENCE, serviceAccountEmail: ACCOUNT }, { issuedAt: Date.now() - 3 * 3600_000 }), 401, /expired/],
    [
      emu.pubsub.token({ audience: AUDIENCE, serviceAccountEmail: 'intruder@other.iam.gserviceaccount.com' }),
      403,
      /GMAIL_PUSH_SERVICE_ACCOUNT/,
    ],
  ];
  for (const [token, status, message] of cases) {
    const r = await post(token, push({ emailAddress: 'user@example.com', historyId: '1' }));
    assert.equal(r.status, status, `${token?.slice(0, 20)}: ${r.text}`);
    assert.match(r.body.error?.message ?? '', message);
    if (token && token.length > 20) assert.ok(!r.text.includes(token.split('.')[2]!), 'the token is not echoed');
  }
  assert.deepEqual(calls, []);
});

test('a push whose message is not a Gmail notification is a 400; push unconfigured is a 404', async () => {
  const { post, calls } = setup();
  for (const body of [
    {},
    { message: { data: 'not base64 json' } },
    push({ emailAddress: 'not an address', historyId: '5' }),
    push({ emailAddress: 'user@example.com', historyId: '12abc' }),
  ]) {
    const r = await post(good(), body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error?.code, 'INVALID_REQUEST');
  }
  assert.deepEqual(calls, []);
  const off = await setup(false).post(good(), push({ emailAddress: 'user@example.com', historyId: '5' }));
  assert.equal(off.status, 404);
  assert.match(off.body.error?.message ?? '', /GMAIL_PUSH_AUDIENCE/);
});

test("Google's keys out of reach: 503, so that Pub/Sub delivers the push again", async () => {
  const { post, calls } = setup(true, 'http://127.0.0.1:9/oauth2/v1/certs');
  const r = await post(good(), push({ emailAddress: 'user@example.com', historyId: '7' }));
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.error?.code, 'UNAVAILABLE');
  assert.deepEqual(calls, []);
});
