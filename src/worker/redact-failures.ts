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
 * Temporal keeps a pending activity's last failure only up to a size (the server's
 * `limit.mutableStateActivityFailureSize.error`, 4 KB by default) and shows "Failure exceeds size limit." instead of a
 * larger one — in the Web UI, in `describe()`, and so in a stall's reason. A DuckDB error with its stack and causes is
 * easily larger: each message and stack is cut to fit (their heads, which name the error, are kept).
 */
const MAX_MESSAGE = 600;
const MAX_STACK = 500;
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

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
        err.message = clip(redact(err.message), MAX_MESSAGE);
        if (err.stack) err.stack = clip(redact(err.stack), MAX_STACK);
      }
      if (e instanceof Error && !(e instanceof ApplicationFailure) && DETERMINISTIC.test(e.message) && !MOMENTARY.test(e.message)) {
        throw ApplicationFailure.create({ message: e.message, type: FAILURE.lakeQueryInvalid, nonRetryable: true, cause: e });
      }
      throw e;
    }
  }
}
