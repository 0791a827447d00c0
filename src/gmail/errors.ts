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

/** Classifies an error thrown by googleapis/gaxios/google-auth-library. */
export function classifyGmailError(err: unknown): GmailErrorKind {
  const e = (err ?? {}) as ErrorLike;
  const status = e.response?.status ?? e.status ?? (typeof e.code === 'number' ? e.code : undefined);
  const data = e.response?.data as { error?: unknown } | undefined;
  if (data && (data.error === 'invalid_grant' || data.error === 'invalid_client' || data.error === 'unauthorized_client')) return 'auth';
  if (/invalid_grant|invalid_client/.test(e.message ?? '')) return 'auth';
  if (status === undefined) return 'transient'; // network error, reset, truncated body
  if (status === 401) return 'auth';
  if (status === 404) return 'notFound';
  if (status === 429 || status === 408 || status >= 500) return 'transient';
  if (status === 403) return reasons(data).some((r) => RATE_REASONS.has(r)) ? 'transient' : 'permission';
  // Gmail answers a small share of gets `400 Precondition check failed` and the same request then succeeds (Open
  // Archiver #441): worth retries. Persistent, it ends as that message's failure (quarantined), not the mailbox's.
  if (status === 400) return reasons(data).includes('failedPrecondition') ? 'transient' : 'invalidRequest';
  return 'transient';
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
