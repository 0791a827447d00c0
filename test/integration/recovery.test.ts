import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import { createExtractionService } from '../../src/api/extractions.js';
import { loadConfig } from '../../src/config.js';
import { Lake } from '../../src/lake/lake.js';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { emulatorStats } from '../helpers/emulator.js';
import { waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import { startWorkerProcess, startWorkerProcesses, workerEnv } from '../helpers/worker-process.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';
import { MailboxIds } from '../../src/mailbox-ids.js';

let temporal: TestTemporal;
let emu: RunningEmulator;
before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 2000, settings: { faults: { latencyMs: 4 } } });
});
after(async () => {
  await emu.close();
  await temporal.stop();
});

test('kill -9 of a worker running a batch and a Temporal server restart mid-backfill: the batch commits on the other worker within seconds, same exact lake, status answers throughout', async (t) => {
  const account = 'crash@example.com';
  const env = workerEnv(temporal.dir, temporal.address, 'recovery', emu, { GMAIL_FETCH_CONCURRENCY: '4' });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const app = createApp({
    auth: undefined,
    extractions: createExtractionService(client, 'recovery', { pipelineDepth: 2, compactEvery: 20, events: false }, new MailboxIds()),
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

  // Two workers on the default (SQLite) catalog; the one running a batch is killed.
  const workers = await startWorkerProcesses(env, 2);
  // A failed assertion must not leave the workers (or the client connection) holding the test file open.
  let finished = false;
  t.after(async () => {
    if (!finished) for (const w of workers) t.diagnostic(`worker output (tail):\n${w.output().slice(-4000)}`);
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close().catch(() => undefined);
  });
  const res = await app.request('/extract', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ account, batchSize: 50 }),
  });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };

  await until(id, '600 persisted', (s) => s.progress.persisted >= 600);
  // Kill the worker that runs a batch right now; its batch must be retried on the other worker and committed.
  const handle = client.workflow.getHandle(id);
  const pending = async () => (await handle.describe()).raw.pendingActivities ?? [];
  const [victim, batch] = await waitFor(
    'a batch in flight',
    async () => {
      for (const a of await pending()) {
        if (a.activityType?.name !== 'extractBatch') continue;
        const w = workers.findIndex((p) => a.lastWorkerIdentity?.startsWith(`${p.child.pid}@`));
        if (w >= 0) return [w, a.activityId!] as const;
      }
      return undefined;
    },
    30_000,
    20,
  );
  const beforeKill = await get(id);
  const statsAtKill = await emulatorStats(emu);
  await workers[victim]!.kill9();
  const killedAt = Date.now();
  await waitFor('the killed batch to commit elsewhere', async () => !(await pending()).some((a) => a.activityId === batch), 60_000, 100);
  const recoverySeconds = (Date.now() - killedAt) / 1000;
  t.diagnostic(
    `worker ${victim} killed at ${beforeKill.progress.persisted} persisted; its batch committed on the other worker ${recoverySeconds} s later`,
  );
  // The 5 s heartbeat timeout bounds it (plus the retry and the batch itself); it used to take 30+ s.
  assert.ok(recoverySeconds < 20, `recovery took ${recoverySeconds} s`);
  workers[victim] = await startWorkerProcess(env);
  const afterKill = await until(id, 'progress after the kill', (s) => s.progress.persisted > beforeKill.progress.persisted + 200);
  assert.equal(afterKill.status, 'running');

  await until(id, '1200 persisted', (s) => s.progress.persisted >= 1200);
  await temporal.restart();
  const afterRestart = await waitFor('status after server restart', async () => get(id), 60_000, 500);
  assert.equal(afterRestart.id, id);
  assert.ok(['running', 'completed'].includes(afterRestart.status));

  const done = await until(id, 'completion', (s) => s.status !== 'running');
  assert.equal(done.status, 'completed', JSON.stringify(done));
  await Promise.all(workers.map((w) => w.stop()));

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
    // The counts equal the lake: a batch that committed while its worker died or the server was down, re-run, reports
    // what it committed (not its rows as `present`), and its malformed rows stay counted.
    const [malformed] = await lake.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM lake.messages WHERE account = $a AND parse_error IS NOT NULL`,
      { a: account },
    );
    assert.deepEqual(
      { persisted: done.progress.persisted, present: done.progress.present, malformed: done.progress.malformed },
      { persisted: truth.length, present: 0, malformed: malformed!.n },
    );
  } finally {
    lake.close();
  }
  finished = true;
});
