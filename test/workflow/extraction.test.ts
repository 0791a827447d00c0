import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isCancellation } from '@temporalio/workflow';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
import { workflowBundle } from '../../src/worker/bundle.js';
import type { BatchInput, ExtractionInput, ExtractionProgress, ListInput } from '../../src/workflows/contracts.js';
import { FAILURE } from '../../src/workflows/contracts.js';
import { workflowEnvironment } from '../helpers/workflow-env.js';
import { waitFor } from '../helpers/ports.js';

/**
 * The extraction workflow's own logic against a real Temporal dev server with mocked activities
 * (`@temporalio/testing`): ordering of checkpoints, pause, relisting, permanent failures — in seconds, without Gmail,
 * the lake or the emulator, which the integration tier covers end to end.
 */

const environment = workflowEnvironment();

/** Every gate made, so that a drive that fails opens them all (see extract). */
const gates: (() => void)[] = [];
/** A gate a mocked activity waits on until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  gates.push(open);
  return { open, opened };
}

/**
 * Waits for `until`, heartbeating every second as the real activities do: a held batch that did not would time out
 * after its 5 s heartbeat timeout, and a test still asking for the phase it held (slowed by a loaded machine) would
 * never see it.
 */
async function heldBeating(until: Promise<void> | undefined): Promise<void> {
  if (!until) return;
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    await until;
  } finally {
    clearInterval(beat);
  }
}

/**
 * A mailbox of `pages` pages of `perPage` ids as the activities see it: listPage answers from it (less what is stored,
 * as the lake does), extractBatch stores; `hold(page)` makes that page's batch wait for a gate.
 */
function fakeMailbox(pages: number, perPage: number) {
  const ids = (p: number) => Array.from({ length: perPage }, (_, i) => `m${p}-${i}`);
  const tokenOf = (p: number) => (p === 0 ? '' : `p${p}`);
  const pageOf = (token: string) => (token === '' ? 0 : Number(token.slice(1)));
  const pageOfId = (id: string) => Number(id.slice(1).split('-')[0]);
  const stored = new Set<string>();
  const batches: BatchInput[] = [];
  const holds = new Map<number, Promise<void>>();
  const listFailures = new Map<string, Error>();
  let batchFailure: Error | undefined;
  const compactions = { started: 0, ended: 0 };
  let compactionHold: Promise<void> | undefined;
  const events: string[] = [];
  const details: string[] = [];
  /** Lifecycle events delivered (with `events` on), by type, in delivery order. */
  const published: string[] = [];
  const activities: Partial<Activities> = {
    async prepareExtraction() {
      return { historyId: '100', messagesTotal: pages * perPage, spamTrashTotal: 0 };
    },
    async listPage(input: ListInput) {
      const failure = listFailures.get(input.pageToken);
      if (failure) {
        listFailures.delete(input.pageToken);
        throw failure;
      }
      const p = pageOf(input.pageToken);
      const all = ids(p);
      const missing = all.filter((id) => !stored.has(id));
      return {
        ids: missing,
        listed: all.length,
        present: all.length - missing.length,
        nextPageToken: p + 1 < pages ? tokenOf(p + 1) : undefined,
        resultSizeEstimate: pages * perPage,
      };
    },
    async extractBatch(input: BatchInput) {
      batches.push(input);
      if (batchFailure) throw batchFailure;
      await heldBeating(holds.get(pageOfId(input.ids[0]!)));
      const fresh = input.ids.filter((id) => !stored.has(id));
      fresh.forEach((id) => stored.add(id));
      return { fetched: input.ids.length, inserted: fresh.length, present: input.ids.length - fresh.length, skipped: 0, malformed: 0 };
    },
    async recordExtractionEvent({ event, detail }: { event: string; detail?: string }) {
      events.push(event);
      details.push(`${event}: ${detail ?? ''}`);
    },
    async handOverToSync() {
      return true;
    },
    async refreshLabels() {
      return { units: { labels: 1 }, written: true };
    },
    async ensureSyncSchedule() {},
    async compactLake() {
      compactions.started++;
      await heldBeating(compactionHold);
      compactions.ended++;
      return { filesBefore: 0, filesAfter: 0 };
    },
    async webhookSubscribers() {
      return { subscribers: 1 };
    },
    async deliverEvent(event: { type: string }) {
      published.push(event.type);
      return { delivered: 1 };
    },
  };
  return {
    activities: activities as Activities,
    stored,
    batches,
    events,
    details,
    published,
    pageOf,
    pageOfId,
    compactions,
    hold: (page: number, until: Promise<void>) => holds.set(page, until),
    holdCompactions: (until: Promise<void>) => {
      compactionHold = until;
    },
    failList: (token: string, err: Error) => listFailures.set(token, err),
    failBatches: (err: Error) => (batchFailure = err),
  };
}

