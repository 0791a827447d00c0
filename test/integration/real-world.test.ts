import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { messageIdFor } from '../../src/emulator/generate.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { Lake } from '../../src/lake/lake.js';
import { control, emulatorStats } from '../helpers/emulator.js';
import { api, extractionEnded } from '../helpers/http.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest, rawMismatches } from '../helpers/verify.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

/**
 * The real-world failures of one mailbox at once, in separate processes: 5,000 messages in `raw`, Gmail's intermittent
 * `400 Precondition check failed` on 1 % of gets, three poison messages (500 in any format, 400 in raw only, 400 in any),
 * one ~30 MB message, and the worker killed (-9) once mid-run and replaced. The extraction completes; the lake holds
 * the mailbox but the three, byte for byte; failed_messages exactly the three with Gmail's reasons; stored + failed +
 * skipped = listed. Healed, POST /mailboxes/{account}/retry-failed stores them and empties the quarantine.
 */
const ACCOUNT = 'user@example.com';
const SIZE = 5000;
let temporal: TestTemporal;
let emu: RunningEmulator;
before(async () => {
  temporal = await startTestTemporal();
  // Message 0 (the oldest, listed last) carries a 30 MB attachment.
  emu = await startTestEmulator({
    messages: SIZE,
    large: { every: SIZE, minBytes: 30_000_000, maxBytes: 30_000_000 },
    settings: { faults: { precondition400: 0.01 } },
  });
});
after(async () => {
  await emu?.close();
  await temporal?.stop();
});

test('5,000 messages, 1 % intermittent 400s, 3 poison ids in two formats, one 30 MB message, kill -9 once: completes exact; retry-failed stores the three', async (t) => {
  const truth = listable(await manifest(emu, ACCOUNT));
  const large = messageIdFor(`test:${ACCOUNT}`, 0);
  assert.ok(
    truth.some((e) => e.id === large),
    'the large message is listable',
  );
  const [a, b, c] = [truth[100]!.id, truth[2600]!.id, truth[4100]!.id].sort();
  await control(emu, 'PATCH', 'settings', {
    poison: [
      { id: a, status: 500 },
      { id: b, status: 400, format: 'raw' },
      { id: c, status: 400 },
    ],
  });
  const env = workerEnv(temporal.dir, temporal.address, 'real-world', emu, {
    GMAIL_QUARANTINE_AFTER: '3',
    GMAIL_REQUEST_ATTEMPTS: '4',
    GMAIL_MESSAGE_MEMORY_MB: '64',
    LAKE_MEMORY_LIMIT: '1GB',
  });
  const apiPort = await freePort();
  const apiProcess = await startWorkerProcess({ ...env, API_PORT: String(apiPort) }, { entry: 'src/api/main.ts', ready: 'api ready' });
  let worker: WorkerProcess = await startWorkerProcess(env);
  t.after(async () => {
    await Promise.all([apiProcess.stop(), worker.stop()]);
  });
  const server = { url: `http://127.0.0.1:${apiPort}` };
  const started = await api<{ id: string }>(server, 'POST', '/extract', { account: ACCOUNT, format: 'raw', batchSize: 200 });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const { id } = started.body;
  const persisted = async () =>
    (await api<ExtractionProgress>(server, 'GET', `/extract/${encodeURIComponent(id)}`)).body.progress?.persisted;
  await waitFor('40% persisted', async () => (await persisted()) >= 0.4 * SIZE, 300_000, 200);
  await worker.kill9();
  worker = await startWorkerProcess(env);

  const done = await extractionEnded(server, id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const c1 = done.progress;
  assert.equal(c1.failed, 3, JSON.stringify(c1));
  assert.equal(c1.listed, truth.length);
  assert.equal(c1.persisted + c1.failed + c1.skipped, c1.listed, 'stored + failed + skipped = listed');
  assert.ok(((await emulatorStats(emu))['messages.get']?.faults ?? 0) > 0, 'intermittent 400s were served, and retried past');

  // The lake as another process reads it (the default SQLite catalog, beside the worker's).
  const lake = await Lake.open(loadConfig(env).lake);
  try {
    const rows = await lakeRows(lake, ACCOUNT);
    assert.equal(rows.distinct, rows.rows, 'no duplicates');
    const stored = truth.filter((e) => ![a, b, c].includes(e.id));
    assert.deepEqual([...rows.ids].sort(), stored.map((e) => e.id).sort(), 'the lake holds every message but the three refused');
    assert.deepEqual(await rawMismatches(lake, ACCOUNT, stored), [], 'raw bytes exact, the 30 MB message included');
    const quarantine = () =>
      lake.query<{ id: string; format: string; status: number; reason: string }>(
        `SELECT id, format, status, reason FROM lake.failed_messages WHERE account = $account ORDER BY id`,
        { account: ACCOUNT },
      );
    assert.deepEqual(
      (await quarantine()).map((r) => [r.id, r.format, r.status, r.reason]),
      [
        [a, 'raw', 500, 'HTTP 500: Backend Error'],
        [b, 'raw', 400, 'HTTP 400: Precondition check failed.'],
        [c, 'raw', 400, 'HTTP 400: Precondition check failed.'],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );

    // Gmail heals: retry-failed fetches the three and empties the quarantine.
    await control(emu, 'PATCH', 'settings', { poison: [] });
    const again = await api<{ id: string }>(server, 'POST', `/mailboxes/${ACCOUNT}/retry-failed`);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    const healed = await extractionEnded(server, again.body.id);
    assert.equal(healed.status, 'completed', JSON.stringify(healed));
    assert.equal(healed.progress.persisted, 3);
    assert.deepEqual(await quarantine(), []);
    const all = await lakeRows(lake, ACCOUNT);
    assert.deepEqual([all.rows, all.distinct], [truth.length, truth.length]);
  } finally {
    lake.close();
  }
});
