/**
 * Activity failure types: the one vocabulary the activities throw and the workflows match on (by `type` string,
 * never `instanceof`). Non-retryable ones end the extraction with a readable reason; the rest are retried by Temporal.
 * Safe to import from workflow code (no side effects).
 */
export const FAILURE = {
  /** Credentials invalid, expired past refresh, or revoked (401, invalid_grant). Non-retryable. */
  gmailAuth: 'GmailAuthError',
  /** The request itself is wrong (400: bad query…). Non-retryable. */
  gmailInvalidRequest: 'GmailInvalidRequest',
  /** 403 other than rate limits: no access to this mailbox or API disabled. Non-retryable. */
  gmailPermission: 'GmailPermissionDenied',
  /** A list page token Gmail no longer accepts (400 on a token it issued): the workflow restarts the listing. */
  gmailPageTokenExpired: 'GmailPageTokenExpired',
  /** history.list start id too old (404): a full re-list is needed. */
  gmailHistoryExpired: 'GmailHistoryExpired',
  /** Transient Gmail trouble left after the per-request retries (429, 403 rate limits, 5xx, network). Retryable. */
  gmailTransient: 'GmailTransientError',
  /** The per-project quota's bookings could not be made (its PostgreSQL unreachable). Retryable. */
  projectQuotaUnavailable: 'ProjectQuotaUnavailable',
  /** A staged batch holds ids the workflow did not ask for: refused, never loaded. Retryable (a new attempt restages). */
  stagedBatchMismatch: 'StagedBatchMismatch',
  /**
   * DuckDB refused a lake statement as written (parser, binder, conversion or invalid-input error): the same statement
   * would fail the same way on every attempt. Raised non-retryable at the activity boundary.
   */
  lakeQueryInvalid: 'LakeQueryInvalid',
  /** v1 only: the staged batch is not on this worker's disk (another host fetched it). */
  stagedBatchMissing: 'StagedBatchMissing',
} as const;

/** Types the workflows never retry. */
export const NON_RETRYABLE = [
  FAILURE.gmailAuth,
  FAILURE.gmailInvalidRequest,
  FAILURE.gmailPermission,
  FAILURE.gmailPageTokenExpired,
  FAILURE.stagedBatchMissing,
];