let runs = 0;
/** Runs an extraction of the fake mailbox on a worker of its own task queue; `drive` acts on it while it runs. */
async function extract(
  mailbox: ReturnType<typeof fakeMailbox>,
  opts: { perPage: number; pipelineDepth: number; compactEvery?: number; stallAfterMs?: number; compactor?: Worker },
  drive: (h: {
    query: () => Promise<ExtractionProgress>;
    signal: (s: 'pause' | 'resume') => Promise<void>;
    cancel: () => Promise<unknown>;
  }) => Promise<void> = async () => {},
) {
  const taskQueue = `workflow-test-${++runs}`;
  const worker = await Worker.create({
    connection: environment.current().nativeConnection,
    taskQueue,
    workflowBundle: { codePath: workflowBundle() },
    activities: mailbox.activities,
  });
  const input: ExtractionInput = {
    request: { account: 'a@example.com', format: 'raw', batchSize: opts.perPage, includeSpamTrash: true },
    options: {
      pipelineDepth: opts.pipelineDepth,
      compactEvery: opts.compactEvery ?? 0,
      events: opts.stallAfterMs !== undefined,
      stallAfterMs: opts.stallAfterMs,
      compactionQueue: opts.compactor?.options.taskQueue,
    },
    extractionKey: 'k',
  };
  const run = () =>
    worker.runUntil(async () => {
      const handle = await environment
        .current()
        .client.workflow.start('extractionWorkflow', { args: [input], taskQueue, workflowId: `${taskQueue}-wf` });
      // Each call bounded: a query the server lets expire (seen once in CI, with the machine loaded) fails and is asked
      // again by waitFor instead of hanging the test.
      const bounded = <T>(call: () => Promise<T>) => environment.current().client.withDeadline(Date.now() + 10_000, call);
      try {
        await drive({
          query: () => bounded(() => handle.query<ExtractionProgress>('progress')),
          signal: (s) => bounded(() => handle.signal(s)),
          cancel: () => bounded(() => handle.cancel()),
        });
      } catch (err) {
        // A held activity would hold the worker's shutdown (runUntil waits for it) until the file's timeout, hiding this
        // error: let every activity go, then report it.
        for (const open of gates) open();
        throw err;
      }
      return handle.result() as Promise<ExtractionProgress>;
    });
  return opts.compactor ? opts.compactor.runUntil(run) : run();
}

