import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { redact } from '../redact.js';

/**
 * Activity failures reach Temporal (history, the pending activity's last failure, the Web UI) with their message and
 * stack: whatever threw them (DuckDB quoting a DSN, a client quoting a token), secrets are masked first.
 */
export class RedactFailures implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (e) {
      for (let err: unknown = e, depth = 0; err instanceof Error && depth < 5; err = err.cause, depth++) {
        err.message = redact(err.message);
        if (err.stack) err.stack = redact(err.stack);
      }
      throw e;
    }
  }
}
