import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixFor, stallOf } from '../../src/api/stalls.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

const at = Date.parse('2026-12-05T10:00:00Z');
const progress = (over: Partial<ExtractionProgress>) =>
  ({ status: 'running', phase: 'extracting', updatedAt: new Date(at - 11 * 60_000).toISOString(), ...over }) as ExtractionProgress;
const catalogDown = {
  activityType: { name: 'extractBatch' },
  attempt: 14,
  lastFailure: { message: 'IO Error: Unable to connect to Postgres at "host=127.0.0.1 port=5432": Connection refused' },
};

test('a running extraction with no commit for the stall time is stalled, with the failing activity and the fix', () => {
  const s = stallOf(progress({}), [{ activityType: { name: 'extractBatch' }, attempt: 1 }, catalogDown], at, 10 * 60_000);
  assert.deepEqual(s, {
    since: '2026-12-05T09:49:00.000Z',
    lastError: catalogDown.lastFailure.message,
    activity: 'extractBatch',
    attempts: 14,
    fix: "the lake's catalog does not answer: check the PostgreSQL server of LAKE_PG_DSN (the run continues once it does)",
  });
});

test('not stalled: within the stall time, paused, compacting or ended', () => {
  assert.equal(stallOf(progress({ updatedAt: new Date(at - 60_000).toISOString() }), [catalogDown], at, 10 * 60_000), null);
  for (const over of [{ status: 'paused' }, { status: 'pausing' }, { phase: 'compacting' }, { status: 'completed' }] as const)
    assert.equal(stallOf(progress(over), [catalogDown], at, 10 * 60_000), null, JSON.stringify(over));
});

test('stalled with no failure reported points at the workers', () => {
  assert.match(stallOf(progress({}), [], at, 60_000)!.fix, /workers running/);
});

test("the fixes name the operator's part: disk, catalog, object store; Gmail's is retried", () => {
  assert.match(fixFor("ENOSPC: no space left on device, write '/data/staging/x'"), /disk is full/);
  assert.match(fixFor('HTTP Error: Unable to connect to URL "s3://lake/x.parquet": 403 (InvalidAccessKeyId)'), /object store/);
  assert.match(fixFor('transient Gmail error: HTTP 503: The service is currently unavailable.'), /Gmail/);
  assert.match(fixFor("cannot book the project's quota: connect ECONNREFUSED 127.0.0.1:41234"), /project quota's bookings.*LAKE_PG_DSN/);
  assert.match(fixFor('connect ECONNREFUSED 10.0.0.9:9000'), /does not answer/);
  // What CI saw with the catalog's PostgreSQL halted mid-run: libpq's words, in a DuckLake statistics query.
  const libpq =
    'Invalid Error: Failed to get global stats information from DuckLake: Failed to prepare COPY "COPY (SELECT "table_id" ' +
    'FROM "public"."ducklake_table_stats") TO STDOUT (FORMAT "binary");": server closed the connection unexpectedly';
  assert.match(fixFor(libpq), /catalog does not answer.*LAKE_PG_DSN/);
  assert.match(fixFor('FATAL: terminating connection due to administrator command'), /catalog/);
  // Seen in CI while the catalog's server was stopped: the postgres extension, with libpq's message empty.
  assert.match(fixFor('Invalid Error: Failed to execute query "ROLLBACK": '), /catalog does not answer/);
});
