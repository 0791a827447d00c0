import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

/** Adds `from`'s counts into `into`, key by key (a step's quota units, changes or rows into its run's). */
export function addCounts<K extends string>(into: { [P in K]?: number }, from: { [P in K]?: number } | undefined): void {
  for (const k of Object.keys(from ?? {}) as K[]) into[k] = (into[k] ?? 0) + (from![k] ?? 0);
}

/** The `type` of the application failure behind an activity failure (the workflows match on it, never `instanceof`). */
export function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}
