import { FAILURE } from '../workflows/contracts.js';

/**
 * Gmail failures, classified once. Transient ones (429, 403 rate limits, 5xx, network, truncated bodies) are retried
 * with backoff by `withRetry`, then rethrown for Temporal's retry policy; permanent ones become non-retryable activity
 * failures with one of these types (the workflow reads `type`, never `instanceof`).
 */
export const GMAIL_FAILURE = {
  auth: FAILURE.gmailAuth,
  invalidRequest: FAILURE.gmailInvalidRequest,
  permission: FAILURE.gmailPermission,
  pageTokenExpired: FAILURE.gmailPageTokenExpired,
  historyExpired: FAILURE.gmailHistoryExpired,
  transient: FAILURE.gmailTransient,
} as const;

export type GmailErrorKind = 'transient' | 'notFound' | 'auth' | 'invalidRequest' | 'permission';

interface ErrorLike {
  code?: string | number;
  status?: number;
  message?: string;
  response?: { status?: number; data?: unknown };
}

const RATE_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded', 'backendError']);

function reasons(data: unknown): string[] {
  const d = data as { error?: { errors?: { reason?: string }[] } | string } | undefined;
  if (!d || typeof d.error !== 'object') return [];
  return (d.error.errors ?? []).map((e) => e.reason ?? '');
}

/** The HTTP status Google answered with, wherever googleapis/gaxios put it (none: the request got no answer). */
function statusOf(err: unknown): number | undefined {
  const e = (err ?? {}) as ErrorLike;
  return e.response?.status ?? e.status ?? (typeof e.code === 'number' ? e.code : undefined);
}

/** Classifies an error thrown by googleapis/gaxios/google-auth-library. */
export function classifyGmailError(err: unknown): GmailErrorKind {
  const e = (err ?? {}) as ErrorLike;
  const status = statusOf(err);
  const data = e.response?.data as { error?: unknown } | undefined;
  if (data && (data.error === 'invalid_grant' || data.error === 'invalid_client' || data.error === 'unauthorized_client')) return 'auth';
  if (/invalid_grant|invalid_client/.test(e.message ?? '')) return 'auth';
  if (status === undefined) return 'transient'; // network error, reset, truncated body
  if (status === 401) return 'auth';
  if (status === 404) return 'notFound';
  if (status === 429 || status === 408 || status >= 500) return 'transient';
  if (status === 403) return reasons(data).some((r) => RATE_REASONS.has(r)) ? 'transient' : 'permission';
  if (status === 400) return 'invalidRequest';
  return 'transient';
}

/**
 * `400 Precondition check failed` (failedPrecondition). On `messages.get` Gmail answers it to a small share of requests
 * and the same get then succeeds (Open Archiver #441): the client retries it there. Anywhere else, and persistently, it
 * means Gmail is not enabled for the user (or the user is gone): a permanent answer, as any other 400.
 */
export function isFailedPrecondition(err: unknown): boolean {
  return statusOf(err) === 400 && reasons((err as ErrorLike | undefined)?.response?.data).includes('failedPrecondition');
}

/** A readable one-line reason for logs and the extraction's `error` field. */
export function describeGmailError(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  const status = e.response?.status ?? e.status;
  const data = e.response?.data as { error?: { message?: string } | string; error_description?: string } | undefined;
  const detail =
    typeof data?.error === 'object'
      ? data.error.message
      : (data?.error_description ?? (typeof data?.error === 'string' ? data.error : undefined));
  return [status ? `HTTP ${status}` : undefined, detail ?? e.message].filter(Boolean).join(': ');
}
