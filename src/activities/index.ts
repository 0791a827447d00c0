import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { GmailApi, MessageFormat } from '../gmail/client.js';
import { classifyGmailError, describeGmailError, GMAIL_FAILURE } from '../gmail/errors.js';
import {
  type Checkpoint,
  dropStaged,
  isStaged,
  openStagedBatch,
  persistStaged,
  recordRun,
  resumableCheckpoint,
  stagedBatchDir,
  storeLabels,
} from '../lake/batches.js';
import type { Lake } from '../lake/lake.js';
import type { Logger } from '../log.js';
import { toRows } from './rows.js';

/** Activity failure types (the workflow matches on these strings). */
export const ACTIVITY_FAILURE = {
  ...GMAIL_FAILURE,
  /** The staged batch is not on this worker's disk (another host fetched it): fetch again. */
  stagedBatchMissing: 'StagedBatchMissing',
} as const;

export interface ActivityDeps {
  lake: Lake;
  /** The Gmail API for an account (one client per credentials; the factory may cache). */
  gmail: GmailApi;
  stagingDir: string;
  fetchConcurrency: number;
  logger: Logger;
}

/** The workflow execution this activity serves (these activities only run inside the extraction workflow). */
function execution(): { workflowId: string; runId: string } {
  const e = Context.current().info.workflowExecution;
  if (!e) throw ApplicationFailure.nonRetryable('activity called outside a workflow', 'NoWorkflowContext');
  return e;
}

/**
 * Heartbeats every few seconds while a long lake operation runs, so that the activity's heartbeat timeout (not its
 * much longer start-to-close timeout) bounds how long Temporal waits before retrying it after a worker dies.
 */
