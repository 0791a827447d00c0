import { setTimeout as delay } from 'node:timers/promises';
import { classifyGmailError } from './errors.js';

export interface RetryOptions {
  /** Attempts in all (1 = no retry). */
  attempts: number;
  /** First backoff in ms; doubles each attempt up to maxDelayMs, with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Aborts the waits (and so the retries) when the caller is cancelled. */
  signal?: AbortSignal;
  /** Whether an error is worth another attempt (default: the transient ones). */
  retryable?: (err: unknown) => boolean;
}

/**
 * Retries transient Gmail errors (429, 403 rate limits, 5xx, network) with exponential backoff and full jitter.
 * This is the only request-level retry: googleapis' own retry is turned off, and Temporal retries the activity only
 * after these attempts are spent, so retries do not multiply silently.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const retryable = options.retryable ? options.retryable(err) : classifyGmailError(err) === 'transient';
      if (attempt >= options.attempts || !retryable) throw err;
      const ms = Math.random() * Math.min(max, base * 2 ** (attempt - 1));
      await delay(ms, undefined, { signal: options.signal });
    }
  }
}
