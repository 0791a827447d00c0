import { recordRun } from '../lake/runs.js';
import { type ActivityDeps, activityLog, execution, heartbeating } from './context.js';

/** The lake's compaction: every worker's, and all a compactor (`npm run compactor`) serves. */
export function compactionActivities(deps: Pick<ActivityDeps, 'lake' | 'logger'>) {
  return {
    /** Merges small data files (routine maintenance; safe to run any time, by any worker). Heartbeats while it works. */
    async compactLake(): Promise<{ filesBefore: number; filesAfter: number }> {
      const r = await heartbeating(() => deps.lake.compact());
      activityLog(deps).info(r, 'lake compacted');
      return r;
    },
  };
}

/** Lake maintenance and run records. */
export function lakeActivities(deps: ActivityDeps) {
  return {
    ...compactionActivities(deps),

    /** Appends the run's closing record (completed, failed, canceled). */
    async recordExtractionEvent(input: { account: string; extractionKey: string; event: string; detail?: string }): Promise<void> {
      const info = execution();
      await recordRun(deps.lake, { ...input, workflowId: info.workflowId, runId: info.runId });
      activityLog(deps).info({ event: input.event, detail: input.detail }, 'extraction event');
    },
  };
}
