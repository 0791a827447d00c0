import assert from 'node:assert/strict';
import { listValue } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import { createExtractionService } from '../../src/api/extractions.js';
import { createMailboxService, type MailboxView } from '../../src/api/mailboxes.js';
import { loadConfig } from '../../src/config.js';
import { Lake } from '../../src/lake/lake.js';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { control, emulatorStats } from '../helpers/emulator.js';
import { assertMirror, changeCounts, expectedLabelChanges, mailboxView, mutations, syncOverHttp } from '../helpers/mirror.js';
import { api, temporalCli } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startWorkerProcess, workerEnv } from '../helpers/worker-process.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { manifest } from '../helpers/verify.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';
import { MailboxIds } from '../../src/mailbox-ids.js';

const OWNER = 'user@example.com';
let temporal: TestTemporal;

before(async () => {
  temporal = await startTestTemporal();
});
after(async () => temporal.stop());

const cli = (args: string[]) => temporalCli(temporal.address, args);

const mailbox = (p: Pipeline, account = OWNER) => mailboxView(p, account);

/** Runs one sync over HTTP and waits for its end; returns the mailbox with it as its last sync. */
const syncNow = (p: Pipeline, account = OWNER, body?: unknown) => syncOverHttp(p, account, body);

async function backfill(p: Pipeline, body: Record<string, unknown>) {
  const r = await api<{ id: string }>(p, 'POST', '/extract', body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return waitFor(
    'backfill completion',
    async () => {
      const s = (await api<ExtractionProgress>(p, 'GET', `/extract/${r.body.id}`)).body;
      if (s.status === 'failed') throw new Error(`backfill failed: ${s.error}`);
      return s.status === 'completed' ? s : undefined;
    },
    300_000,
    250,
  );
}

describe('the living mirror of a 1,500-message mailbox', () => {
  let emu: RunningEmulator;
  let p: Pipeline;
  const deleted = new Set<string>();
  before(async () => {
    emu = await startTestEmulator({ messages: 1500 });
    p = await startPipeline(testConfig(temporal, emu), credentials);
  });
  after(async () => {
    await p.stop();
    await emu.close();
  });

  test('one sync applies adds, deletes (some never fetched), relabels and delete + re-add exactly, with no refetch', async (t) => {
    await backfill(p, { account: OWNER, format: 'raw', includeSpamTrash: true, batchSize: 500 });
    const handedOver = await p.lake.query<{ source: string }>(`SELECT source FROM lake.mailbox_state WHERE account = $a`, { a: OWNER });
    assert.deepEqual(handedOver, [{ source: 'backfill' }], 'the whole-mailbox backfill handed its historyId over');
    await assertMirror(p.lake, emu, OWNER, deleted);

    const before = await manifest(emu, OWNER);
    const m = mutations(emu, OWNER);
    const added = await m.add(300);
    const stored = before.map((e) => e.id);
    // 200 deletions: 150 stored messages and 50 of the new ones (never fetched).
    const gone = [...stored.slice(0, 150), ...added.slice(0, 50)];
    await m.remove(gone);
    // 300 relabels of stored messages (the 20 of them that are also new ones get fetched with their labels).
    const relabelled = [...stored.slice(200, 480), ...added.slice(100, 120)];
    const beforeRelabel = await manifest(emu, OWNER);
    await m.relabel(relabelled, ['STARRED', 'Label_3'], ['UNREAD']);
    const labelChanges = expectedLabelChanges(beforeRelabel, relabelled, ['STARRED', 'Label_3'], ['UNREAD']);
    // Delete and re-add 10 (Gmail gives the same bytes a new id).
    const readd = stored.slice(1000, 1010);
    const raws = await p.lake.query<{ id: string; raw: string }>(
      `SELECT id, to_base64(raw) AS raw FROM lake.messages WHERE account = $a AND id IN (SELECT unnest($ids::VARCHAR[]))`,
      { a: OWNER, ids: listValue(readd) },
    );
    await m.remove(readd);
    for (const r of raws) await m.addRaw(Buffer.from(r.raw, 'base64'), ['INBOX']);
    for (const id of [...gone, ...readd]) deleted.add(id);

    await control(emu, 'POST', 'stats/reset');
    const view = await syncNow(p);
    const sync = view.lastSync!;
    t.diagnostic(`sync: ${JSON.stringify({ changes: sync.changes, rows: sync.rows, units: sync.units, calls: sync.calls })}`);
    assert.equal(sync.mode, 'history');
    const stats = await emulatorStats(emu);
    const gets = stats['messages.get']?.served ?? 0;
    const newAlive = 300 - 50 + 10;
    assert.equal(gets, newAlive, 'messages.get during the sync == messages added (no refetch)');
    assert.equal(sync.fetched, newAlive);
    assert.equal(sync.calls.get, gets, 'the run counts the gets it made');
    assert.equal(sync.units.get, 5 * gets, 'units priced with the cost table');
    assert.equal(sync.units.history, 2 * (stats['history.list']?.served ?? 0));
    assert.equal(stats['messages.list']?.served ?? 0, 0, 'no listing');

    await assertMirror(p.lake, emu, OWNER, deleted);
    assert.deepEqual(await changeCounts(p.lake, OWNER), {
      added: 310,
      deleted: 210,
      labels_added: labelChanges.added,
      labels_removed: labelChanges.removed,
    });
    assert.deepEqual(sync.changes, { added: 310, deleted: 210, labelsAdded: labelChanges.added, labelsRemoved: labelChanges.removed });
    const state = await p.lake.query<{ h: string }>(`SELECT history_id::VARCHAR AS h FROM lake.mailbox_state WHERE account = $a`, {
      a: OWNER,
    });
    assert.equal(state[0]?.h, view.historyId, 'the stored historyId is the one GET /mailboxes reports');

    // A second sync with nothing new changes nothing and fetches nothing.
    await control(emu, 'POST', 'stats/reset');
    const idle = (await syncNow(p)).lastSync!;
    assert.deepEqual(idle.changes, { added: 0, deleted: 0, labelsAdded: 0, labelsRemoved: 0 });
    assert.equal((await emulatorStats(emu))['messages.get']?.served ?? 0, 0);
  });

  test('after history expiry (404) a reconciliation reaches the same exact state, at a fraction of a full refetch', async (t) => {
    const before = await manifest(emu, OWNER);
    const beforeAt = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const m = mutations(emu, OWNER);
    const added = await m.add(100);
    const gone = [...before.slice(0, 40).map((e) => e.id), ...added.slice(0, 10)];
    await m.remove(gone);
    // Added and deleted while history was lost: no listing can know them, so no row (the sync's tombstones need history).
    for (const id of gone.slice(0, 40)) deleted.add(id);
    const relabelled = before.slice(100, 200).map((e) => e.id);
    await m.relabel(relabelled, ['Label_4'], ['INBOX']);
    await control(emu, 'POST', `users/${OWNER}/history/expire`);

    await control(emu, 'POST', 'stats/reset');
    const sync = (await syncNow(p)).lastSync!;
    t.diagnostic(`reconciliation: ${JSON.stringify({ changes: sync.changes, rows: sync.rows, units: sync.units, reason: sync.reason })}`);
    assert.equal(sync.mode, 'reconcile');
    assert.match(sync.reason ?? '', /404/);
    const truth = await assertMirror(p.lake, emu, OWNER, deleted);
    assert.equal(sync.changes.added, 90);
    assert.equal(sync.changes.deleted, 40, 'the 10 never stored are not in the lake to delete');
    const stats = await emulatorStats(emu);
    assert.equal(stats['messages.get']?.served ?? 0, 90, 'only the missing messages fetched');
    const units = Object.values(sync.units).reduce((a, b) => a + b, 0);
    const refetch = 5 * truth.length;
    t.diagnostic(`reconciliation spent ${units} units; a full refetch would spend ${refetch}`);
    assert.ok(units * 5 < refetch, `${units} units is not far below a full refetch (${refetch})`);
    const rows = await p.lake.query<{ mode: string; units: string }>(
      `SELECT mode, units FROM lake.sync_runs WHERE account = $a AND status = 'completed' ORDER BY finished_at DESC LIMIT 1`,
      { a: OWNER },
    );
    assert.equal(rows[0]?.mode, 'reconcile');
    assert.deepEqual(JSON.parse(rows[0].units), sync.units, 'the run record holds the units per method');

    // The README's query of the mailbox as mirrored before these changes gives the mailbox as it was.
    const at = await p.lake.query<{ id: string; label_ids: string[] }>(
      readFileSync(join(projectRoot, 'sql/queries/mailbox_at.sql'), 'utf8'),
      {
        account: OWNER,
        at: beforeAt,
      },
    );
    assert.deepEqual(
      at.map((r) => `${r.id} ${[...r.label_ids].sort().join(',')}`).sort(),
      before.map((e) => `${e.id} ${[...e.labelIds].sort().join(',')}`).sort(),
      'sql/queries/mailbox_at.sql reproduces the earlier mailbox',
    );
    // (AT takes a literal, not a parameter; beforeAt is an ISO timestamp this test made.)
    const travelled = await p.lake.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM lake.messages AT (TIMESTAMP => TIMESTAMP '${beforeAt}') WHERE account = $a AND deleted_at IS NULL`,
      { a: OWNER },
    );
    assert.equal(travelled[0]?.n, before.length, 'DuckLake time travel sees the earlier mailbox too');

    // History works again from the reconciliation's historyId.
    await m.relabel([truth[5]!.id], ['STARRED'], []);
    const next = (await syncNow(p)).lastSync!;
    assert.equal(next.mode, 'history');
    await assertMirror(p.lake, emu, OWNER, deleted);
  });

  test('a backfill with keepInSync hands over to the mirror and creates its schedule when it completes', async () => {
    const account = 'keep@example.com';
    const done = await backfill(p, { account, format: 'metadata', includeSpamTrash: true, batchSize: 500, keepInSync: '1h' });
    // The backfill reports its units per method too: a get (5 units) per message, or a threads.get (10) per 3 or more.
    const gets = (done.units?.get ?? 0) / 5;
    const threads = (done.units?.thread ?? 0) / 10;
    assert.ok(Number.isInteger(gets) && Number.isInteger(threads), JSON.stringify(done.units));
    assert.ok(gets + 3 * threads <= done.progress.fetched && gets + threads > 0, JSON.stringify(done.units));
    assert.ok((done.units?.list ?? 0) > 0 && done.units?.profile === 1);
    // Gmail's labels were read again as it ended (labels.list; SPAM and TRASH as it began) and, unchanged since the
    // start, not written again: the snapshot is the one the start's transaction wrote with its `started` record.
    assert.equal(done.units?.labels, 4, JSON.stringify(done.units));
    const [taken] = await p.lake.query<{ labels: string; started: string }>(
      `SELECT (SELECT max(fetched_at) FROM lake.labels WHERE account = $a)::VARCHAR AS labels,
              (SELECT max(event_at) FROM lake.extraction_runs WHERE account = $a AND event = 'started')::VARCHAR AS started`,
      { a: account },
    );
    assert.ok(taken?.labels, 'a labels snapshot is stored');
    assert.equal(taken.labels, taken.started, 'unchanged labels are not written again at the end');
    const view = await mailbox(p, account);
    assert.equal(view.schedule?.every, '1h');
    assert.equal(view.schedule?.paused, false);
    assert.ok(view.schedule?.nextRunAt);
    assert.equal(view.historyId, done.historyId, "the mirror starts at the backfill's captured historyId");
    const state = await p.lake.query<{ h: string; source: string; format: string }>(
      `SELECT history_id::VARCHAR AS h, source, format FROM lake.mailbox_state WHERE account = $a`,
      { a: account },
    );
    assert.deepEqual(state, [{ h: done.historyId, source: 'backfill', format: 'metadata' }]);
    assert.equal((await api(p, 'DELETE', `/mailboxes/${account}/schedule`)).status, 200);
    // A keepInSync that is not an interval is refused before anything starts.
    const bad = await api<{ error: { details: { path: string }[] } }>(p, 'POST', '/extract', { account, keepInSync: 'often' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0]?.path, 'keepInSync');
  });

  test('labels renamed and deleted mid-backfill: the backfill ends with the new names, and the first sync takes the deleted one off every message', async () => {
    const account = 'labels@example.com';
    const started = await api<{ id: string }>(p, 'POST', '/extract', {
      account,
      format: 'metadata',
      includeSpamTrash: true,
      batchSize: 100,
    });
    assert.equal(started.status, 202);
    const path = `/extract/${encodeURIComponent(started.body.id)}`;
    const progress = async () => (await api<ExtractionProgress>(p, 'GET', path)).body;
    await waitFor('300 stored', async () => (await progress()).progress.persisted >= 300, 60_000, 50);
    assert.equal((await api(p, 'POST', `${path}/pause`)).status, 202);
    await waitFor('paused', async () => (await progress()).status === 'paused', 60_000, 100);
    // Mid-backfill, in Gmail: Label_1 renamed, Label_2 deleted (it leaves every message, each a change in history).
    assert.equal((await control(emu, 'PATCH', `users/${account}/labels/Label_1`, { name: 'Projects 2027' })).name, 'Projects 2027');
    const removed = Number((await control(emu, 'DELETE', `users/${account}/labels/Label_2`)).messages);
    assert.ok(removed > 0, 'the deleted label was on messages');
    assert.equal((await api(p, 'POST', `${path}/resume`)).status, 202);
    const done = await waitFor('completion', async () => {
      const s = await progress();
      return s.status === 'completed' ? s : undefined;
    });
    assert.equal(done.units?.labels, 4, 'labels.list and labels.get of SPAM and TRASH as the backfill began, labels.list as it ended');
    const labels = async () =>
      Object.fromEntries(
        (
          await p.lake.query<{ id: string; name: string }>(`SELECT id, name FROM lake.labels WHERE account = $a AND type = 'user'`, {
            a: account,
          })
        ).map((l) => [l.id, l.name]),
      );
    const names = await labels();
    assert.equal(names.Label_1, 'Projects 2027', 'the name as the backfill ended');
    assert.equal(names.Label_2, undefined, 'a label deleted meanwhile is not in the snapshot');
    const carrying = async () =>
      (
        await p.lake.query<{ n: number }>(
          `SELECT count(*)::INTEGER AS n FROM lake.messages WHERE account = $a AND deleted_at IS NULL AND list_contains(label_ids, 'Label_2')`,
          { a: account },
        )
      )[0]!.n;
    assert.ok((await carrying()) > 0, 'messages stored before the deletion still carry it (the backfill does not relist them)');
    await syncNow(p, account);
    assert.equal(await carrying(), 0, 'the sync applied the removals');
    const truth = new Map((await manifest(emu, account)).map((e) => [e.id, [...e.labelIds].sort().join(',')]));
    const rows = await p.lake.query<{ id: string; labels: string }>(
      `SELECT id, array_to_string(list_sort(label_ids), ',') AS labels FROM lake.messages WHERE account = $a AND deleted_at IS NULL`,
      { a: account },
    );
    assert.equal(rows.length, truth.size);
    assert.deepEqual(
      rows.filter((r) => truth.get(r.id) !== r.labels),
      [],
      "every message's labels as Gmail has them",
    );
  });

  test('a Temporal Schedule syncs repeatedly; temporal schedule toggle and the HTTP API pause it; DELETE removes it', async () => {
    const put = await api<{ schedule: { id: string; every: string } }>(p, 'PUT', `/mailboxes/${OWNER}/schedule`, { every: '2s' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.schedule.id, `gmail-sync-${OWNER}`);
    const runs = () => mailbox(p).then((m) => m.schedule?.recentRuns.length ?? 0);
    /** An absence, observed: the run count checked throughout `ms` (a paused schedule must not move it). */
    const noRunFor = async (ms: number, count: number, message: string) => {
      const until = Date.now() + ms;
      await waitFor(message, async () => {
        assert.equal(await runs(), count, message);
        return Date.now() >= until;
      });
    };
    await waitFor('two scheduled runs', async () => (await runs()) >= 2, 60_000, 250);
    const completed = await p.client.workflow.count(`WorkflowType = 'syncWorkflow' AND ExecutionStatus = 'Completed'`);
    assert.ok(completed.count >= 2);

    // Paused from the CLI: no run starts while paused.
    await cli(['schedule', 'toggle', '--schedule-id', `gmail-sync-${OWNER}`, '--pause', '--reason', 'test']);
    const paused = await mailbox(p);
    assert.equal(paused.schedule?.paused, true);
    const n = paused.schedule.recentRuns.length;
    await noRunFor(4_000, n, 'no run while paused (CLI)'); // two intervals in which a running schedule starts two

    // Resumed and paused again over HTTP.
    assert.equal((await api(p, 'POST', `/mailboxes/${OWNER}/schedule/resume`)).status, 200);
    await waitFor('a run after resume', async () => (await runs()) > n, 30_000, 250);
    const pausedHttp = await api<{ schedule: { paused: boolean } }>(p, 'POST', `/mailboxes/${OWNER}/schedule/pause`);
    assert.equal(pausedHttp.body.schedule.paused, true);
    const m2 = await runs();
    await noRunFor(4_000, m2, 'no run while paused (HTTP)');

    // Update keeps it paused; DELETE removes it.
    const upd = await api<{ schedule: { every: string; paused: boolean } }>(p, 'PUT', `/mailboxes/${OWNER}/schedule`, { every: '1h' });
    assert.equal(upd.status, 200);
    assert.deepEqual([upd.body.schedule.every, upd.body.schedule.paused], ['1h', true], 'the interval as it was written');
    assert.equal((await api(p, 'DELETE', `/mailboxes/${OWNER}/schedule`)).status, 200);
    assert.equal((await mailbox(p)).schedule, null);
    assert.equal((await api(p, 'DELETE', `/mailboxes/${OWNER}/schedule`)).status, 404);
    assert.equal((await api(p, 'PUT', `/mailboxes/${OWNER}/schedule`, { every: '15 minutes' })).status, 400);

    // A schedule someone else created with the same id is not the mailbox's: not shown, updated, paused or deleted.
    const foreign = `gmail-sync-${OWNER}`;
    await cli([
      'schedule',
      'create',
      '--schedule-id',
      foreign,
      '--interval',
      '1h',
      '--workflow-id',
      'theirs',
      '--type',
      'theirWorkflow',
      '--task-queue',
      'theirs',
    ]);
    assert.equal((await mailbox(p)).schedule, null);
    for (const [method, path, body] of [
      ['DELETE', '', undefined],
      ['POST', '/pause', undefined],
      ['PUT', '', { every: '1m' }],
    ] as const) {
      const r = await api<{ error: { code: string; message: string } }>(p, method, `/mailboxes/${OWNER}/schedule${path}`, body);
      assert.equal(r.status, 409, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /not created by gmail-lake/);
    }
    const theirs = JSON.parse(await cli(['schedule', 'describe', '--schedule-id', foreign, '-o', 'json'])) as {
      schedule: { action: { startWorkflow: { workflowType: { name: string } } } };
      info?: unknown;
    };
    assert.equal(theirs.schedule.action.startWorkflow.workflowType.name, 'theirWorkflow', 'left as it was');
    await cli(['schedule', 'delete', '--schedule-id', foreign]);
  });
});

describe('a sync across worker crashes, beside a backfill (PostgreSQL catalog)', () => {
  let emu: RunningEmulator;
  let postgres: TestPostgres;
  let connection: Connection;
  let app: ReturnType<typeof createApp>;
  const queue = 'sync-crash';
  before(async () => {
    [emu, postgres] = await Promise.all([startTestEmulator({ messages: 1500, settings: { faults: { latencyMs: 15 } } }), startPostgres()]);
    await postgres.createDatabase('mirror');
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const ids = new MailboxIds();
    const extractions = createExtractionService(client, queue, { pipelineDepth: 2, compactEvery: 0, events: false }, ids);
    app = createApp({
      auth: undefined,
      extractions,
      mailboxes: createMailboxService(client, queue, extractions, ids, async (a) => a),
      readiness: {},
      logger: createLogger('silent'),
    });
  });
  after(async () => {
    await connection.close();
    await emu.close();
    await postgres.stop();
  });
  const call = async <T>(method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const view = (account: string) => call<MailboxView>('GET', `/mailboxes/${account}`).then((r) => r.body);

  test('kill -9 of the worker mid-sync, a new worker finishes it: the same exact state, each change once; the sync and the backfill never run together', async (t) => {
    const account = 'crash-sync@example.com';
    const env = workerEnv(temporal.dir, temporal.address, queue, emu, {
      GMAIL_FETCH_CONCURRENCY: '4',
      LAKE_CATALOG: 'postgres',
      LAKE_PG_DSN: postgres.dsn('mirror'),
    });
    let worker = await startWorkerProcess(env);
    let finished = false;
    t.after(async () => {
      if (!finished) t.diagnostic(`worker output (tail):\n${worker.output().slice(-4000)}`);
      await worker.stop();
    });
    const backfillDone = async (id: string) =>
      waitFor(
        'backfill',
        async () => {
          const s = (await call<ExtractionProgress>('GET', `/extract/${id}`)).body;
          return s.status === 'completed' ? s : undefined;
        },
        300_000,
        250,
      );
    const started = await call<{ id: string }>('POST', '/extract', { account, format: 'raw', includeSpamTrash: true, batchSize: 250 });
    assert.equal(started.status, 202);
    // While it runs, a sync of that mailbox is refused, and a scheduled one defers.
    const refused = await call<{ error: { code: string; message: string } }>('POST', `/mailboxes/${account}/sync`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /backfill/);
    assert.equal((await call('PUT', `/mailboxes/${account}/schedule`, { every: '1h' })).status, 201);
    await cli(['schedule', 'trigger', '--schedule-id', `gmail-sync-${account}`]);
    const deferred = await waitFor('the scheduled sync to defer', async () => {
      const v = await view(account);
      return v.lastSync?.status === 'deferred' ? v.lastSync : undefined;
    });
    assert.match(deferred.reason ?? '', /backfill .* is running/);
    assert.equal((await call('DELETE', `/mailboxes/${account}/schedule`)).status, 200);
    await backfillDone(started.body.id);

    const m = mutations(emu, account);
    const before = await manifest(emu, account);
    const added = await m.add(1200);
    await m.remove(before.slice(0, 100).map((e) => e.id));
    await m.relabel(
      before.slice(200, 400).map((e) => e.id),
      ['Label_2'],
      [],
    );
    const expectLabels = expectedLabelChanges(
      before,
      before.slice(200, 400).map((e) => e.id),
      ['Label_2'],
      [],
    );
    const deleted = new Set(before.slice(0, 100).map((e) => e.id));

    const sync = await call<{ id: string }>('POST', `/mailboxes/${account}/sync`);
    assert.equal(sync.status, 202);
    // While the sync runs, a backfill of the mailbox is refused.
    const extractRefused = await call<{ error: { message: string } }>('POST', '/extract', {
      account,
      format: 'raw',
      includeSpamTrash: true,
    });
    assert.equal(extractRefused.status, 409);
    assert.match(extractRefused.body.error.message, /sync/);
    // Kill the worker while it fetches a history page's messages.
    const handle = new Client({ connection }).workflow.getHandle(sync.body.id);
    await waitFor(
      'a history page being fetched',
      async () => {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return (
          pending.some((a) => a.activityType?.name === 'syncHistoryPage') &&
          ((await emulatorStats(emu))['messages.get']?.served ?? 0) > 1500 + 100
        );
      },
      60_000,
      20,
    );
    await worker.kill9();
    worker = await startWorkerProcess(env);
    const done = await waitFor(
      'the sync to complete',
      async () => {
        const v = await view(account);
        return v.lastSync?.status === 'completed' && !v.syncRunning ? v.lastSync : undefined;
      },
      180_000,
      250,
    );
    t.diagnostic(`sync after kill -9: ${JSON.stringify({ changes: done.changes, rows: done.rows, pages: done.pages })}`);
    await worker.stop();

    const lake = await Lake.open(loadConfig(env).lake);
    try {
      await assertMirror(lake, emu, account, deleted);
      assert.deepEqual(
        await changeCounts(lake, account),
        { added: 1200, deleted: 100, labels_added: expectLabels.added },
        'each change recorded once',
      );
      assert.equal(added.length, 1200);
    } finally {
      lake.close();
    }
    finished = true;
  });
});
