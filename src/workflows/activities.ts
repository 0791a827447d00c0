import { ActivityCancellationType, ActivityFailure, isCancellation, log, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE } from './contracts.js';
import { IMPORT_FAILURE } from './import-contracts.js';

/**
 * How the workflows call their activities: each one's timeouts and retry policy, in one place. Permanent failures
 * (NON_RETRYABLE types) are never retried; everything else is, by Temporal, with backoff.
 */

const gmailRetry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '5m',
  nonRetryableErrorTypes: NON_RETRYABLE,
};
/** They heartbeat every second (heartbeatingEach): a worker lost mid-call is noticed in 5 s, not at the 2 minutes. */
export const { prepareExtraction, listPage } = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '5s',
  retry: gmailRetry,
});
/**
 * The batch activity heartbeats every second, so a 5 s heartbeat timeout notices a dead worker (kill -9, lost host)
 * within 5 s and Temporal retries the batch on another worker at once: the trade-off is one heartbeat RPC per second
 * per batch in flight, and a false timeout (a redone batch, never a duplicate row) if a worker stalls for 5 s.
 */
export const { extractBatch } = proxyActivities<Activities>({
  // A cancelled batch settles only once its worker has stopped it (or it committed meanwhile): a cancelled run waits
  // for that (see PATCHES.cancelWaitsForBatches). Said explicitly: the SDK's unset value is TRY_CANCEL, which does not.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  startToCloseTimeout: '15m',
  heartbeatTimeout: '5s',
  retry: { ...gmailRetry, initialInterval: '500ms', maximumInterval: '1m' },
});
/** One chunk of an mbox import: heartbeats every second, so a dead worker's chunk is re-run elsewhere within 5 s. */
export const { importChunk } = proxyActivities<Activities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    // Bounded: a chunk that keeps failing (a lake error, a worker killed by it) fails the import instead of retrying forever.
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...NON_RETRYABLE, ...Object.values(IMPORT_FAILURE)],
  },
});
export const { prepareImport } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});
export const { recordExtractionEvent, handOverToSync, ensureSyncSchedule } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 10 },
});
/**
 * One lifecycle event to a subscriber (or, for runs begun before `events-outside-run`, to each in turn): retried for a
 * day, at most 10 s apart, so a subscriber back within a day receives it. See deliverEventWorkflow.
 */
export const { deliverEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['WebhookRefused'] },
});
/** How long a compaction waits on its own task queue (LAKE_COMPACTION_TASK_QUEUE) for a compactor to take it. */
const COMPACTOR_WAIT = '5m';

/**
 * Maintenance never fails an extraction or a fleet: a compaction that keeps failing is logged and skipped. `quick`:
 * a dead compactor is noticed after 5 s instead of 30 s. `queue`: the compactors' task queue (`npm run compactor`),
 * where a compaction no compactor takes within COMPACTOR_WAIT is skipped; absent, the run's own.
 */
export async function compact(quick = false, queue?: string): Promise<void> {
  const { compactLake } = proxyActivities<Activities>({
    startToCloseTimeout: '30m',
    // quick: its death noticed as fast as a batch's (PATCHES.compactionBesideBatches); it heartbeats every second.
    heartbeatTimeout: quick ? '5s' : '30s',
    retry: { maximumAttempts: 2 },
    ...(queue && { taskQueue: queue, scheduleToStartTimeout: COMPACTOR_WAIT }),
  });
  try {
    await compactLake();
  } catch (err) {
    if (isCancellation(err)) throw err;
    const waited =
      queue && err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
    if (waited)
      log.warn(`no compactor took the lake's compaction within ${COMPACTOR_WAIT}: is \`npm run compactor\` running?`, { taskQueue: queue });
    else log.warn('lake compaction failed; continuing without it', { error: err instanceof Error ? err.message : String(err) });
  }
}

/** Syncs: a step that keeps failing transiently is retried 20 times, up to a minute apart. */
const syncRetry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 20,
  nonRetryableErrorTypes: NON_RETRYABLE,
};
export const { beginSync, recordSync } = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: syncRetry });
export const { syncHistoryPage } = proxyActivities<Activities>({ startToCloseTimeout: '15m', heartbeatTimeout: '10s', retry: syncRetry });
export const { reconcileMailbox } = proxyActivities<Activities>({ startToCloseTimeout: '24h', heartbeatTimeout: '30s', retry: syncRetry });

export const { planFleet, fleetMailboxes } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE },
});

const { refreshLabels } = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: '3m',
  heartbeatTimeout: '5s',
  // Bounded: labels that cannot be read must not hold a backfill whose messages are all stored.
  retry: { ...gmailRetry, maximumAttempts: 5 },
});
/**
 * The labels snapshot taken again as a backfill ends (a label renamed or created while it ran gets its name in the
 * lake); its quota units. A failure is logged and passes: every message is stored, and the labels keep the names they
 * had as the backfill began until the next sync.
 */
export async function refreshLabelsAtEnd(account: string): Promise<Record<string, number> | undefined> {
  try {
    return (await refreshLabels({ account })).units;
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('labels not refreshed at the end', { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}
