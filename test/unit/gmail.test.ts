import { LocalReservations, ProjectQuota, ProjectQuotaError } from '../../src/gmail/project-quota.js';
import { parseLibpqDsn } from '../../src/postgres.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuotaBudget } from '../../src/gmail/budget.js';
import { classifyGmailError, isFailedPrecondition } from '../../src/gmail/errors.js';
import { withRetry } from '../../src/gmail/retry.js';

const httpError = (status: number, reason?: string, error?: string) =>
  Object.assign(new Error(`HTTP ${status}`), {
    response: { status, data: error ? { error } : { error: { code: status, errors: reason ? [{ reason }] : [] } } },
  });

test('errors are classified once: rate limits and 5xx transient, auth and bad requests permanent', () => {
  assert.equal(classifyGmailError(httpError(429)), 'transient');
  assert.equal(classifyGmailError(httpError(403, 'userRateLimitExceeded')), 'transient');
  assert.equal(classifyGmailError(httpError(403, 'rateLimitExceeded')), 'transient');
  assert.equal(classifyGmailError(httpError(403, 'forbidden')), 'permission');
  assert.equal(classifyGmailError(httpError(500, 'backendError')), 'transient');
  assert.equal(classifyGmailError(httpError(503)), 'transient');
  assert.equal(classifyGmailError(httpError(401)), 'auth');
  assert.equal(classifyGmailError(httpError(400, undefined, 'invalid_grant')), 'auth');
  assert.equal(classifyGmailError(httpError(400, 'invalidArgument')), 'invalidRequest');
  assert.equal(classifyGmailError(httpError(404)), 'notFound');
  assert.equal(classifyGmailError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'transient');
});

test('withRetry retries transient errors only, up to the attempt limit', async () => {
  let calls = 0;
  const ok = await withRetry(async () => (++calls < 3 ? Promise.reject(httpError(503)) : 'done'), { attempts: 5, baseDelayMs: 1 });
  assert.equal(ok, 'done');
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(withRetry(async () => (calls++, Promise.reject(httpError(401))), { attempts: 5, baseDelayMs: 1 }));
  assert.equal(calls, 1, 'permanent errors are not retried');
  calls = 0;
  await assert.rejects(withRetry(async () => (calls++, Promise.reject(httpError(429))), { attempts: 4, baseDelayMs: 1 }));
  assert.equal(calls, 4);
});

test('400 failedPrecondition: permanent as a class, retried only where a caller says so (messages.get)', async () => {
  const precondition = httpError(400, 'failedPrecondition');
  assert.equal(classifyGmailError(precondition), 'invalidRequest');
  assert.equal(isFailedPrecondition(precondition), true);
  assert.equal(isFailedPrecondition(httpError(400, 'invalidArgument')), false);
  let calls = 0;
  await assert.rejects(withRetry(async () => (calls++, Promise.reject(precondition)), { attempts: 4, baseDelayMs: 1 }));
  assert.equal(calls, 1, 'not retried by default');
  calls = 0;
  const retryable = (e: unknown) => classifyGmailError(e) === 'transient' || isFailedPrecondition(e);
  const ok = await withRetry(async () => (++calls < 3 ? Promise.reject(precondition) : 'got'), { attempts: 4, baseDelayMs: 1, retryable });
  assert.deepEqual([ok, calls], ['got', 3]);
});

test('quota budget spends at share × the profile rate and never more than one window allows', async () => {
  // legacy × 0.9 = 225 units/s; capacity (1 − 0.9) × 250 = 25 units = 5 gets, then one 5-unit get every 22 ms.
  const budget = new QuotaBudget('legacy', 0.9);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await budget.take('u', 'get');
  const waited = performance.now() - t0;
  assert.ok(waited >= 100, `5 gets past the burst must wait ≥ 5 × 22 ms, waited ${waited.toFixed(0)} ms`);
  assert.equal(budget.cost('history'), 2);
  const off = new QuotaBudget('off', 1);
  const t1 = performance.now();
  for (let i = 0; i < 1000; i++) await off.take('u', 'get');
  assert.ok(performance.now() - t1 < 100);
});

