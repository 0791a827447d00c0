import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { MessageFormat } from '../gmail/client.js';
import {
  controlSyncSchedule,
  describeSyncSchedule,
  ForeignScheduleError,
  isWorkflowRunning,
  type SyncScheduleInfo,
  upsertSyncSchedule,
} from '../schedules.js';
import { accountAttribute } from '../codec.js';
import type { MailboxIds } from '../mailbox-ids.js';
import { WORKFLOW_ID_PREFIX } from '../workflows/ids.js';
import { mailboxChangedSignal, syncProgressQuery, syncWorkflow } from '../workflows/sync.js';
import { ApiError } from './errors.js';
import { describeOurs } from './workflow-control.js';
import type { AccountResolver, ExtractionService } from './extractions.js';
import type { SelectionMemo, SyncResult } from '../workflows/contracts.js';

export interface MailboxView {
  account: string;
  /** The mailbox's backfill (its latest run), if it ever had one. */
  backfill: { id: string; status: string; percent: number; persisted: number; historyId: string | null; error: string | null } | null;
  /** The sync running now, if any. */
  syncRunning: SyncResult | null;
  /** The last sync that ended (completed, deferred, failed or canceled). */
  lastSync: SyncResult | null;
  schedule: SyncScheduleInfo | null;
  /** The historyId the mirror is at: the last sync's, else the backfill's captured one. */
  historyId: string | null;
}

export interface MailboxService {
  sync(
    account: string,
    options: { format?: MessageFormat; reconcile?: boolean },
  ): Promise<{ id: string; runId: string; account: string; created: boolean }>;
  get(account: string): Promise<MailboxView>;
  putSchedule(
    account: string,
    r: { every: string; format?: MessageFormat },
  ): Promise<{ account: string; created: boolean; schedule: SyncScheduleInfo | null }>;
  controlSchedule(account: string, op: 'pause' | 'resume' | 'delete'): Promise<{ account: string; schedule: SyncScheduleInfo | null }>;
  /**
   * A Gmail push notification for `account` (up to `historyId`): its sync is started (trigger `push`) or, when one runs,
   * told of the change. Ignored — acknowledged, nothing started — for a mailbox without a sync schedule or with its
   * schedule paused (push serves the mailboxes kept in sync), and while its backfill runs (its first sync catches up).
   */
  pushed(
    account: string,
    historyId: string,
  ): Promise<{ status: 'syncing' | 'ignored'; account: string; reason?: string; id?: string; runId?: string }>;
  /** Throws 409 when a sync of the mailbox runs (a backfill must not start beside it). */
  assertNoSync(account: string): Promise<void>;
  /**
   * Runs the mailbox's last extraction again, with its selection: it lists the mailbox (list calls only) and fetches
   * only what the lake lacks — the messages quarantined in failed_messages, and mail that arrived since.
   */
  retryFailed(account: string): Promise<{ id: string; runId: string; account: string; created: boolean }>;
}

/** A closed sync's result, or the progress its failure carries. */
async function closedSync(client: Client, id: string, runId: string): Promise<SyncResult | null> {
  const handle = client.workflow.getHandle<typeof syncWorkflow>(id, runId);
  try {
    return await handle.result();
  } catch (e) {
    const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
    const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as SyncResult | undefined) : undefined;
    return detail ? { ...detail, status: 'failed', reason: cause?.message ?? detail.reason } : null;
  }
}

/** A schedule with the mailbox's id that gmail-lake did not create: 409, and it is left alone. */
async function ours<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof ForeignScheduleError) throw new ApiError(409, 'CONFLICT', e.message);
    throw e;
  }
}

/**
 * Mailboxes as their mirror: a sync now (one workflow per mailbox, never beside its backfill), its Temporal Schedule,
 * and the state of both. Everything comes from Temporal, so the API needs no lake.
 */
