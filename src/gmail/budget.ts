import { QUOTA_PROFILES, type QuotaProfileName } from '../env-schema.js';
import type { ProjectQuota } from './project-quota.js';
import { setTimeout as delay } from 'node:timers/promises';

export type QuotaMethod = keyof (typeof QUOTA_PROFILES)['legacy']['costs'];

/**
 * Client-side per-user quota budget: a token bucket that knows each method's cost and refills at `share` of the
 * profile's rate, so the pipeline stays under Gmail's moving-window limit instead of learning it from 403s.
 * Capacity is (1 − share) × the window's units (at least one call), which bounds any window's spend by the limit.
 * One bucket covers what one holder spends: the process-wide client holds one per mailbox for profile/list calls, and
 * each batch gets its own at the share of the mailbox's rate its workflow gave it (see GmailApi.scoped).
 */
export class QuotaBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly capacity: number;
  constructor(
    readonly profile: QuotaProfileName,
    share: number,
    private readonly now: () => number = () => performance.now(),
    /** The project-wide quota every call also spends from (shared by all mailboxes), if any. */
    private readonly project?: ProjectQuota,
    /**
     * The fraction of the mailbox's budget this bucket holds (a batch's share, 1 / batches in flight): its rate and
     * its burst both scale with it, so the buckets of a mailbox's batches in flight add up to one budget.
     */
    private readonly fraction = 1,
  ) {
    const p = QUOTA_PROFILES[profile];
    this.rate = (p.unitsPerWindow * share * fraction) / (p.windowSeconds * 1000);
    this.capacity = Math.max(p.costs.get, (1 - share) * p.unitsPerWindow * fraction);
  }

  cost(method: QuotaMethod): number {
    return QUOTA_PROFILES[this.profile].costs[method];
  }

  /**
   * Reserves the method's cost for `user` and resolves when it may be spent (rejects at once if `signal` aborts).
   * The project's quota is taken first (it paces its requests at the booked rate) and the mailbox's bucket last,
   * right before the request leaves, so requests leave at the bucket's pace whatever the project's timing before it:
   * with the project's gate last, a booking that came back late released every request queued behind it at once, past
   * the bucket, into Gmail's 1-second window (CI saw 45 userRateLimitExceeded of 1,196 requests that way).
   */
  async take(user: string, method: QuotaMethod, signal?: AbortSignal): Promise<void> {
    const cost = this.cost(method);
    if (cost === 0 || this.rate === 0) return;
    await this.project?.take(cost, signal);
    const t = this.now();
    // A batch's bucket starts empty: batches start while their mailbox's other batches spend, so a full start would
    // add a burst above the mailbox's rate each time one starts.
    const b = this.buckets.get(user) ?? { tokens: this.fraction < 1 ? 0 : this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.rate) - cost;
    b.at = t;
    this.buckets.set(user, b);
    if (b.tokens < 0) await delay(-b.tokens / this.rate, undefined, { signal });
  }
}
