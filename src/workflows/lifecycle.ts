import { CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import { deliverEvent } from './activities.js';

/**
 * Lifecycle events of a workflow (webhooks): numbered per workflow (the sequence travels through continue-as-new in
 * `state.eventSeq`), each delivered by an activity Temporal retries; cancelling the workflow never cancels a delivery.
 * `delivered()` waits for all of them: a workflow awaits it before it ends. Nothing is published when `enabled` is off.
 */
export function lifecycleEvents(enabled: boolean, state: { eventSeq?: number }) {
  const deliveries: Promise<unknown>[] = [];
  return {
    publish(type: string, data: unknown): void {
      if (!enabled) return;
      const seq = (state.eventSeq = (state.eventSeq ?? 0) + 1);
      const { workflowId, firstExecutionRunId } = workflowInfo();
      deliveries.push(
        CancellationScope.nonCancellable(() =>
          deliverEvent({ id: `${workflowId}/${firstExecutionRunId}/${seq}`, type, subject: workflowId, data }),
        ).catch((err: unknown) =>
          log.warn('lifecycle event not delivered', { type, error: err instanceof Error ? err.message : String(err) }),
        ),
      );
    },
    delivered: () => CancellationScope.nonCancellable(() => Promise.all(deliveries)),
  };
}
