import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of this process (prom-client): what it listed, fetched and persisted, every Gmail response by
 * method and status, the quota units it spent, activity latencies, Node's own process metrics — and, appended at
 * scrape time, the Temporal SDK's runtime metrics (see `metricsText`). Served at the API's `/metrics` and, in a
 * worker-only process, on METRICS_PORT.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'gmail_lake_' });

/** What each counter counts (its HELP line at /metrics), by metric name. */
const HELP = {
  gmail_lake_messages_total:
    'Messages by stage: listed, fetched, persisted (new rows), present (already stored), skipped (gone from Gmail), failed (refused by Gmail through every attempt: quarantined in failed_messages)',
  gmail_lake_gmail_responses_total: 'Gmail API responses by method and HTTP status (network: no response)',
  gmail_lake_auth_refused_total:
    'Gmail calls refused for their credentials, by reason: expired (a refresh token expired or revoked: run `gmail-lake login`), client (the OAuth client was deleted), refused (any other)',
  gmail_lake_quota_units_total: "Gmail quota units spent, by method, priced with the configured profile's costs",
};
const counter = <L extends string>(name: keyof typeof HELP, labelNames: readonly L[]) =>
  new Counter({ name, help: HELP[name], labelNames, registers: [registry] });

export const messagesTotal = counter('gmail_lake_messages_total', ['stage']);
export const gmailResponses = counter('gmail_lake_gmail_responses_total', ['method', 'status']);
export const authRefused = counter('gmail_lake_auth_refused_total', ['reason']);
export const quotaUnits = counter('gmail_lake_quota_units_total', ['method']);

export const activityDuration = new Histogram({
  name: 'gmail_lake_activity_duration_seconds',
  help: 'Activity executions by activity type and outcome (completed, failed, cancelled)',
  labelNames: ['activity', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

/** Where the Temporal SDK's own Prometheus exporter listens in this process, once a worker runtime installed it. */
let sdkMetricsUrl: string | undefined;
export function setSdkMetricsAddress(address: string): void {
  sdkMetricsUrl = `http://${address}/metrics`;
}

/** The exposition text: this process's metrics, then the Temporal SDK's (worker slots, polls, task latencies). */
export async function metricsText(): Promise<string> {
  const own = await registry.metrics();
  if (!sdkMetricsUrl) return own;
  const sdk = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) })
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  return sdk ? `${own}\n${sdk}` : own;
}