export function createMailboxService(
  client: Client,
  taskQueue: string,
  extractions: Pick<ExtractionService, 'get' | 'start'>,
  ids: MailboxIds,
  resolveAccount: AccountResolver,
): MailboxService {
  const resolve = async (account: string) => (await resolveAccount(account)).trim().toLowerCase();
  return {
    async sync(asked, options) {
      const account = await resolve(asked);
      const backfill = ids.extraction(account);
      if (await isWorkflowRunning(client, backfill))
        throw new ApiError(409, 'CONFLICT', `the backfill ${backfill} of ${account} is running; sync when it ends (or use keepInSync)`);
      const id = ids.sync(account);
      try {
        const handle = await client.workflow.start(syncWorkflow, {
          workflowId: id,
          taskQueue,
          args: [{ account, format: options.format, reconcile: options.reconcile, trigger: 'http' }],
          ...accountAttribute(client, account),
        });
        return { id, runId: handle.firstExecutionRunId, account, created: true };
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
        const d = await client.workflow.getHandle(id).describe();
        return { id, runId: d.runId, account, created: false };
      }
    },

    async pushed(account, historyId) {
      const schedule = await describeSyncSchedule(client, ids, account);
      if (!schedule) return { status: 'ignored', account, reason: 'the mailbox has no sync schedule' };
      if (schedule.paused) return { status: 'ignored', account, reason: 'its sync schedule is paused' };
      if (await isWorkflowRunning(client, ids.extraction(account)))
        return { status: 'ignored', account, reason: 'its backfill is running; the sync after it catches up' };
      const id = ids.sync(account);
      const handle = await client.workflow.signalWithStart(syncWorkflow, {
        workflowId: id,
        taskQueue,
        args: [{ account, trigger: 'push' }],
        signal: mailboxChangedSignal,
        signalArgs: [{ historyId }],
        ...accountAttribute(client, account),
      });
      return { status: 'syncing', account, id, runId: handle.signaledRunId };
    },

    async get(asked) {
      const account = await resolve(asked);
      let backfill: MailboxView['backfill'] = null;
      try {
        const b = await extractions.get(ids.extraction(account));
        backfill = {
          id: b.id,
          status: b.status,
          percent: b.progress.percent,
          persisted: b.progress.persisted,
          historyId: b.historyId ?? null,
          error: b.error,
        };
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      const id = ids.sync(account);
      let syncRunning: SyncResult | null = null;
      let lastSync: SyncResult | null = null;
      try {
        const d = await client.workflow.getHandle(id).describe();
        if (d.status.name === 'RUNNING') syncRunning = await client.workflow.getHandle(id, d.runId).query(syncProgressQuery);
        else lastSync = await closedSync(client, id, d.runId);
      } catch (e) {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      }
      if (syncRunning) {
        // The run before the running one: newest closed run of this id.
        for await (const w of client.workflow.list({
          query: `WorkflowId = '${id.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' AND ExecutionStatus != 'Running'`,
          pageSize: 1,
        })) {
          lastSync = await closedSync(client, id, w.runId);
          break;
        }
      }
      const schedule = await describeSyncSchedule(client, ids, account);
      const historyId = lastSync?.historyIdTo ?? syncRunning?.historyIdFrom ?? backfill?.historyId ?? null;
      return { account, backfill, syncRunning, lastSync, schedule, historyId };
    },

    async putSchedule(asked, r) {
      const account = await resolve(asked);
      const { created } = await ours(() => upsertSyncSchedule(client, ids, taskQueue, { account, ...r }));
      return { account, created, schedule: await describeSyncSchedule(client, ids, account) };
    },

    async controlSchedule(asked, op) {
      const account = await resolve(asked);
      if (!(await ours(() => controlSyncSchedule(client, ids, account, op))))
        throw new ApiError(404, 'NOT_FOUND', `${account} has no sync schedule`);
      return { account, schedule: op === 'delete' ? null : await describeSyncSchedule(client, ids, account) };
    },

    async retryFailed(asked) {
      const account = await resolve(asked);
      const id = ids.extraction(account);
      const d = await describeOurs(client, 'extraction', id, WORKFLOW_ID_PREFIX, 'extractionWorkflow');
      if (d.status.name === 'RUNNING')
        throw new ApiError(409, 'CONFLICT', `the extraction ${id} of ${account} is running; it fetches what the lake lacks as it goes`);
      const last = (d.memo as Partial<SelectionMemo> | undefined)?.selection;
      if (!last) throw new ApiError(409, 'CONFLICT', `the last extraction of ${account} does not say its selection: POST /extract with it`);
      return extractions.start({
        account,
        ...(last.query ? { query: last.query } : {}),
        ...(last.labelIds?.length ? { labelIds: last.labelIds } : {}),
        includeSpamTrash: last.includeSpamTrash,
        format: last.format,
        batchSize: 100,
      });
    },

    async assertNoSync(asked) {
      const account = await resolve(asked);
      if (await isWorkflowRunning(client, ids.sync(account)))
        throw new ApiError(409, 'CONFLICT', `a sync of ${account} is running (${ids.sync(account)}); start the backfill when it ends`);
    },
  };
}