async function heartbeating<T>(work: () => Promise<T>, everyMs = 5_000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function log(deps: ActivityDeps): Logger {
  const info = Context.current().info;
  const { workflowId, runId } = execution();
  return deps.logger.child({ extractionId: workflowId, runId, activity: info.activityType, attempt: info.attempt });
}

/** Rethrows a Gmail error as Temporal expects: permanent kinds non-retryable with a typed failure, the rest retryable. */
function rethrowGmail(err: unknown, logger: Logger): never {
  const kind = classifyGmailError(err);
  const reason = describeGmailError(err);
  if (kind === 'auth') throw ApplicationFailure.nonRetryable(`Gmail rejected the credentials: ${reason}`, GMAIL_FAILURE.auth);
  if (kind === 'invalidRequest')
    throw ApplicationFailure.nonRetryable(`Gmail rejected the request: ${reason}`, GMAIL_FAILURE.invalidRequest);
  if (kind === 'permission') throw ApplicationFailure.nonRetryable(`Gmail denied access: ${reason}`, GMAIL_FAILURE.permission);
  logger.warn({ err: reason }, 'transient Gmail error; Temporal will retry the activity');
  throw ApplicationFailure.retryable(`transient Gmail error: ${reason}`, 'GmailTransientError');
}

export interface PrepareInput {
  account: string;
  extractionKey: string;
}
export interface PrepareResult {
  historyId: string;
  messagesTotal: number;
  resume?: Pick<Checkpoint, 'pageToken' | 'historyId' | 'listed' | 'persisted' | 'skipped' | 'failed'>;
}

export interface ListInput {
  account: string;
  pageToken: string;
  query?: string;
  labelIds?: string[];
  includeSpamTrash?: boolean;
  maxResults: number;
}

export interface FetchInput {
  account: string;
  batchId: string;
  ids: string[];
  format: MessageFormat;
}
export interface FetchResult {
  /** Reference to the staged batch (a folder on the worker's staging disk). */
  staged: string;
  fetched: number;
  skipped: number;
  malformed: number;
  bytes: number;
}

export interface PersistInput {
  staged: string;
  checkpoint: Omit<Checkpoint, 'workflowId' | 'runId'>;
}

/** Builds the activities with their dependencies injected (Gmail client, lake, logger). */
export function createActivities(deps: ActivityDeps) {
  return {
    /** Reads the profile (validating credentials), snapshots labels and finds a checkpoint to resume from. Retries: Temporal's. */
    async prepareExtraction(input: PrepareInput): Promise<PrepareResult> {
      const logger = log(deps);
      const info = execution();
      let profile;
      try {
        profile = await deps.gmail.profile(input.account);
        await storeLabels(deps.lake, input.account, await deps.gmail.labels(input.account));
      } catch (err) {
        rethrowGmail(err, logger);
      }
      const checkpoint = await resumableCheckpoint(deps.lake, input.account, input.extractionKey);
      await recordRun(deps.lake, {
        account: input.account,
        extractionKey: input.extractionKey,
        workflowId: info.workflowId,
        runId: info.runId,
        event: 'started',
        detail: checkpoint ? `resuming at ${checkpoint.persisted}` : undefined,
      });
      logger.info(
        { messagesTotal: profile.messagesTotal, historyId: profile.historyId, resume: checkpoint?.persisted },
        'extraction prepared',
      );
      return {
        historyId: checkpoint?.historyId || profile.historyId,
        messagesTotal: profile.messagesTotal,
        resume: checkpoint && {
          pageToken: checkpoint.pageToken,
          historyId: checkpoint.historyId,
          listed: checkpoint.listed,
          persisted: checkpoint.persisted,
          skipped: checkpoint.skipped,
          failed: checkpoint.failed,
        },
      };
    },

    /** Lists one page of message ids. Transient errors: retried per request, then by Temporal. */
    async listPage(input: ListInput): Promise<{ ids: string[]; nextPageToken?: string; resultSizeEstimate: number }> {
      try {
        return await deps.gmail.listPage(input.account, {
          pageToken: input.pageToken,
          q: input.query,
          labelIds: input.labelIds,
          includeSpamTrash: input.includeSpamTrash,
          maxResults: input.maxResults,
        });
      } catch (err) {
        rethrowGmail(err, log(deps));
      }
    },

    /** Fetches a batch concurrently within the quota budget and stages it on disk; heartbeats progress. */
    async fetchBatch(input: FetchInput): Promise<FetchResult> {
      const ctx = Context.current();
      const logger = log(deps);
      const extractionId = execution().workflowId;
      const staged = await openStagedBatch(stagedBatchDir(deps.stagingDir, extractionId, input.batchId));
      let fetched = 0;
      let skipped = 0;
      let malformed = 0;
      let bytes = 0;
      let next = 0;
      const fetchedAt = Date.now();
      const worker = async () => {
        while (next < input.ids.length) {
          ctx.heartbeat({ batchId: input.batchId, done: fetched + skipped, of: input.ids.length });
          const id = input.ids[next++]!;
          const msg = await deps.gmail.getMessage(input.account, id, input.format);
          if (!msg) {
            skipped++;
            continue;
          }
          const rows = toRows(msg, { account: input.account, format: input.format, extractionId, fetchedAt });
          if (rows.message.parse_error) malformed++;
          bytes += msg.sizeEstimate ?? 0;
          fetched++;
          await staged.message(rows.message);
          for (const a of rows.attachments) await staged.attachment(a);
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.min(deps.fetchConcurrency, input.ids.length) }, worker));
      } catch (err) {
        await staged.close().catch(() => undefined);
        await dropStaged(staged.dir);
        rethrowGmail(err, logger);
      }
      const dir = await staged.close();
      logger.debug({ batchId: input.batchId, fetched, skipped, malformed }, 'batch fetched');
      return { staged: dir, fetched, skipped, malformed, bytes };
    },

    /** Commits a staged batch and its checkpoint in one lake transaction (idempotent); then drops the staging. */
    async persistBatch(input: PersistInput): Promise<{ inserted: number }> {
      const info = execution();
      if (!(await isStaged(input.staged))) {
        throw ApplicationFailure.nonRetryable(
          `staged batch ${input.checkpoint.batchId} is not on this worker`,
          ACTIVITY_FAILURE.stagedBatchMissing,
        );
      }
      const result = await heartbeating(() =>
        persistStaged(deps.lake, input.staged, { ...input.checkpoint, workflowId: info.workflowId, runId: info.runId }),
      );
      await dropStaged(input.staged);
      log(deps).debug({ batchId: input.checkpoint.batchId, inserted: result.inserted }, 'batch persisted');
      return result;
    },

    /** Merges small data files (routine maintenance; safe to run any time). */
    async compactLake(): Promise<{ filesBefore: number; filesAfter: number }> {
      const r = await heartbeating(() => deps.lake.compact());
      log(deps).info(r, 'lake compacted');
      return r;
    },

    /** Appends the run's closing record (completed, failed, canceled). */
    async recordExtractionEvent(input: { account: string; extractionKey: string; event: string; detail?: string }): Promise<void> {
      const info = execution();
      await recordRun(deps.lake, { ...input, workflowId: info.workflowId, runId: info.runId });
      log(deps).info({ event: input.event, detail: input.detail }, 'extraction event');
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
