import type { Lake } from '../lake/lake.js';
import { recordRun } from '../lake/runs.js';
import { type ActivityDeps, activityLog, execution, heartbeating } from './context.js';

/**
 * The lake's compaction: every worker's (on its own lake), and all a compactor (`npm run compactor`) serves. `withLake`
 * lends the lake to compact: a worker's is the process's; a compactor's is a DuckDB instance of its own per compaction.
 */
export function compactionActivities(deps: Pick<ActivityDeps, 'logger'> & { withLake: <T>(fn: (lake: Lake) => Promise<T>) => Promise<T> }) {
  return {
    /** Merges small data files (routine maintenance; safe to run any time, by any worker). Heartbeats while it works. */
    async compactLake(): Promise<{ filesBefore: number; filesAfter: number }> {
      const r = await heartbeating(() => deps.withLake((lake) => lake.compact()));
      activityLog(deps).info(r, 'lake compacted');
      return r;
    },
  };
}

/** Lake maintenance and run records. */
export function lakeActivities(deps: ActivityDeps) {
  return {
    ...compactionActivities({ logger: deps.logger, withLake: (fn) => fn(deps.lake) }),

    /** Appends the run's closing record (completed, failed, canceled). */
    async recordExtractionEvent(input: { account: string; extractionKey: string; event: string; detail?: string }): Promise<void> {
      const info = execution();
      await recordRun(deps.lake, { ...input, workflowId: info.workflowId, runId: info.runId });
      activityLog(deps).info({ event: input.event, detail: input.detail }, 'extraction event');
    },
  };
}
