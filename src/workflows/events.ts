import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { deliverEvent } from './activities.js';
import type { LifecycleEvent } from './contracts.js';

const { webhookSubscribers } = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 20 } });

/**
 * Delivers one lifecycle event to every webhook subscriber the workers are configured with, outside the run that
 * published it (started as an abandoned child): an extraction ends when its work ends, whatever its subscribers do.
 * One delivery per subscriber, each retried on its own (`deliverEvent`'s policy: a day, at most 10 s apart), so one
 * that is down never makes the others receive an event twice.
 * Returns the subscribers that took it; a subscriber that refused it for good (4xx) or stayed down for a day fails
 * only its own delivery, and this workflow then fails naming them.
 */
export async function deliverEventWorkflow(event: LifecycleEvent): Promise<{ delivered: number; subscribers: number }> {
  const { subscribers } = await webhookSubscribers();
  const results = await Promise.allSettled(Array.from({ length: subscribers }, (_, subscriber) => deliverEvent({ ...event, subscriber })));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`subscriber ${i + 1}: ${(r.reason as Error).message}`] : []));
  if (failed.length)
    throw ApplicationFailure.nonRetryable(
      `event ${event.id} not delivered to ${failed.length} of ${subscribers}: ${failed.join('; ')}`,
      'EventNotDelivered',
    );
  return { delivered: subscribers, subscribers };
}
