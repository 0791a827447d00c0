/**
 * Export → import round trip: a mailbox extracted (format raw) through the pipeline, exported to a Takeout mbox by
 * `gmail-lake export`, imported into an empty account by `gmail-lake import` / POST /imports — a worker killed with
 * kill -9 mid-import, the import resumed on the other one — then every raw sha256, Gmail id, thread and label set
 * compared with the source. A second import stores nothing; a message in a plain mbox with the bytes of one the account
 * holds is not stored twice; a truncated file stores every whole message before the byte it names; a file that is not
 * an mbox fails at byte 0 with nothing stored. API, workers and CLI are processes of their own, as users run them.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { escapeMboxrd } from '../../src/export/takeout.js';
import { Lake } from '../../src/lake/lake.js';
import type { ImportProgress } from '../../src/workflows/import-contracts.js';
import { cliJson } from '../helpers/cli.js';
import { api, extractionEnded, resourceEnded } from '../helpers/http.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal } from '../helpers/stack.js';
import { manifest } from '../helpers/verify.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';

const SOURCE = 'user@example.com';
const COPY = 'restored@example.com';
const QUEUE = 'import';
let temporal: TestTemporal;
let emu: RunningEmulator;
let env: Record<string, string>;
let server: { url: string };
let apiProcess: WorkerProcess;
const workers: WorkerProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'import-test-'));
const mbox = join(dir, 'takeout.mbox');

before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 800, owner: SOURCE });
  const apiPort = await freePort();
  env = workerEnv(temporal.dir, temporal.address, QUEUE, emu, { API_PORT: String(apiPort), GMAIL_FETCH_CONCURRENCY: '8' });
  server = { url: `http://127.0.0.1:${apiPort}` };
  [apiProcess] = await Promise.all([
    startWorkerProcess(env, { entry: 'src/api/main.ts', ready: 'api ready' }),
    ...[0, 1].map(async () => workers.push(await startWorkerProcess(env))),
  ]);
});
after(async () => {
  await Promise.all([apiProcess, ...workers].map((p) => p?.stop()));
  await emu?.close();
  await temporal?.stop();
});

const cliEnv = () => ({ ...env, GMAIL_LAKE_API_URL: server.url, GMAIL_LAKE_API_KEY: TEST_API_KEY });
const importOf = async (id: string) => (await api<ImportProgress>(server, 'GET', `/imports/${encodeURIComponent(id)}`)).body;
const importEnded = (id: string) => resourceEnded<ImportProgress>(server, `/imports/${encodeURIComponent(id)}`, 300_000);

/** Each message of an account as the round trip must keep it: id → sha256, thread and label names. */
async function messagesOf(lake: Lake, account: string) {
  const names = new Map(
    (
      await lake.query<{ id: string; name: string }>(
        `SELECT id, name FROM lake.labels WHERE account = $account AND type IN ('user', 'imported')
           AND fetched_at = (SELECT max(fetched_at) FROM lake.labels WHERE account = $account)`,
        { account },
      )
    ).map((l) => [l.id, l.name]),
  );
  const rows = await lake.query<{ id: string; thread_id: string; sha: string; stored_sha: string | null; label_ids: string[] }>(
    `SELECT id, thread_id, sha256(raw) AS sha, raw_sha256 AS stored_sha, label_ids FROM lake.messages WHERE account = $account`,
    { account },
  );
  return new Map(rows.map((r) => [r.id, { ...r, labels: r.label_ids.map((l) => names.get(l) ?? l).sort() }]));
}

