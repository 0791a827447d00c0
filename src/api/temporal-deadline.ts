import { Connection, defaultGrpcRetryOptions, type GrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TemporalConnection } from '../temporal-connection.js';

/**
 * How long a request waits for a Temporal server that answers, however slowly (a busy server on a small machine can
 * take several seconds), before the API answers 503.
 */
export const TEMPORAL_DEADLINE_MS = 10_000;

/** How long `/readyz` waits: a readiness probe should learn quickly that this replica cannot serve. */
export const READINESS_DEADLINE_MS = 3000;

/** gRPC's UNAVAILABLE status code. */
const UNAVAILABLE = 14;

/** Attempts of a call that finds no server (gRPC UNAVAILABLE) before it fails: ~0.5 s of backoff in all. */
const UNAVAILABLE_ATTEMPTS = 3;

/**
 * The client's retries, except that a server that cannot be reached fails fast: the SDK's default would retry
 * UNAVAILABLE for ~20 s, so a stopped server would hold every request until its deadline. Busy answers
 * (RESOURCE_EXHAUSTED) and a slow server still get the whole deadline.
 */
export const apiRetryOptions = (): GrpcRetryOptions => {
  const base = defaultGrpcRetryOptions();
  return {
    delayFunction: base.delayFunction,
    retryableDecider: (attempt, status) =>
      base.retryableDecider(attempt, status) && !(Number(status.code) === UNAVAILABLE && attempt >= UNAVAILABLE_ATTEMPTS),
  };
};

/** The connection a process serving the API uses (its worker's activities share it; they retry anyway). */
export const connectForApi = (address: string, settings: TemporalConnection = {}) =>
  Connection.connect({ address, ...settings, interceptors: [makeGrpcRetryInterceptor(apiRetryOptions())] });

/**
 * Runs `fn`'s Temporal calls under one deadline (the connection's `withDeadline`) and a timer bounding the whole (the
 * client's retry backoff can sleep past a call's deadline). Calls still running are tracked in `inFlight`, so a
 * stopping process lets them end before it closes the connection.
 */
export function deadlineBound(connection: Connection, inFlight: Set<Promise<unknown>>) {
  return <T>(fn: () => Promise<T>, ms = TEMPORAL_DEADLINE_MS): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('Temporal did not answer in time (DEADLINE_EXCEEDED)'), { code: 4 })), ms);
    });
    const call = connection.withDeadline(Date.now() + ms, fn);
    inFlight.add(call);
    void call.then(
      () => inFlight.delete(call),
      () => inFlight.delete(call),
    );
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  };
}
