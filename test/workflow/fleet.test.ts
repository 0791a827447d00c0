import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
import { workflowBundle } from '../../src/worker/bundle.js';
import { FAILURE } from '../../src/workflows/contracts.js';
import { FAILURES_KEPT, type FleetPage, type FleetProgress } from '../../src/workflows/fleet-contracts.js';
import { workflowEnvironment } from '../helpers/workflow-env.js';

/**
 * The fleet workflow's own logic with mocked activities: a plan stored in the lake is read a page at a time, each page
 * once across continue-as-new runs, and failures are named up to FAILURES_KEPT and counted past it (so that neither
 * the state a run carries nor the fleet's result grows with the domain).
 */

const environment = workflowEnvironment();

test('a stored plan of 130 mailboxes read in pages of 30 over three runs; 125 failures, 100 of them named', async () => {
  const SIZE = 130;
  const account = (i: number) => `m${String(i).padStart(3, '0')}@example.com`;
  const pages: number[] = [];
  const started: string[] = [];
  const activities: Partial<Activities> = {
    async planFleet() {
      const skipped = Array.from({ length: 60 }, (_, i) => ({ account: `s${i}@example.com`, reason: 'suspended in the directory' }));
      return { mailboxes: [], skipped, skippedCount: 60, stored: { fleet: 'f', mailboxes: SIZE }, quotaShare: 1 };
    },
    async fleetMailboxes(page: FleetPage) {
      pages.push(page.from);
      const n = Math.max(0, Math.min(page.limit, SIZE - page.from));
      return Array.from({ length: n }, (_, i) => {
        const a = account(page.from + i);
        return { account: a, workflowId: `wf-${a}`, extractionKey: 'k' };
      });
    },
    // Even mailboxes fail as a revoked grant does (permanently); odd ones are empty and complete.
    async prepareExtraction(input: { account: string }) {
      started.push(input.account);
      if (Number(input.account.slice(1, 4)) % 2 === 0) throw ApplicationFailure.nonRetryable('access revoked', FAILURE.gmailAuth);
      return { historyId: '100', messagesTotal: 0, spamTrashTotal: 0 };
    },
    async listPage() {
      return { ids: [], listed: 0, present: 0, nextPageToken: undefined, resultSizeEstimate: 0 };
    },
    async recordExtractionEvent() {},
    async refreshLabels() {
      return { units: { labels: 1 }, written: true };
    },
    async handOverToSync() {
      return true;
    },
    async ensureSyncSchedule() {},
    async compactLake() {
      return { filesBefore: 0, filesAfter: 0 };
    },
  };
  const taskQueue = 'fleet-workflow-test';
  const worker = await Worker.create({
    connection: environment.current().nativeConnection,
    taskQueue,
    workflowBundle: { codePath: workflowBundle() },
    activities,
  });
  const result = await worker.runUntil(async () => {
    const handle = await environment.current().client.workflow.start('fleetWorkflow', {
      taskQueue,
      workflowId: 'fleet-workflow-test',
      args: [
        {
          request: { accounts: ['listed@example.com'], format: 'metadata', batchSize: 10, concurrency: 40 },
          options: { pipelineDepth: 1, compactEvery: 0, events: false },
          childrenPerRun: 60,
          planPage: 30,
        },
      ],
    });
    return (await handle.result()) as FleetProgress;
  });
  assert.deepEqual(pages, [0, 30, 60, 90, 120], 'each page read once, in order, across the runs');
  assert.equal(new Set(started).size, SIZE, 'every mailbox of the plan started');
  assert.equal(result.runs, 3, '60, 60, then 10 mailboxes per run');
  assert.deepEqual(result.mailboxes, { total: SIZE + 60, pending: 0, running: 0, completed: 65, failed: 125, canceled: 0 });
  assert.equal(result.failures.length, FAILURES_KEPT);
  assert.deepEqual(result.failures[0], { account: 's0@example.com', error: 'suspended in the directory' });
  assert.match(result.failures[FAILURES_KEPT - 1]!.error, /access revoked/);
});

test('a fleet none of whose mailboxes completes fails, and says how many failed', async () => {
  const worker = await Worker.create({
    connection: environment.current().nativeConnection,
    taskQueue: 'fleet-workflow-test-2',
    workflowBundle: { codePath: workflowBundle() },
    activities: {
      async planFleet() {
        const skipped = Array.from({ length: 150 }, (_, i) => ({ account: `s${i}@example.com`, reason: 'suspended in the directory' }));
        return {
          mailboxes: [],
          skipped: skipped.slice(0, FAILURES_KEPT),
          skippedCount: 150,
          stored: { fleet: 'g', mailboxes: 0 },
          quotaShare: 1,
        };
      },
    },
  });
  const err = await worker.runUntil(
    environment
      .current()
      .client.workflow.execute('fleetWorkflow', {
        taskQueue: 'fleet-workflow-test-2',
        workflowId: 'fleet-workflow-test-2',
        args: [
          {
            request: { domain: 'example.com', format: 'metadata', batchSize: 10, concurrency: 4 },
            options: { pipelineDepth: 1, compactEvery: 0, events: false },
          },
        ],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.match(String(err.cause?.message), /no mailbox of the fleet completed \(150 failed\)/);
});
