import {
  CancellationScope,
  condition,
  log,
  ParentClosePolicy,
  patched,
  sleep,
  startChild,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { deliverEvent } from './activities.js';
import type { ExtractionPhase } from './contracts.js';
import { deliverEventWorkflow } from './events.js';
import { PATCHES } from './patches.js';

/**
 * Lifecycle events of a workflow (webhooks): numbered per workflow (the sequence travels through continue-as-new in
 * `state.eventSeq`), each delivered by its own `deliverEventWorkflow`, started as an abandoned child — one delivery per
 * subscriber, retried for a day — so a run ends when its work ends, whatever its subscribers do; cancelling the
 * workflow never cancels a delivery. `delivered()` waits until every delivery has started (not ended): a workflow
 * awaits it before it ends. Nothing is published when `enabled` is off.
 */
export function lifecycleEvents(enabled: boolean, state: { eventSeq?: number }) {
  const pending: Promise<unknown>[] = [];
  return {
    publish(type: string, data: unknown): void {
      if (!enabled) return;
      const seq = (state.eventSeq = (state.eventSeq ?? 0) + 1);
      const { workflowId, firstExecutionRunId } = workflowInfo();
      const event = { id: `${workflowId}/${firstExecutionRunId}/${seq}`, type, subject: workflowId, data };
      const warn = (err: unknown) =>
        log.warn('lifecycle event not delivered', { type, error: err instanceof Error ? err.message : String(err) });
      if (patched(PATCHES.eventsOutsideRun)) {
        pending.push(
          CancellationScope.nonCancellable(() =>
            startChild(deliverEventWorkflow, {
              workflowId: `${workflowId}/event/${firstExecutionRunId}/${seq}`,
              args: [event],
              parentClosePolicy: ParentClosePolicy.ABANDON,
              // The event's own id: a repeat start (a reset, a replayed start) is refused, never delivered twice.
              workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
              staticSummary: `lifecycle event ${type} of ${workflowId}`,
            }),
          ).catch(warn),
        );
        return;
      }
      // Runs that began before the patch deliver in the run, as they did.
      pending.push(CancellationScope.nonCancellable(() => deliverEvent(event)).catch(warn));
    },
    delivered: () => CancellationScope.nonCancellable(() => Promise.all(pending)),
  };
}

/**
 * Publishes `stalled` once per stall: nothing moved for `afterMs` (no batch committed, no pause or resume: what
 * `state.updatedAt` records) while the run is not paused and prepares, extracts or drains — what GET /extract calls
 * stalled, where the pending failure and its fix are read. One timer per `afterMs` at most while batches commit; a
 * stall ends when anything moves again. Returns when the run is done.
 */
export async function watchStalls(
  afterMs: number,
  state: { updatedAt: number; paused: boolean },
  phase: () => ExtractionPhase,
  publish: (type: string) => void,
): Promise<void> {
  while (phase() !== 'done') {
    const due = state.updatedAt + afterMs - Date.now();
    if (due > 0) {
      await sleep(due);
      continue;
    }
    if (!state.paused && ['preparing', 'extracting', 'draining'].includes(phase())) publish('stalled');
    const at = state.updatedAt;
    await condition(() => state.updatedAt !== at || phase() === 'done');
  }
}
