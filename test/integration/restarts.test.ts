import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { Lake } from '../../src/lake/lake.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { authHeaders, startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import { startWorkerProcess, workerEnv } from '../helpers/worker-process.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

/**
 * Servers restarted under running processes, as operators do: the PostgreSQL that holds the lake's catalog and the
 * project's quota bookings is restarted (`-m fast`: every connection closed) twice mid-backfill, then stopped until
 * GET /extract reports the run `stalled` with the catalog's error and the fix (EXTRACT_STALL_AFTER 3 s). No process may
 * exit — an idle pooled connection the server closes must not become an unhandled 'error' — and the run ends exact.
 */
const ACCOUNT = 'user@example.com';
const SIZE = 600;

let temporal: TestTemporal;
let postgres: TestPostgres;
let emu: RunningEmulator;
before(async () => {
  [temporal, postgres] = await Promise.all([startTestTemporal(), startPostgres()]);
  await postgres.createDatabase('lake');
  emu = await startTestEmulator({ messages: SIZE });
});
after(async () => {
  await emu?.close();
  await Promise.all([temporal?.stop(), postgres?.stop()]);
});

test('the PostgreSQL catalog restarted twice mid-backfill, then down until the run reports itself stalled: no process exits, the lake ends exact', async (t) => {
  const env = workerEnv(temporal.dir, temporal.address, 'restarts', emu, {
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: postgres.dsn('lake'),
    // The per-user and project quotas on, booked in the catalog's database: ~50 messages.get a second.
    GMAIL_QUOTA_PROFILE: 'legacy',
    EXTRACT_STALL_AFTER: '3s',
  });
  const apiPort = await freePort();
  const [api, worker] = await Promise.all([
    startWorkerProcess({ ...env, API_PORT: String(apiPort) }, { entry: 'src/api/main.ts', ready: 'api ready' }),
    startWorkerProcess(env),
  ]);
  const exits: string[] = [];
  for (const [name, p] of [
    ['api', api],
    ['worker', worker],
  ] as const)
    p.child.once('exit', (code, signal) => exits.push(`${name} exited (${code ?? signal}): ${p.output().slice(-600)}`));
  t.after(async () => {
    await Promise.all([api.stop(), worker.stop()]);
  });
  const url = `http://127.0.0.1:${apiPort}`;
  const res = await fetch(`${url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ account: ACCOUNT, format: 'raw', batchSize: 50 }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  const get = async () =>
    (await (await fetch(`${url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as ExtractionProgress;

  for (const share of [0.25, 0.6]) {
    await waitFor(`${share * 100}% persisted`, async () => (await get()).progress?.persisted >= share * SIZE, 300_000, 200);
    await postgres.restart(1_000);
    assert.deepEqual(exits, [], 'no process exited when PostgreSQL restarted');
  }
  // Down for longer: the extraction reports itself stalled, with the catalog's error and the fix, and is not failed.
  await waitFor('80% persisted', async () => (await get()).progress?.persisted >= 0.8 * SIZE, 300_000, 200);
  await postgres.halt();
  const stalled = await waitFor('stalled', async () => {
    const s = await get();
    return s.stalled?.lastError ? s : undefined;
  });
  assert.equal(stalled.status, 'running');
  assert.match(stalled.stalled!.fix, /PostgreSQL (server )?of LAKE_PG_DSN/, JSON.stringify(stalled.stalled));
  assert.ok(Date.now() - Date.parse(stalled.stalled!.since) >= 3_000);
  await postgres.start();
  assert.deepEqual(exits, [], 'no process exited while PostgreSQL was down');
  const done = await waitFor(
    'the extraction to end',
    async () => {
      const s = await get();
      return s.status !== undefined && s.status !== 'running' ? s : undefined;
    },
    300_000,
    300,
  );
  assert.deepEqual(exits, []);
  assert.equal(done.status, 'completed', JSON.stringify(done));

  const lake = await Lake.openReadOnly(loadConfig({ ...env, DATA_DIR: join(temporal.dir, 'verify') }).lake);
  try {
    const truth = listable(await manifest(emu, ACCOUNT));
    const rows = await lakeRows(lake, ACCOUNT);
    assert.equal(rows.distinct, rows.rows, 'no duplicate ids');
    assert.deepEqual([...rows.ids].sort(), truth.map((e) => e.id).sort(), 'lake == manifest');
    assert.equal(done.progress.persisted + done.progress.present, truth.length, 'every listed message stored or already present');
  } finally {
    lake.close();
  }
});
