import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  ContinueAsNew,
  defineQuery,
  executeChild,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { beginSync, reconcileMailbox, recordSync, syncHistoryPage } from './activities.js';
import { FAILURE, type SyncInput, type SyncResult, type SyncState, type SyncStatus, type SyncStepResult } from './contracts.js';
import { ACCOUNT_SEARCH_ATTRIBUTE } from './ids.js';
import { addCounts, failureType } from './tally.js';

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export const syncProgressQuery = defineQuery<SyncResult>('progress');

/**
 * Brings one mailbox's mirror up to date. History mode: pages of `users.history.list` from the stored historyId, each
 * applied with its new historyId in one lake transaction. Reconciliation (no stored historyId, history expired, or
 * asked for): list ids and labels, fetch what is missing, soft-delete what vanished. Runs under the mailbox's one sync
 * id (never two syncs of a mailbox at once) and defers while the mailbox's backfill runs.
 */
export async function syncWorkflow(input: SyncInput): Promise<SyncResult> {
  const { account } = input;
  const s: SyncState = input.state ?? {
    mode: 'none',
    format: input.format ?? 'full',
    historyIdFrom: null,
    cursor: null,
    changes: { added: 0, deleted: 0, labelsAdded: 0, labelsRemoved: 0 },
    rows: { inserted: 0, deleted: 0, relabeled: 0 },
    fetched: 0,
    pages: 0,
    units: {},
    calls: {},
    startedAt: Date.now(),
  };
  let reason: string | null = null;
  const view = (status: SyncStatus): SyncResult => ({
    id: workflowInfo().workflowId,
    account,
    status,
    mode: s.mode,
    trigger: input.trigger ?? null,
    historyIdFrom: s.historyIdFrom,
    historyIdTo: s.cursor,
    changes: s.changes,
    rows: s.rows,
    fetched: s.fetched,
    pages: s.pages,
    units: s.units,
    calls: s.calls,
    startedAt: new Date(s.startedAt).toISOString(),
    finishedAt: status === 'running' ? null : new Date().toISOString(),
    reason,
  });
  setHandler(syncProgressQuery, () => view('running'));
  const absorb = (r: SyncStepResult) => {
    s.cursor = r.historyId;
    addCounts(s.changes, r.changes);
    addCounts(s.rows, r.rows);
    s.fetched += r.fetched;
    addCounts(s.units, r.meter.units);
    addCounts(s.calls, r.meter.calls);
  };
  const record = (status: SyncStatus, detail?: string) =>
    CancellationScope.nonCancellable(() =>
      recordSync({
        account,
        mode: s.mode,
        status,
        historyIdFrom: s.historyIdFrom,
        historyIdTo: s.cursor,
        added: s.changes.added,
        deleted: s.changes.deleted,
        labelsChanged: s.rows.relabeled,
        units: s.units,
        detail: detail ?? reason ?? undefined,
        startedAt: s.startedAt,
      }),
    );

  try {
    if (!input.state) {
      const begin = await beginSync({ account });
      addCounts(s.units, begin.meter.units);
      addCounts(s.calls, begin.meter.calls);
      if (begin.busy) {
        reason = `${begin.busy}; this sync did nothing (the next one catches up)`;
        await record('deferred');
        return view('deferred');
      }
      s.format = input.format ?? (begin.format as MessageFormat | null) ?? 'full';
      s.historyIdFrom = begin.historyId;
      s.cursor = begin.historyId;
      s.mode = begin.historyId && !input.reconcile ? 'history' : 'reconcile';
      if (s.mode === 'reconcile') reason = begin.historyId ? 'reconciliation requested' : 'no stored historyId: reconciling by listing';
    }
    while (s.mode === 'history') {
      if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof syncWorkflow>({ ...input, state: s });
      try {
        const r = await syncHistoryPage({ account, startHistoryId: s.cursor!, format: s.format });
        s.pages++;
        absorb(r);
        if (r.expired) {
          s.mode = 'reconcile';
          reason = 'history expired (404): reconciling by listing';
        }
        if (!r.more) break;
      } catch (err) {
        // Workers before `expired` existed failed the page with GmailHistoryExpired instead (kept for their histories).
        if (failureType(err) !== FAILURE.gmailHistoryExpired) throw err;
        s.mode = 'reconcile';
        reason = 'history expired (404): reconciling by listing';
      }
    }
    if (s.mode === 'reconcile') {
      const r = await reconcileMailbox({ account, format: s.format, expectedHistoryId: s.cursor });
      s.pages++;
      absorb(r);
    }
    await record('completed');
    return view('completed');
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await record('canceled');
      throw err;
    }
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    reason = message;
    await record('failed', message);
    throw ApplicationFailure.nonRetryable(message, failureType(err) ?? 'SyncFailed', view('failed'));
  }
}

function inheritedAccountAttribute() {
  const value = workflowInfo().searchAttributes[ACCOUNT_SEARCH_ATTRIBUTE];
  return value?.length ? { [ACCOUNT_SEARCH_ATTRIBUTE]: value } : {};
}

/**
 * What a sync schedule starts (Temporal suffixes its id with the scheduled time): the mailbox's sync as a child under
 * the mailbox's one sync id, so a scheduled sync and one asked for over HTTP never run at once — when one runs
 * already, this run ends as `skipped`.
 */
export async function scheduledSyncWorkflow(input: {
  account: string;
  /** The mailbox's sync id, as the schedule's creator derived it (it may carry a digest of the address). */
  syncId: string;
  format?: MessageFormat;
}): Promise<SyncResult | { status: 'skipped'; reason: string }> {
  try {
    return await executeChild(syncWorkflow, {
      workflowId: input.syncId,
      args: [{ account: input.account, format: input.format, trigger: 'schedule' }],
      // The account's search attribute only when the schedule gave this run one (a deployment that encrypts payloads
      // gives none: search attributes cannot be encrypted).
      searchAttributes: inheritedAccountAttribute(),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { status: 'skipped', reason: 'a sync of this mailbox is running' };
    throw err;
  }
}