test('export → import under another account, a worker killed mid-import: every raw sha256, id, thread and label set equal; nothing stored twice', async (t) => {
  const started = await api<{ id: string }>(server, 'POST', '/extract', {
    account: SOURCE,
    format: 'raw',
    batchSize: 100,
    includeSpamTrash: true,
  });
  assert.equal(started.status, 202);
  const extracted = await extractionEnded(server, started.body.id);
  assert.equal(extracted.status, 'completed', JSON.stringify(extracted));

  const exported = await cliJson<{ exported: number; notExportable: unknown[] }>(['export', '--account', SOURCE, '--mbox', mbox], cliEnv());
  assert.equal(exported.code, 0, exported.stderr);
  const truth = await manifest(emu, SOURCE);
  assert.equal(exported.body.exported, truth.length);

  // Small chunks, so the kill lands mid-file with chunks committed before and after it.
  const res = await api<{ id: string }>(server, 'POST', '/imports', { account: COPY, path: mbox, chunkBytes: 256 * 1024 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.id;
  const connection = await Connection.connect({ address: temporal.address });
  t.after(() => connection.close());
  const handle = new Client({ connection }).workflow.getHandle(id);
  const victim = await waitFor(
    'a chunk in flight after the first commits',
    async () => {
      if ((await importOf(id)).inserted < 200) return undefined;
      for (const a of (await handle.describe()).raw.pendingActivities ?? []) {
        const w = workers.findIndex((p) => a.lastWorkerIdentity?.startsWith(`${p.child.pid}@`));
        if (a.activityType?.name === 'importChunk' && w >= 0) return w;
      }
      return undefined;
    },
    120_000,
    20,
  );
  const atKill = await importOf(id);
  await workers[victim]!.kill9();
  t.diagnostic(`worker ${victim} killed at byte ${atKill.offset} of ${atKill.size} (${atKill.inserted} stored)`);
  const done = await importEnded(id);
  t.diagnostic(`import of ${(done.size! / 1e6).toFixed(1)} MB in ${done.chunks} chunks: ${done.startedAt} → ${done.updatedAt}`);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.ok(atKill.offset < done.offset, 'the kill came before the end');
  assert.equal(done.offset, readFileSync(mbox).length);
  assert.equal(done.messages, truth.length);
  assert.equal(done.inserted + done.present, truth.length);
  workers[victim] = await startWorkerProcess(env);

  // Again, through the CLI as a user runs it: everything is there already.
  const again = await cliJson<ImportProgress>(['import', '--mbox', mbox, '--account', COPY], cliEnv());
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.body.status, 'completed');
  assert.equal(again.body.inserted, 0);
  assert.equal(again.body.present, truth.length);

  // The same bytes in a plain mbox (no Gmail id): already held, not stored again (by their sha256).
  const plain = join(dir, 'plain.mbox');
  const lake = await Lake.open(loadConfig(env).lake);
  try {
    // A message whose bytes end with a line break (a plain mbox cannot keep one that does not), its hash taken off as
    // if it were stored before the raw_sha256 column: the import hashes such rows first.
    const rows = await lake.query<{ id: string; raw: string }>(
      `SELECT id, to_base64(raw) AS raw FROM lake.messages WHERE account = $a LIMIT 50`,
      {
        a: COPY,
      },
    );
    const old = rows.find((r) => Buffer.from(r.raw, 'base64').at(-1) === 10)!;
    const bytes = Buffer.from(old.raw, 'base64');
    await lake.write((conn) =>
      conn.run(`UPDATE lake.messages SET raw_sha256 = NULL WHERE account = $a AND id = $id`, { a: COPY, id: old.id }),
    );
    writeFileSync(
      plain,
      Buffer.concat([Buffer.from('From someone@example.com Wed Jun  7 12:34:56 2023\n'), escapeMboxrd(bytes), Buffer.from('\n')]),
    );
  } finally {
    lake.close();
  }
  const plainRun = await cliJson<ImportProgress>(['import', '--mbox', plain, '--account', COPY], cliEnv());
  assert.equal(plainRun.body.status, 'completed', JSON.stringify(plainRun.body));
  assert.deepEqual([plainRun.body.messages, plainRun.body.inserted, plainRun.body.present], [1, 0, 1]);

  await Promise.all(workers.map((w) => w.stop()));
  t.after(async () => {
    for (let i = 0; i < workers.length; i++) workers[i] = await startWorkerProcess(env);
  });
  const check = await Lake.open(loadConfig(env).lake);
  try {
    const source = await messagesOf(check, SOURCE);
    const copy = await messagesOf(check, COPY);
    assert.equal(copy.size, source.size);
    const want = new Map(truth.map((m) => [m.id, m.sha256]));
    for (const [mid, s] of source) {
      const c = copy.get(mid);
      assert.ok(c, `${mid} imported under its Gmail id`);
      assert.equal(c.sha, want.get(mid), `${mid}: the imported bytes are Gmail's`);
      assert.equal(c.stored_sha, c.sha);
      assert.equal(c.thread_id, s.thread_id);
      assert.deepEqual(c.labels, s.labels, `${mid}: labels`);
    }
    // The same MIME reader: the same messages flagged malformed.
    const malformed = async (a: string) =>
      (
        await check.query<{ id: string }>(`SELECT id FROM lake.messages WHERE account = $a AND parse_error IS NOT NULL ORDER BY id`, { a })
      ).map((r) => r.id);
    const flagged = await malformed(COPY);
    assert.deepEqual(flagged, await malformed(SOURCE));
    t.diagnostic(`${copy.size} messages equal after the round trip; ${flagged.length} flagged malformed in both`);
  } finally {
    check.close();
  }
});

test('a truncated file: every whole message before the cut stored, the failure names its byte; not an mbox: refused at byte 0', async () => {
  const cut = join(dir, 'cut.mbox');
  copyFileSync(mbox, cut);
  // Cut 100 bytes into the 41st message (mboxrd: a line starting "From " after a blank line starts one).
  const starts = [
    ...readFileSync(mbox)
      .toString('latin1')
      .matchAll(/\n\r?\n(From )/g),
  ].map((m) => m.index + m[0].length - 5);
  const cutMessage = starts[39]!;
  truncateSync(cut, cutMessage + 100);
  const run = await cliJson<ImportProgress>(['import', '--mbox', cut, '--account', 'cut@example.com'], cliEnv());
  assert.equal(run.code, 1);
  assert.equal(run.body.status, 'failed');
  assert.equal(run.body.messages, 40);
  assert.equal(run.body.inserted, 40);
  assert.match(run.body.error!, new RegExp(`past byte ${cutMessage}: the file ends inside a message`));

  const notMbox = join(dir, 'notes.json');
  writeFileSync(notMbox, '{"not": "mail"}\n');
  appendFileSync(notMbox, 'From someone later on\n');
  const refused = await cliJson<ImportProgress>(['import', '--mbox', notMbox, '--account', 'json@example.com'], cliEnv());
  assert.equal(refused.code, 1);
  assert.equal(refused.body.inserted, 0);
  assert.match(refused.body.error!, /past byte 0: not an mbox file/);

  // The API's own checks: 400 with details, before any workflow.
  const relative = await api<{ error: { details: { path: string }[] } }>(server, 'POST', '/imports', {
    account: COPY,
    path: 'takeout.mbox',
  });
  assert.equal(relative.status, 400);
  assert.equal(relative.body.error.details[0]!.path, 'path');
  const missing = await cliJson<{ error: { message: string } }>(['import', '--mbox', join(dir, 'nope.mbox'), '--account', COPY], cliEnv());
  assert.equal(missing.code, 2);
  assert.match(missing.body.error.message, /cannot read .*nope\.mbox: ENOENT/);
});

test("a reconciliation of the mailbox with Gmail keeps what the import stored that Gmail never had, and the import's labels", async (t) => {
  const only = join(dir, 'only.mbox');
  writeFileSync(
    only,
    'From archive@old.example Wed Jun  7 12:34:56 2023\nFrom: archive@old.example\nSubject: only in the archive\n\nkept\n',
  );
  const imported = await cliJson<ImportProgress>(['import', '--mbox', only, '--account', COPY], cliEnv());
  assert.equal(imported.body.inserted, 1, JSON.stringify(imported.body));
  const started = await api<{ id: string; runId: string }>(server, 'POST', `/mailboxes/${COPY}/sync`, { reconcile: true });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const connection = await Connection.connect({ address: temporal.address });
  t.after(() => connection.close());
  await new Client({ connection }).workflow.getHandle(started.body.id, started.body.runId).result();
  const lake = await Lake.open(loadConfig(env).lake);
  try {
    const [row] = await lake.query<{ live: number; deleted: number; labels: number }>(
      `SELECT count(*) FILTER (deleted_at IS NULL)::INTEGER AS live, count(*) FILTER (deleted_at IS NOT NULL)::INTEGER AS deleted,
              (SELECT count(*)::INTEGER FROM lake.labels WHERE account = $a AND type = 'imported'
                 AND fetched_at = (SELECT max(fetched_at) FROM lake.labels WHERE account = $a)) AS labels
       FROM lake.messages WHERE account = $a AND starts_with(extraction_id, 'gmail-import-')`,
      { a: COPY },
    );
    t.diagnostic(`after the reconciliation: ${JSON.stringify(row)}`);
    assert.equal(row!.deleted, 0, 'no imported message marked deleted in Gmail');
    assert.ok(row!.live > 800);
    assert.ok(row!.labels > 0, "the import's labels are still in the snapshot");
  } finally {
    lake.close();
  }
});
