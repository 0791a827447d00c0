import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { causeChain } from '../causes.js';
import { FAILURE } from '../workflows/contracts.js';
import { redact } from '../redact.js';

/** DuckDB's error classes that name the statement, not the moment: retrying cannot help. */
const DETERMINISTIC = /^(Parser|Binder|Conversion|Invalid Input|Syntax) Error:/;
/**
 * …except where the message reports the moment after all: reading the result of a statement that failed because the
 * catalog's connection broke mid-transaction (a PostgreSQL restart) says "Invalid Input Error: Attempting to fetch
 * from an unsuccessful query result" over "TransactionContext Error: Current transaction is aborted". A new attempt, in
 * a new transaction, succeeds.
 */
const MOMENTARY = /unsuccessful query result|TransactionContext Error|transaction is aborted|IO Error|connection/i;

/**
 * The activity boundary. Failures reach Temporal (history, the pending activity's last failure, the Web UI) with their
 * message and stack: whatever threw them (DuckDB quoting a DSN, a client quoting a token), secrets are masked first.
 * And a failure that would repeat on every attempt (DuckDB refusing a statement as written) is made non-retryable, so
 * it fails the run with its reason instead of being retried without end.
 */
export class RedactFailures implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (e) {
      for (const err of causeChain(e)) {
        if (!(err instanceof Error)) continue;
        err.message = redact(err.message);
        if (err.stack) err.stack = redact(err.stack);
      }
      if (e instanceof Error && !(e instanceof ApplicationFailure) && DETERMINISTIC.test(e.message) && !MOMENTARY.test(e.message)) {
        throw ApplicationFailure.create({ message: e.message, type: FAILURE.lakeQueryInvalid, nonRetryable: true, cause: e });
      }
      throw e;
    }
  }
}
