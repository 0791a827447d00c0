import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import { createExtractionService } from '../../src/api/extractions.js';
import { loadConfig } from '../../src/config.js';
import { Lake } from '../../src/lake/lake.js';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { ExtractionProgress } from '../../src/workflows/extraction.js';
import { emulatorStats } from '../helpers/emulator.js';
import { waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import { startWorkerProcess, workerEnv } from '../helpers/worker-process.js';

let temporal: TestTemporal;
let emu: RunningEmulator;
before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 5000, settings: { faults: { latencyMs: 4 } } });
});
after(async () => {
  await emu.close();
  await temporal.stop();
});

test('kill -9 of the worker and a Temporal server restart mid-backfill: same exact lake, status answers throughout', async (t) => {
  const account = 'crash@example.com';
  const env = workerEnv(temporal.dir, temporal.address, 'recovery', emu, { GMAIL_FETCH_CONCURRENCY: '4' });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const app = createApp({
    extractions: createExtractionService(client, 'recovery', { pipelineDepth: 2, compactEvery: 20 }),
    readiness: {},
    logger: createLogger('silent'),
  });
  const get = async (id: string) => (await (await app.request(`/extract/${id}`)).json()) as ExtractionProgress;
  const until = (id: string, what: string, pred: (s: ExtractionProgress) => boolean) =>
    waitFor(
      what,
      async () => {
        const s = await get(id);
        return pred(s) ? s : undefined;
      },
      240_000,
      300,
    );

  let worker = await startWorkerProcess(env);
  // A failed assertion must not leave the worker (or the client connection) holding the test file open.
  let finished = false;
  t.after(async () => {
    if (!finished) t.diagnostic(`worker output (tail):\n${worker.output().slice(-4000)}`);
    await worker.stop();
    await connection.close().catch(() => undefined);
  });
  const res = await app.request('/extract', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ account, batchSize: 50 }),
  });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };

  await until(id, '1000 persisted', (s) => s.progress.persisted >= 1000);
  // Kill while a lake activity runs, a compaction if one is caught within 30 s (the case that once stalled for 30 min
  // because compaction did not heartbeat), else a persist: either must be retried within the heartbeat timeout.
  const handle = client.workflow.getHandle(id);
  const pendingLake = async () =>
    (await handle.describe()).raw.pendingActivities
      ?.map((a) => a.activityType?.name ?? '')
      .filter((n) => n === 'compactLake' || n === 'persistBatch') ?? [];
  const caught = await waitFor(
    'a compaction in flight',
    async () => ((await pendingLake()).includes('compactLake') ? ['compactLake'] : undefined),
    30_000,
    50,
  ).catch(() =>
    waitFor(
      'a persist in flight',
      async () => {
        const running = await pendingLake();
        return running.length ? running : undefined;
      },
      30_000,
      20,
    ),
  );
  const beforeKill = await get(id);
  await worker.kill9();
  t.diagnostic(`worker killed at ${beforeKill.progress.persisted} persisted while running: ${caught.join(', ')}`);
  const statsAtKill = await emulatorStats(emu);
  worker = await startWorkerProcess(env);
  const afterKill = await until(id, 'progress after the new worker', (s) => s.progress.persisted > beforeKill.progress.persisted + 200);
  assert.equal(afterKill.status, 'running');

  await until(id, '2500 persisted', (s) => s.progress.persisted >= 2500);
  await temporal.restart();
  const afterRestart = await waitFor('status after server restart', async () => get(id), 60_000, 500);
  assert.equal(afterRestart.id, id);
  assert.ok(['running', 'completed'].includes(afterRestart.status));

  const done = await until(id, 'completion', (s) => s.status !== 'running');
  assert.equal(done.status, 'completed', JSON.stringify(done));
  await worker.stop(); // releases the DuckDB catalog file for the checks below

  const truth = listable(await manifest(emu, account));
  const stats = await emulatorStats(emu);
  const gets = stats['messages.get']?.served ?? 0;
  t.diagnostic(
    `messages.get served ${gets} for ${truth.length} messages: ${gets - truth.length} fetched twice (crash at ${beforeKill.progress.persisted}, ${statsAtKill['messages.get']?.served} gets by then)`,
  );

  const lake = await Lake.open(loadConfig(env).lake);
  try {
    const rows = await lakeRows(lake, account);
    assert.equal(rows.rows, truth.length);
    assert.equal(rows.distinct, rows.rows, 'no duplicates after crash and restart');
    assert.deepEqual([...rows.ids].sort(), truth.map((e) => e.id).sort());
    const reruns = await lake.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM lake.extraction_batches WHERE account = $a AND inserted = 0`,
      { a: account },
    );
    t.diagnostic(`batches re-run with nothing to insert: ${reruns[0]?.n}`);
  } finally {
    lake.close();
  }
  finished = true;
});
