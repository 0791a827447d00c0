import type { ExtractionProgress, ExtractionStall } from '../workflows/contracts.js';

/** A pending activity as `describe()` reports it (the fields a stall is read from). */
export interface PendingActivity {
  activityType?: { name?: string | null } | null;
  attempt?: number | null;
  lastFailure?: { message?: string | null } | null;
}

/**
 * The fix an operator applies for a failure an activity keeps retrying: the ones that are theirs to fix (the catalog,
 * the disk, the object store, the credentials) named as such; anything else is Gmail's or the network's and passes.
 */
export function fixFor(error: string): string {
  if (/Failure exceeds size limit/i.test(error))
    return 'the activity\'s failure was too large for Temporal to keep: the worker\'s log has it ("Activity failed")';
  if (/No space left|ENOSPC|disk (is )?full/i.test(error))
    return "the worker's disk is full: free space under DATA_DIR / LAKE_STAGING_DIR (batches stage there)";
  if (/project'?s? quota|ProjectQuota/i.test(error))
    return "the project quota's bookings cannot be made: check the PostgreSQL server of LAKE_PG_DSN (they are kept there)";
  // libpq's own words when the server goes away mid-query ("server closed the connection unexpectedly", "terminating
  // connection due to administrator command", "the database system is shutting down"), whichever query DuckLake ran,
  // and the postgres extension's own when libpq gives no words at all (`Failed to execute query "ROLLBACK": `).
  if (
    /postgres|catalog|TransactionContext|server closed the connection|terminating connection|database system is|Failed to execute query "[^"]*":\s*$/i.test(
      error,
    )
  )
    return "the lake's catalog does not answer: check the PostgreSQL server of LAKE_PG_DSN (the run continues once it does)";
  if (/S3|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|NoSuchBucket|amazonaws|minio/i.test(error))
    return 'the object store refuses the lake: check the bucket of LAKE_DATA_PATH and the AWS_* credentials the workers have';
  if (/ECONNREFUSED|connection refused|could not connect|ETIMEDOUT|EHOSTUNREACH/i.test(error))
    return 'a server the workers need does not answer (the PostgreSQL of LAKE_PG_DSN, the object store): start it; the run continues';
  if (/Gmail|HTTP (429|5\d\d)|rate limit/i.test(error)) return 'Gmail is refusing or failing requests; they are retried with backoff';
  return 'retried with backoff; see the pending activity in the Temporal Web UI';
}

/**
 * Whether a running extraction is stalled: not paused, nothing committed for `afterMs` while it is preparing,
 * extracting or draining — with what the activities in flight last failed with, and since when.
 */
export function stallOf(p: ExtractionProgress, pending: PendingActivity[], now: number, afterMs: number): ExtractionStall | null {
  if (p.status !== 'running' || !['preparing', 'extracting', 'draining'].includes(p.phase) || !p.updatedAt) return null;
  const since = Date.parse(p.updatedAt);
  if (!(now - since >= afterMs)) return null;
  const failing = pending.filter((a) => a.lastFailure?.message).sort((a, b) => (b.attempt ?? 0) - (a.attempt ?? 0))[0];
  const lastError = failing?.lastFailure?.message ?? null;
  return {
    since: new Date(since).toISOString(),
    lastError,
    activity: failing?.activityType?.name ?? pending[0]?.activityType?.name ?? null,
    attempts: failing?.attempt ?? null,
    fix: lastError ? fixFor(lastError) : 'no activity reports a failure: are the workers running (`gmail-lake doctor`)?',
  };
}
