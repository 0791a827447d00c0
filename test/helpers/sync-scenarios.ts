import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
import { workflowBundle } from '../../src/worker/bundle.js';
import { noChanges, type SyncResult, type SyncStepResult } from '../../src/workflows/contracts.js';

/**
 * A sync workflow over mocked activities, told of changes by `mailboxChanged` signals at chosen moments: while its
 * first history page runs (`duringPage`) or while its end is recorded (`duringRecord`). Shared by the workflow tier and
 * scripts/record-histories.ts (`--sync-push-only`), which keeps the history for the replay test.
 */
export interface PushScenario {
  /** Started as POST /push/gmail starts a sync: with a signal naming this historyId. */
  startSignal?: string;
  /** The workflow's trailing read window (0: none, so page counts are exact). */
  trailingReadMs: number;
  /** historyIds signalled while the first page runs (it reads up to 110). */
  duringPage?: string[];
  /** historyIds signalled while the first run records its end. */
  duringRecord?: string[];
}

export async function runPushScenario(connection: NativeConnection, client: Client, taskQueue: string, scenario: PushScenario) {
  const pages: string[] = [];
  let begins = 0;
  let records = 0;
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    return { open, opened };
  };
  const pageGate = gate();
  const recordGate = gate();
  const pageStarted = gate();
  const recordStarted = gate();
  const step = (historyId: string): SyncStepResult => ({
    historyId,
    more: false,
    changes: { ...noChanges(), added: 1 },
    rows: { inserted: 1, deleted: 0, relabeled: 0 },
    fetched: 1,
    meter: { units: { history: 2 }, calls: { history: 1 } },
    applied: true,
  });
  let mailboxAt = 110;
  const signalled: string[] = [];
  const activities: Partial<Activities> = {
    async beginSync() {
      begins++;
      return { busy: null, historyId: String(mailboxAt - (begins === 1 ? 10 : 0)), format: 'full', meter: { units: {}, calls: {} } };
    },
    async syncHistoryPage(input: { startHistoryId: string }) {
      pages.push(input.startHistoryId);
      if (pages.length === 1) {
        pageStarted.open();
        await pageGate.opened;
        return step('110');
      }
      // Later passes read up to the newest change signalled so far.
      const newest = Math.max(mailboxAt, ...signalled.map(Number).filter(Number.isFinite));
      mailboxAt = newest;
      return step(String(newest));
    },
    async reconcileMailbox() {
      throw new Error('not reconciled in this scenario');
    },
    async recordSync() {
      records++;
      if (records === 1) {
        recordStarted.open();
        await recordGate.opened;
      }
    },
  };
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: { codePath: workflowBundle() }, activities });
  return worker.runUntil(async () => {
    const options = {
      taskQueue,
      workflowId: `${taskQueue}-sync`,
      args: [{ account: 'user@example.com', trigger: 'push', trailingReadMs: scenario.trailingReadMs }],
    };
    if (scenario.startSignal) signalled.push(scenario.startSignal);
    const handle = scenario.startSignal
      ? await client.workflow.signalWithStart('syncWorkflow', {
          ...options,
          signal: 'mailboxChanged',
          signalArgs: [{ historyId: scenario.startSignal }],
        })
      : await client.workflow.start('syncWorkflow', options);
    await pageStarted.opened;
    for (const historyId of scenario.duringPage ?? []) {
      signalled.push(historyId);
      await handle.signal('mailboxChanged', { historyId });
    }
    pageGate.open();
    await recordStarted.opened;
    for (const historyId of scenario.duringRecord ?? []) {
      signalled.push(historyId);
      await handle.signal('mailboxChanged', { historyId });
    }
    recordGate.open();
    const result = (await handle.result()) as SyncResult;
    // The first run's history and, when it continued as new, the last run's.
    const id = `${taskQueue}-sync`;
    const lastRunId = (await client.workflow.getHandle(id).describe()).runId;
    const histories = [];
    const firstRunId =
      (handle as { firstExecutionRunId?: string; signaledRunId?: string }).firstExecutionRunId ??
      (handle as { signaledRunId: string }).signaledRunId;
    histories[0] = await client.workflow.getHandle(id, firstRunId).fetchHistory();
    if (lastRunId !== firstRunId) histories.push(await client.workflow.getHandle(id, lastRunId).fetchHistory());
    return { result, pages, begins, records, histories };
  });
}

/** How many patch markers (`core_patch`) a history holds. */
export function patchMarkers(history: {
  events?: ({ markerRecordedEventAttributes?: { markerName?: string | null } | null } | null)[] | null;
}): number {
  return (history.events ?? []).filter((e) => e?.markerRecordedEventAttributes?.markerName === 'core_patch').length;
}
