import type { MemoryBudget } from './memory-budget.js';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type GmailApi, newMeter } from '../gmail/client.js';
import { GmailAuthError, NoCredentials } from '../gmail/auth.js';
import type { Directory } from '../gmail/directory.js';
import { FAILURE, type UnitMeter } from '../workflows/contracts.js';
import { addCounts } from '../workflows/tally.js';
import { classifyGmailError, describeGmailError, GMAIL_FAILURE, isFailedPrecondition } from '../gmail/errors.js';
import { ProjectQuotaError } from '../gmail/project-quota.js';
import type { Lake } from '../lake/lake.js';
import type { MailboxIds } from '../mailbox-ids.js';
import type { Logger } from '../log.js';

export interface WebhookConfig {
  urls: string[];
  /** HMAC-SHA256 key of the signature (Standard Webhooks: `webhook-signature: v1,<base64>`). */
  secret: string;
  /** CloudEvents `source`. */
  source: string;
}

/** What every activity area is built from (injected by the worker's composition root). */
export interface ActivityDeps {
  lake: Lake;
  /** The Gmail API (one client per credentials; batches take scoped views of it). */
  gmail: GmailApi;
  /** Local scratch space of this worker: a batch stages there only while its own activity runs. */
  stagingDir: string;
  fetchConcurrency: number;
  /** The bytes of messages this process holds at once (GMAIL_MESSAGE_MEMORY_MB), shared by all its batches. */
  messageMemory: MemoryBudget;
  /** Batch attempts after which a message Gmail keeps refusing is quarantined instead of retried (GMAIL_QUARANTINE_AFTER). */
  quarantineAfter: number;
  /** GMAIL_PUSH_TOPIC: syncs keep each mailbox watched on this Pub/Sub topic. */
  pushTopic?: string;
  /** ATTACHMENTS=content: store attachments' bytes (see AttachmentContent). */
  attachmentContent?: boolean;
  /** IMPORT_DIRS: the folders imports may read files from (none: any file the worker can read). */
  importDirs?: string[];
  logger: Logger;
  /** Temporal, for the activities that look at other workflows (a sync defers to a running backfill) or schedules. */
  temporal?: Client;
  /** The mailboxes' workflow and schedule ids (the same object the API derives them with). */
  ids: MailboxIds;
  /** The task queue the worker polls (schedules start their workflows there). */
  taskQueue: string;
  /** Where lifecycle events go (none: the events activity delivers nothing). */
  webhooks?: WebhookConfig;
  /** The Workspace directory (service account + GMAIL_DIRECTORY_ADMIN): fleets by domain. */
  directory?: Directory;
  /** Share of a mailbox's quota budget each of `concurrency` mailboxes may spend so together they fit the project's. */
  fairShare?: (concurrency: number) => number;
}

/** The workflow execution this activity serves (these activities only run inside the extraction workflow). */
export function execution(): { workflowId: string; runId: string } {
  const e = Context.current().info.workflowExecution;
  if (!e) throw ApplicationFailure.nonRetryable('activity called outside a workflow', 'NoWorkflowContext');
  return e;
}

/** The activity's logger: every line carries the extraction id, run, activity type and attempt. */
export function activityLog(deps: Pick<ActivityDeps, 'logger'>): Logger {
  const info = Context.current().info;
  const { workflowId, runId } = execution();
  return deps.logger.child({ extractionId: workflowId, runId, activity: info.activityType, attempt: info.attempt });
}

/**
 * Heartbeats every `everyMs` while `work` runs, so the activity's short heartbeat timeout (not its long start-to-close
 * timeout) bounds how long Temporal waits before retrying it after its worker dies. `details` are the latest
 * heartbeat details (shown as the pending activity's progress in the Web UI).
 */
/**
 * The quota meter of this attempt, carried on from the previous attempt's last heartbeat: an attempt that died (a kill,
 * a timeout) spent quota too, and Google bills it. Activities that use it heartbeat `{ …, meter }`; what a dead attempt
 * spent after its last heartbeat reached Temporal is the only part not counted (the SDK sends one at most every 80 % of
 * the heartbeat timeout, so up to 4 s of a batch's calls).
 */
export function attemptMeter(): UnitMeter {
  const meter = newMeter();
  const earlier = (Context.current().info.heartbeatDetails as { meter?: Partial<UnitMeter> } | undefined)?.meter;
  if (earlier && typeof earlier === 'object') {
    addCounts(meter.units, earlier.units);
    addCounts(meter.calls, earlier.calls);
  }
  return meter;
}

export async function heartbeating<T>(work: () => Promise<T>, details?: () => unknown, everyMs = 1_000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details?.());
  const timer = setInterval(() => ctx.heartbeat(details?.()), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The same activities, each heartbeating every second while it runs (for those without progress of their own to
 * report): called with a 5 s heartbeat timeout, a worker that dies mid-call (kill -9, a lost host) is noticed within
 * 5 s instead of at the start-to-close timeout, during which the whole extraction would wait.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function heartbeatingEach<T extends Record<string, (input: any) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, run]) => [name, (input: unknown) => heartbeating(() => run(input))]),
  ) as T;
}

/** Rethrows a Gmail error as Temporal expects: permanent kinds non-retryable with a typed failure, the rest retryable. */
export function rethrowGmail(err: unknown, logger: Logger): never {
  // Cancelled (the extraction, or the worker shutting down): report the cancellation itself, not the aborted request.
  const { cancellationSignal } = Context.current();
  if (cancellationSignal.aborted) throw cancellationSignal.reason;
  if (err instanceof ProjectQuotaError) {
    logger.warn({ err: err.message }, 'project quota unavailable; Temporal will retry the activity');
    throw ApplicationFailure.retryable(err.message, FAILURE.projectQuotaUnavailable);
  }
  const kind = classifyGmailError(err);
  const reason = describeGmailError(err);
  if (err instanceof GmailAuthError || err instanceof NoCredentials)
    throw ApplicationFailure.nonRetryable(err.message, GMAIL_FAILURE.auth, {
      account: err instanceof GmailAuthError ? err.account : undefined,
      reason: err instanceof GmailAuthError ? err.reason : 'missing',
    });
  if (kind === 'auth') throw ApplicationFailure.nonRetryable(`Gmail rejected the credentials: ${reason}`, GMAIL_FAILURE.auth);
  if (isFailedPrecondition(err))
    throw ApplicationFailure.nonRetryable(
      `Gmail is not enabled for this mailbox, or its user was deleted: ${reason}`,
      GMAIL_FAILURE.permission,
    );
  if (kind === 'invalidRequest')
    throw ApplicationFailure.nonRetryable(`Gmail rejected the request: ${reason}`, GMAIL_FAILURE.invalidRequest);
  if (kind === 'permission') throw ApplicationFailure.nonRetryable(`Gmail denied access: ${reason}`, GMAIL_FAILURE.permission);
  logger.warn({ err: reason }, 'transient Gmail error; Temporal will retry the activity');
  throw ApplicationFailure.retryable(`transient Gmail error: ${reason}`, GMAIL_FAILURE.transient);
}
