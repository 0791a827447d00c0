// Intervals as people write them (`30s`, `15m`, `1h`, `1d`): sync schedules and configuration read them alike.

/** `15m`, `1h`, `30s`, `1d`: the interval of a sync schedule (at least 1 s, at most 30 days). */
export const EVERY_PATTERN = /^([1-9]\d{0,6})(s|m|h|d)$/;

export function everyToMs(every: string): number {
  const m = EVERY_PATTERN.exec(every);
  if (!m) throw new Error(`interval ${JSON.stringify(every)} is not like 30s, 15m, 1h or 1d`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** An interval as it was written (`15m`, not `900s`): the largest unit that divides it. */
export function msToEvery(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}
