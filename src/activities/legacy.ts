/**
 * Version 1 batch activities (fetch on one worker, persist from that worker's staging disk), kept only so that runs
 * started by version 1 workflow code can finish: their histories schedule these by name. New runs use `extractBatch`
 * (see the `batch-v2` patch in src/workflows/extraction.ts). Delete this file together with that patch's old branch
 * once `temporal workflow list --query "ExecutionStatus='Running'"` shows no run started before the v2 release.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type Checkpoint, FAILURE } from '../workflows/contracts.js';
import type { MessageFormat } from '../gmail/client.js';
import { dropStaged, isStaged, openStagedBatch, persistStaged, stagedBatchDir } from '../lake/batches.js';
import { fetchToStaging } from './batch.js';
import { type ActivityDeps, activityLog, execution, heartbeating, rethrowGmail } from './context.js';

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

export function legacyActivities(deps: ActivityDeps) {
  return {
    /** v1: fetches a batch and stages it on this worker's disk. */
    async fetchBatch(input: FetchInput): Promise<FetchResult> {
      const ctx = Context.current();
      const extractionId = execution().workflowId;
      const staged = await openStagedBatch(stagedBatchDir(deps.stagingDir, extractionId, `${execution().runId}-${input.batchId}`));
      try {
        const counts = await fetchToStaging(
          deps,
          deps.gmail.scoped({ signal: ctx.cancellationSignal }),
          staged,
          { ...input, extractionId },
          (c) => ctx.heartbeat({ batchId: input.batchId, done: c.fetched + c.skipped, of: input.ids.length }),
        );
        return { staged: await staged.close(), ...counts };
      } catch (err) {
        await staged.close().catch(() => undefined);
        await dropStaged(staged.dir);
        rethrowGmail(err, activityLog(deps));
      }
    },

    /** v1: commits a batch staged by fetchBatch on this worker (StagedBatchMissing when another host fetched it). */
    async persistBatch(input: PersistInput): Promise<{ inserted: number }> {
      const info = execution();
      if (!(await isStaged(input.staged)))
        throw ApplicationFailure.nonRetryable(`staged batch ${input.checkpoint.batchId} is not on this worker`, FAILURE.stagedBatchMissing);
      const { inserted } = await heartbeating(() =>
        persistStaged(deps.lake, input.staged, { ...input.checkpoint, workflowId: info.workflowId, runId: info.runId }),
      );
      await dropStaged(input.staged);
      return { inserted };
    },
  };
}
