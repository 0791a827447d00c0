import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { ApiError } from '../../src/api/errors.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import type { MailboxService } from '../../src/api/mailboxes.js';
import { createLogger } from '../../src/log.js';

/** The /mailboxes contract with an in-memory service (integration tests use Temporal): validation, codes, bodies. */
function setup() {
  const calls: unknown[][] = [];
  let syncRunning = false;
  const mailboxes: MailboxService = {
    async sync(account, options) {
      calls.push(['sync', account, options]);
      return { id: `gmail-sync-${account}`, runId: 'r1', account, created: true };
    },
    async get(account) {
      return { account, backfill: null, syncRunning: null, lastSync: null, schedule: null, historyId: null };
    },
    async putSchedule(account, r) {
      calls.push(['put', account, r]);
      return { account, created: true, schedule: null };
    },
    async controlSchedule(account, op) {
      calls.push([op, account]);
      if (account === 'none@example.com') throw new ApiError(404, 'NOT_FOUND', `${account} has no sync schedule`);
      return { account, schedule: null };
    },
    async assertNoSync(account) {
      if (syncRunning) throw new ApiError(409, 'CONFLICT', `a sync of ${account} is running`);
    },
    async pushed(account, historyId) {
      calls.push(['pushed', account, historyId]);
      return { status: 'syncing', account, id: `gmail-sync-${account}`, runId: 'r3' };
    },
    async retryFailed(account) {
      calls.push(['retry', account]);
      if (account === 'never@example.com') throw new ApiError(404, 'NOT_FOUND', `${account} was never extracted: nothing to retry`);
      return { id: `gmail-extract-${account}`, runId: 'r2', account, created: true };
    },
  };
  const extractions = {
    async start(r: { account: string }) {
      return { id: `gmail-extract-${r.account}`, runId: 'r', created: true, account: r.account };
    },
  } as unknown as ExtractionService;
  const app = createApp({
    auth: undefined,
    extractions,
    mailboxes,
    readiness: {},
    logger: createLogger('silent'),
  });
  const req = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; details?: { path: string }[] } } };
  };
  return { req, calls, setSyncRunning: (v: boolean) => (syncRunning = v) };
}

test('POST /mailboxes/:account/sync: body optional, options validated, account validated', async () => {
  const { req, calls } = setup();
  assert.equal((await req('POST', '/mailboxes/me/sync')).status, 202);
  assert.equal((await req('POST', '/mailboxes/User@Example.com/sync', { format: 'raw', reconcile: true })).status, 202);
  assert.deepEqual(calls, [
    ['sync', 'me', {}],
    ['sync', 'user@example.com', { format: 'raw', reconcile: true }],
  ]);
  const bad = await req('POST', '/mailboxes/not%00an-address/sync');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error?.details?.[0]?.path, 'account');
  assert.equal((await req('POST', '/mailboxes/me/sync', { format: 'html' })).status, 400);
  assert.equal((await req('POST', '/mailboxes/me/sync', { unknown: 1 })).status, 400);
});

test('PUT/DELETE /mailboxes/:account/schedule and pause/resume: intervals validated, 404 without a schedule', async () => {
  const { req, calls } = setup();
  assert.equal((await req('PUT', '/mailboxes/me/schedule', { every: '15m' })).status, 201);
  for (const every of ['0m', '15 minutes', '1w', '', 15])
    assert.equal((await req('PUT', '/mailboxes/me/schedule', { every })).status, 400, `every=${JSON.stringify(every)}`);
  assert.equal((await req('PUT', '/mailboxes/me/schedule', {})).status, 400);
  assert.equal((await req('POST', '/mailboxes/me/schedule/pause')).status, 200);
  assert.equal((await req('POST', '/mailboxes/me/schedule/resume')).status, 200);
  assert.equal((await req('DELETE', '/mailboxes/me/schedule')).status, 200);
  const none = await req('DELETE', '/mailboxes/none@example.com/schedule');
  assert.equal(none.status, 404);
  assert.equal(none.body.error?.code, 'NOT_FOUND');
  assert.deepEqual(
    calls.map((c) => c[0]),
    ['put', 'pause', 'resume', 'delete', 'delete'],
  );
});

test('POST /extract: keepInSync validated; refused with 409 while the mailbox syncs', async () => {
  const { req, setSyncRunning } = setup();
  const bad = await req('POST', '/extract', { account: 'me', keepInSync: 'often' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error?.details?.[0]?.path, 'keepInSync');
  assert.equal((await req('POST', '/extract', { account: 'me', keepInSync: '1h' })).status, 202);
  setSyncRunning(true);
  const busy = await req('POST', '/extract', { account: 'me' });
  assert.equal(busy.status, 409);
  assert.equal(busy.body.error?.code, 'CONFLICT');
});

test('POST /mailboxes/:account/retry-failed: 202 with the extraction to follow; 404 for a mailbox never extracted; account validated', async () => {
  const { req, calls } = setup();
  const ok = await req('POST', '/mailboxes/User@Example.com/retry-failed');
  assert.equal(ok.status, 202);
  assert.deepEqual(ok.body, {
    id: 'gmail-extract-user@example.com',
    runId: 'r2',
    account: 'user@example.com',
    created: true,
    statusUrl: '/extract/gmail-extract-user%40example.com',
  });
  assert.equal((await req('POST', '/mailboxes/never@example.com/retry-failed')).status, 404);
  assert.equal((await req('POST', '/mailboxes/not%20an%20address/retry-failed')).status, 400);
  assert.deepEqual(calls, [
    ['retry', 'user@example.com'],
    ['retry', 'never@example.com'],
  ]);
});
