import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './context.js';
import type { LifecycleEvent } from '../workflows/contracts.js';

/**
 * The HMAC key of a webhook secret, as Standard Webhooks reads one: `whsec_<base64>` (the form their libraries issue
 * and verify with `new Webhook(secret)`) is the decoded bytes; any other secret is its own UTF-8 bytes (verified with
 * `new Webhook(secret, { format: 'raw' })`).
 */
export const webhookKey = (secret: string): Buffer =>
  secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');

/** The signature a subscriber recomputes: HMAC-SHA256 over `<id>.<timestamp>.<body>`, base64 (Standard Webhooks v1). */
export const webhookSignature = (secret: string, id: string, timestamp: string, body: string) =>
  `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;

/**
 * Lifecycle events to webhook subscribers, as CloudEvents 1.0 (structured JSON), signed. One activity per event; a
 * subscriber that is down or answers 5xx/408/429 makes it fail and Temporal retries it (see the workflow's policy), so
 * a subscriber back within the retry window receives every event; each carries the same id on every attempt. A 4xx
 * other than 408/429 is permanent: retrying would not change the answer.
 */
export function eventActivities(deps: ActivityDeps) {
  return {
    /** How many subscribers this worker delivers to (WEBHOOK_URLS): one delivery each. */
    async webhookSubscribers(): Promise<{ subscribers: number }> {
      return { subscribers: deps.webhooks?.urls.length ?? 0 };
    },

    async deliverEvent(event: LifecycleEvent): Promise<{ delivered: number }> {
      const hooks = deps.webhooks;
      if (!hooks?.urls.length) return { delivered: 0 };
      const urls = event.subscriber === undefined ? hooks.urls : hooks.urls.slice(event.subscriber, event.subscriber + 1);
      if (!urls.length) throw ApplicationFailure.nonRetryable(`no webhook subscriber ${event.subscriber} on this worker`, 'WebhookRefused');
      const body = JSON.stringify({
        specversion: '1.0',
        id: event.id,
        source: hooks.source,
        type: `dev.gmail-lake.extraction.${event.type}`,
        subject: event.subject,
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: event.data,
      });
      for (const url of urls) {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/cloudevents+json',
            'webhook-id': event.id,
            'webhook-timestamp': timestamp,
            'webhook-signature': webhookSignature(hooks.secret, event.id, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        if (res.ok) continue;
        const message = `webhook ${new URL(url).origin} answered ${res.status} to event ${event.id}`;
        if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(message);
        throw ApplicationFailure.nonRetryable(message, 'WebhookRefused');
      }
      return { delivered: urls.length };
    },
  };
}