test('a mailbox never spends more than its window allows, however the project quota releases its requests', async () => {
  // The project's bookings come back late now and then (another worker booked first, the store was slow): every
  // request queued behind such a booking is released at once. The per-user bucket comes after, so requests still
  // leave at its pace: no 1-second window holds more than Gmail's 250 units.
  let bookings = 0;
  const project = new ProjectQuota({ reserve: async () => (++bookings % 3 === 0 ? 600 : 0), close: async () => undefined }, 50);
  const budget = new QuotaBudget('legacy', 0.97, undefined, project);
  const sent: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next++ < 110) {
        await budget.take('u', 'get');
        sent.push(performance.now());
      }
    }),
  );
  sent.sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < sent.length; i++) {
    while (sent[i]! - sent[j]! >= 1000) j++;
    worst = Math.max(worst, (i - j + 1) * 5);
  }
  // Five gets of slack for timers firing late on a loaded machine; the other order spends 300 here.
  assert.ok(worst <= 275, `a 1-second window spent ${worst} units (Gmail allows 250)`);
});

test('project quota: a chunk booked late releases its requests at the booked rate, not all at once', async () => {
  // 300 units/s (a get every 16.7 ms), chunks of ten gets; the second booking comes back 300 ms late. Unpaced, twenty
  // requests would leave together when it does.
  let bookings = 0;
  const quota = new ProjectQuota({ reserve: async () => (++bookings === 2 ? 300 : 0), close: async () => undefined }, 50, 0.3);
  const sent: number[] = [];
  await Promise.all(Array.from({ length: 30 }, () => quota.take(5).then(() => sent.push(performance.now()))));
  sent.sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < sent.length; i++) {
    while (sent[i]! - sent[j]! >= 100) j++;
    worst = Math.max(worst, i - j + 1);
  }
  assert.ok(worst <= 9, `${worst} requests left within 100 ms (the rate allows 6)`);
  assert.ok(sent.at(-1)! - sent[0]! >= 450, 'thirty gets at 60/s take half a second, the late booking included');
});

test('project quota: books in chunks, never less than it spends, and waits as the store says', async () => {
  const booked: number[] = [];
  const quota = new ProjectQuota(
    {
      reserve: async (units) => (booked.push(units), 0),
      close: async () => undefined,
    },
    50,
  );
  await Promise.all(Array.from({ length: 23 }, () => quota.take(5)));
  assert.deepEqual(booked, [50, 50, 50], '115 units spent in three bookings of 50');
  await quota.take(0);
  assert.equal(booked.length, 3, 'free calls book nothing');

  const local = new LocalReservations(1); // 1 unit per ms
  assert.equal(await local.reserve(100), 0);
  const wait = await local.reserve(100);
  assert.ok(wait > 90 && wait <= 100, `the second booking waits for the first one's 100 ms (${wait})`);
});

test('libpq DSNs become node-postgres options (quoted values, passwords with spaces)', () => {
  assert.deepEqual(parseLibpqDsn("host=db port=5433 dbname=lake user=lake password='p w\\'d'"), {
    host: 'db',
    port: 5433,
    database: 'lake',
    user: 'lake',
    password: "p w'd",
  });
});

test('project quota: a store that cannot book fails the call as ProjectQuotaError, and the next call books again', async () => {
  let calls = 0;
  const quota = new ProjectQuota(
    {
      reserve: async () => {
        if (++calls === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return 0;
      },
      close: async () => undefined,
    },
    50,
  );
  await assert.rejects(quota.take(5), (e: Error) => e instanceof ProjectQuotaError && /ECONNREFUSED/.test(e.message));
  await quota.take(5);
  assert.equal(calls, 2);
});