test('batches that end out of order commit in listing order: no checkpoint covers a batch still in flight', async () => {
  const m = fakeMailbox(6, 3);
  const first = gate();
  m.hold(0, first.opened); // page 0's batch ends only after the two behind it have
  const result = await extract(m, { perPage: 3, pipelineDepth: 3 }, async ({ query }) => {
    await waitFor('three batches in flight', async () => m.batches.length === 3, 30_000, 50);
    await waitFor('pages 1 and 2 done', async () => (await query()).progress.persisted === 6, 30_000, 50);
    assert.equal(m.batches.length, 3, 'done batches behind an uncommitted one still hold their slots');
    first.open();
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.progress.persisted, 18);
  assert.equal(m.stored.size, 18);
  for (const b of m.batches) {
    const own = m.pageOfId(b.ids[0]!);
    const covered = m.pageOf(b.checkpoint.pageToken);
    assert.ok(covered <= own, `batch of page ${own} carries a checkpoint at page ${covered}`);
    assert.equal(b.checkpoint.persisted, covered * 3, 'the checkpoint counts exactly the pages before its token');
  }
  // The batches dispatched while page 0 was in flight could not move the checkpoint past it.
  assert.deepEqual(
    m.batches.slice(0, 3).map((b) => b.checkpoint.pageToken),
    ['', '', ''],
  );
});

test('pause: pausing while a batch is in flight, paused once it ends, no batch dispatched until resume', async () => {
  const m = fakeMailbox(4, 2);
  const release = gate();
  m.hold(0, release.opened);
  let atPause = 0;
  const result = await extract(m, { perPage: 2, pipelineDepth: 1 }, async ({ query, signal }) => {
    await waitFor('the first batch in flight', async () => m.batches.length === 1, 30_000, 50);
    await signal('pause');
    assert.equal((await query()).status, 'pausing');
    release.open();
    await waitFor('paused', async () => (await query()).status === 'paused', 30_000, 50);
    atPause = m.batches.length;
    const p = await query();
    assert.equal(p.progress.persisted, 2);
    assert.equal(p.ratePerSecond, 0);
    assert.equal(m.batches.length, atPause, 'nothing dispatched while paused');
    await signal('resume');
  });
  assert.equal(atPause, 1);
  assert.equal(result.status, 'completed');
  assert.equal(result.progress.persisted, 8);
  assert.equal(m.batches.length, 4, 'each page fetched once');
});

test('an expired page token restarts the listing; ids already stored are not fetched again', async () => {
  const m = fakeMailbox(4, 2);
  m.failList('p2', ApplicationFailure.nonRetryable('page token expired', FAILURE.gmailPageTokenExpired));
  const result = await extract(m, { perPage: 2, pipelineDepth: 1 });
  assert.equal(result.status, 'completed');
  assert.equal(result.relists, 1);
  assert.equal(m.stored.size, 8);
  const fetched = m.batches.flatMap((b) => b.ids);
  assert.equal(new Set(fetched).size, fetched.length, 'no id fetched twice');
  assert.equal(result.progress.persisted, 8);
  assert.equal(result.progress.present, 4, 'the relisted pages count as present');
});

test('a permanent Gmail failure fails the run at once with its reason, not retried', async () => {
  const m = fakeMailbox(3, 2);
  m.failBatches(ApplicationFailure.nonRetryable('Gmail refused access to a@example.com (403)', FAILURE.gmailPermission));
  await assert.rejects(
    extract(m, { perPage: 2, pipelineDepth: 2 }),
    (err: unknown) => err instanceof WorkflowFailedError && /Gmail refused access/.test(String(err.cause?.message)),
  );
  assert.equal(new Set(m.batches.map((b) => b.batchId)).size, m.batches.length, 'no batch attempted twice');
  assert.deepEqual(m.events, ['failed']);
});

test('cancel waits for the batches in flight: one that commits meanwhile is counted, and the run record says so', async () => {
  const m = fakeMailbox(4, 2);
  const release = gate();
  m.hold(0, release.opened);
  await assert.rejects(
    extract(m, { perPage: 2, pipelineDepth: 1 }, async ({ query, cancel }) => {
      await waitFor('the first batch in flight', async () => m.batches.length === 1, 30_000, 50);
      await cancel();
      // Cancelled, its batch still running: the run waits for it (draining) and has recorded no end yet.
      await waitFor('draining', async () => (await query()).phase === 'draining', 30_000, 50);
      assert.deepEqual(m.events, []);
      release.open();
    }),
    (err: unknown) => err instanceof WorkflowFailedError && isCancellation(err.cause),
  );
  assert.equal(m.stored.size, 2, 'the batch in flight committed');
  assert.deepEqual(m.details, ['canceled: 2 stored (2 committed in listing order)']);
  assert.equal(m.batches.length, 1, 'nothing dispatched after the cancel');
});

test('a compaction runs beside the batches, one at a time: the batches behind it are dispatched while it runs', async () => {
  const m = fakeMailbox(8, 2);
  const release = gate();
  m.holdCompactions(release.opened);
  const result = await extract(m, { perPage: 2, pipelineDepth: 1, compactEvery: 2 }, async ({ query }) => {
    // A failed assertion opens the gate too (extract opens every gate when a drive fails).
    await waitFor('a compaction running', async () => m.compactions.started === 1, 30_000, 50);
    await waitFor('every batch dispatched while it runs', async () => m.batches.length === 8, 10_000, 50);
    await waitFor('every batch committed', async () => (await query()).progress.persisted === 16, 30_000, 50);
    assert.deepEqual(m.compactions, { started: 1, ended: 0 }, 'the compactions due meanwhile waited for the running one');
    assert.equal((await query()).status, 'running', 'the run waits for its compaction before it ends');
    release.open();
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.progress.persisted, 16);
  assert.deepEqual(m.compactions, { started: 2, ended: 2 }, "the one beside the batches, then the end's");
});

test("with a compactors' task queue, the compactions run there and nowhere else", async () => {
  const m = fakeMailbox(8, 2);
  let compacted = 0;
  const compactor = await Worker.create({
    connection: environment.current().nativeConnection,
    taskQueue: `workflow-test-compactor-${runs + 1}`,
    activities: {
      async compactLake() {
        compacted++;
        return { filesBefore: 2, filesAfter: 1 };
      },
    },
  });
  const result = await extract(m, { perPage: 2, pipelineDepth: 1, compactEvery: 2, compactor });
  assert.equal(result.status, 'completed');
  assert.equal(result.progress.persisted, 16);
  assert.ok(compacted >= 2, `the compactor compacted (${compacted} times): beside the batches and at the end`);
  assert.deepEqual(m.compactions, { started: 0, ended: 0 }, "the run's own workers compacted nothing");
});

test('a stall publishes one `stalled` event, however long it lasts; a new stall after a commit publishes another', async () => {
  const m = fakeMailbox(3, 2);
  const [first, second] = [gate(), gate()];
  m.hold(0, first.opened);
  m.hold(1, second.opened);
  const stalled = () => m.published.filter((t) => t === 'stalled').length;
  const result = await extract(m, { perPage: 2, pipelineDepth: 1, stallAfterMs: 1000 }, async ({ query }) => {
    await waitFor('the first stall alerted', async () => stalled() === 1, 30_000, 50);
    // Three more thresholds with nothing committed: still one alert for this stall.
    await waitFor(
      '3 s more of the stall',
      async () => (await query()).updatedAt !== null && Date.now() - Date.parse((await query()).updatedAt!) > 4000,
      30_000,
      100,
    );
    assert.equal(stalled(), 1, 'one event per stall');
    first.open();
    await waitFor('the second stall alerted', async () => stalled() === 2, 30_000, 50);
    second.open();
  });
  assert.equal(result.status, 'completed');
  // (The `completed` event's delivery runs after this test's worker has stopped.)
  assert.equal(stalled(), 2);
  assert.equal(m.published[0], 'started');
});
