import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  ContinueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  isCancellation,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { beginSync, reconcileMailbox, recordSync, syncHistoryPage } from './activities.js';
import { FAILURE, HISTORY_ID, type SyncInput, type SyncResult, type SyncState, type SyncStatus, type SyncStepResult } from './contracts.js';
import { ACCOUNT_SEARCH_ATTRIBUTE } from './ids.js';
import { SYNC_PATCHES } from './patches.js';
import { addCounts, failureType } from './tally.js';

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export const syncProgressQuery = defineQuery<SyncResult>('progress');
/** How long after a notification a sync reads history once more (Gmail's one notification a second, and a margin). */
export const TRAILING_READ_MS = 1500;

/**
 * Gmail push: the mailbox changed up to `historyId` (what POST /push/gmail sends, with signal-with-start). A sync that
 * is reading history when it arrives makes one more pass if the historyId is newer than what it has read.
 */
export const mailboxChangedSignal = defineSignal<[{ historyId: string }]>('mailboxChanged');

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
    ...(s.watch ? { watch: s.watch } : {}),
    ...(s.notified ? { notifications: s.notified.count } : {}),
  });
  setHandler(syncProgressQuery, () => view('running'));
  setHandler(mailboxChangedSignal, (n) => {
    const historyId = String(n?.historyId ?? '');
    const notified = (s.notified ??= { count: 0, historyId: null });
    notified.count++;
    notified.at = Date.now();
    if (HISTORY_ID.test(historyId) && (!notified.historyId || BigInt(historyId) > BigInt(notified.historyId)))
      notified.historyId = historyId;
  });
  const notifications = () => s.notified?.count ?? 0;
  /** A notification since `before` names a change newer than the history read so far: worth another pass. */
  const changedSince = (before: number) =>
    notifications() > before &&
    !!s.notified?.historyId &&
    (!s.cursor || BigInt(s.notified.historyId) > BigInt(s.cursor)) &&
    patched(SYNC_PATCHES.pushNotifications);
  /**
   * Gmail drops a mailbox's notifications for a second after each one it sends, so a change right after the one
   * announced may never be: once per notification, when the last page began listing history before that second (and
   * a margin) had passed, the sync waits it out and reads one more page (2 units), rather than leaving the change to
   * the next sync. (A new value of TRAILING_READ_MS changes the commands of running syncs: it needs a patch.)
   */
  let pageStartedAt = 0;
  const trailingRead = async (): Promise<boolean> => {
    const n = s.notified;
    const window = input.trailingReadMs ?? TRAILING_READ_MS;
    if (!n?.at || window <= 0 || n.trailed === n.at || pageStartedAt >= n.at + window || !patched(SYNC_PATCHES.pushNotifications))
      return false;
    n.trailed = n.at;
    await sleep(Math.max(1, n.at + window - Date.now()));
    return true;
  };
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
      if (begin.watch) s.watch = begin.watch;
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
    let seen = notifications();
    while (s.mode === 'history') {
      if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof syncWorkflow>({ ...input, state: s });
      try {
        seen = notifications();
        pageStartedAt = Date.now();
        const r = await syncHistoryPage({ account, startHistoryId: s.cursor!, format: s.format });
        s.pages++;
        absorb(r);
        if (r.expired) {
          s.mode = 'reconcile';
          reason = 'history expired (404): reconciling by listing';
        }
        if (!r.more && !(s.mode === 'history' && (changedSince(seen) || (await trailingRead())))) break;
      } catch (err) {
        // Workers before `expired` existed failed the page with GmailHistoryExpired instead (kept for their histories).
        if (failureType(err) !== FAILURE.gmailHistoryExpired) throw err;
        s.mode = 'reconcile';
        reason = 'history expired (404): reconciling by listing';
      }
    }
    if (s.mode === 'reconcile') {
      seen = notifications();
      const r = await reconcileMailbox({ account, format: s.format, expectedHistoryId: s.cursor });
      s.pages++;
      absorb(r);
    }
    await record('completed');
    // Notified of a change while the last pass ran (or while it was recorded): a new run reads it by history.
    if (changedSince(seen))
      await continueAsNew<typeof syncWorkflow>({
        account,
        format: s.format,
        trigger: 'push',
        ...(input.trailingReadMs !== undefined ? { trailingReadMs: input.trailingReadMs } : {}),
      });
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
