import {
  type Client,
  type ScheduleDescription,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { causeChain } from './causes.js';
import { everyToMs, msToEvery } from './intervals.js';
import type { MessageFormat } from './gmail/client.js';
import { accountAttribute, encrypts } from './codec.js';
import type { MailboxIds } from './mailbox-ids.js';

/**
 * True while the workflow `id` (its latest run) is running: how the API and a sync see whether a mailbox's backfill or
 * sync runs, so the two never write at once.
 */
export async function isWorkflowRunning(client: Client, id: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(id).describe()).status.name === 'RUNNING';
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return false;
    throw e;
  }
}

export interface SyncScheduleRequest {
  account: string;
  every: string;
  format?: MessageFormat;
}

export interface SyncScheduleInfo {
  id: string;
  every: string | null;
  paused: boolean;
  note: string | null;
  nextRunAt: string | null;
  recentRuns: { scheduledAt: string; workflowId: string; runId: string }[];
}

function action(client: Client, ids: MailboxIds, taskQueue: string, r: SyncScheduleRequest) {
  return {
    // The scheduled run carries the account's search attribute; its sync child takes it from there (see that workflow).
    ...accountAttribute(client, r.account),
    type: 'startWorkflow' as const,
    workflowType: 'scheduledSyncWorkflow',
    // Temporal appends the scheduled time; the run then starts the mailbox's one sync as a child (see that workflow).
    workflowId: `${ids.schedule(r.account)}-scheduled`,
    // The sync's id travels with the run: workflow code cannot derive a keyed id itself.
    args: [{ account: r.account, syncId: ids.sync(r.account), ...(r.format ? { format: r.format } : {}) }],
    taskQueue,
  };
}

/**
 * Creates the mailbox's sync schedule, or updates its interval and format (keeping its paused state): a Temporal
 * Schedule (Web UI → Schedules; `temporal schedule toggle --pause / trigger / delete`). Overlapping runs are skipped.
 */
export async function upsertSyncSchedule(
  client: Client,
  ids: MailboxIds,
  taskQueue: string,
  r: SyncScheduleRequest,
): Promise<{ created: boolean }> {
  everyToMs(r.every);
  const scheduleId = ids.schedule(r.account);
  // Create, else update; a schedule deleted between the two (a concurrent DELETE) is created again.
  for (let attempt = 0; ; attempt++) {
    try {
      await client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: r.every }] },
        action: action(client, ids, taskQueue, r),
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
        state: { note: encrypts(client) ? `mailbox sync every ${r.every}` : `sync of ${r.account} every ${r.every}` },
      });
      return { created: true };
    } catch (e) {
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
    }
    try {
      await client.schedule.getHandle(scheduleId).update((prev) => {
        if (!isOurs(prev, scheduleId)) throw new ForeignScheduleError(scheduleId);
        return {
          ...prev,
          spec: { intervals: [{ every: r.every }] },
          action: action(client, ids, taskQueue, r),
        };
      });
      return { created: false };
    } catch (e) {
      // Deleted in between: create it again. A schedule just deleted can still refuse a create for a moment (its
      // workflow is closing), so the retries back off: 100, 200, 400, 800 ms, inside the request's deadline.
      if (attempt < 4 && scheduleGone(e)) {
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        continue;
      }
      throw e;
    }
  }
}

/**
 * A schedule with the mailbox's schedule id that this application did not create (its action is not our scheduled
 * sync with our workflow id): it is never updated, paused, resumed or deleted through the API.
 */
export class ForeignScheduleError extends Error {
  override name = 'ForeignScheduleError';
  constructor(readonly scheduleId: string) {
    super(`schedule ${scheduleId} exists but was not created by gmail-lake (its action is not a mailbox sync): left as it is`);
  }
}

/** Whether a schedule is the one `upsertSyncSchedule` creates for this id. */
function isOurs(d: Pick<ScheduleDescription, 'action'>, scheduleId: string): boolean {
  return (
    d.action.type === 'startWorkflow' &&
    d.action.workflowType === 'scheduledSyncWorkflow' &&
    d.action.workflowId === `${scheduleId}-scheduled`
  );
}

/** A schedule that no longer exists: the client's ScheduleNotFoundError, or gRPC NOT_FOUND (5) under its wrapper. */
function scheduleGone(err: unknown): boolean {
  return causeChain(err).some((e) => e instanceof ScheduleNotFoundError || (e as { code?: unknown }).code === 5);
}

/** The schedule's state, or null when the mailbox has none. */
export async function describeSyncSchedule(client: Client, ids: MailboxIds, account: string): Promise<SyncScheduleInfo | null> {
  const id = ids.schedule(account);
  try {
    const d = await client.schedule.getHandle(id).describe();
    if (!isOurs(d, id)) return null;
    const every = d.spec.intervals?.[0]?.every;
    return {
      id,
      every: every === undefined ? null : typeof every === 'number' ? msToEvery(every) : String(every),
      paused: d.state.paused,
      note: d.state.note ?? null,
      nextRunAt: d.info.nextActionTimes[0]?.toISOString() ?? null,
      recentRuns: d.info.recentActions.slice(-10).map((a) => ({
        scheduledAt: a.scheduledAt.toISOString(),
        workflowId: a.action.workflow.workflowId,
        runId: a.action.workflow.firstExecutionRunId,
      })),
    };
  } catch (e) {
    if (scheduleGone(e)) return null;
    throw e;
  }
}

/** Pauses, resumes or deletes the schedule; false when the mailbox has none. */
export async function controlSyncSchedule(
  client: Client,
  ids: MailboxIds,
  account: string,
  op: 'pause' | 'resume' | 'delete',
  note?: string,
): Promise<boolean> {
  const id = ids.schedule(account);
  const handle = client.schedule.getHandle(id);
  try {
    if (!isOurs(await handle.describe(), id)) throw new ForeignScheduleError(id);
    if (op === 'pause') await handle.pause(note ?? 'paused through the API');
    else if (op === 'resume') await handle.unpause(note ?? 'resumed through the API');
    else await handle.delete();
    return true;
  } catch (e) {
    if (scheduleGone(e)) return false;
    throw e;
  }
}
