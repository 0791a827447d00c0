import { z } from 'zod';
import { QUOTA_PROFILES } from '../env-schema.js';
import { hash32, rng } from './random.js';

/** Gmail API methods the emulator meters, with their quota-cost keys. */
export const METHODS = {
  'messages.get': 'get',
  'threads.get': 'thread',
  'messages.list': 'list',
  'messages.attachments.get': 'attachment',
  'history.list': 'history',
  getProfile: 'profile',
  'labels.list': 'labels',
  'labels.get': 'labels',
  watch: 'watch',
  stop: 'stop',
} as const;
export type Method = keyof typeof METHODS;

const PROJECT = '\u0000project';

/** Run-time settings (all faults and quotas off by default). Shares are probabilities per request. */
export const settingsSchema = z.object({
  quota: z.enum(['off', 'legacy', '2026']).default('off'),
  /** Overrides of the profile: units per window, window seconds, per-method costs. */
  quotaUnits: z.number().positive().optional(),
  quotaWindowSeconds: z.number().positive().optional(),
  costs: z.record(z.string(), z.number().min(0)).optional(),
  /**
   * Per-project quota: units per window shared by every mailbox (Gmail: 1,200,000 per minute), 403
   * rateLimitExceeded past it. Off unless set; tests and benchmarks scale it down so it can be reached.
   */
  projectQuotaUnits: z.number().positive().optional(),
  projectQuotaWindowSeconds: z.number().positive().default(60),
  /** Per-user concurrent request cap (429 past it); 0 = off. */
  concurrency: z.number().int().min(0).default(0),
  faults: z
    .object({
      error500: z.number().min(0).max(1).default(0),
      error503: z.number().min(0).max(1).default(0),
      error429: z.number().min(0).max(1).default(0),
      drop: z.number().min(0).max(1).default(0),
      truncate: z.number().min(0).max(1).default(0),
      /**
       * messages.get only: `400 Precondition check failed` (failedPrecondition), as Gmail answers a small share of gets
       * (Open Archiver #441); the same get succeeds when asked again.
       */
      precondition400: z.number().min(0).max(1).default(0),
      /** Mean added latency in ms (exponentially distributed); 0 = none. */
      latencyMs: z.number().min(0).default(0),
    })
    .default({ error500: 0, error503: 0, error429: 0, drop: 0, truncate: 0, precondition400: 0, latencyMs: 0 }),
  /**
   * Mailboxes whose Gmail service is off (disabled for the user, or the user deleted): every Gmail call for them
   * answers `400 Mail service not enabled` (failedPrecondition), as Gmail does.
   */
  gmailDisabled: z.array(z.string()).default([]),
  /**
   * Messages Gmail refuses every time (GYB #317): messages.get of `id` (in `format`, or in any) answers `status` — 500
   * backendError or 400 failedPrecondition — until the list is changed (PATCH /control/settings heals them).
   */
  poison: z
    .array(
      z.object({
        id: z.string(),
        format: z.enum(['minimal', 'metadata', 'full', 'raw']).optional(),
        status: z.union([z.literal(400), z.literal(500)]),
      }),
    )
    .default([]),
  /** Access-token lifetime in seconds. */
  accessTokenTtl: z.number().int().positive().default(3599),
  /**
   * Refresh-token lifetime in seconds from its issue (a Testing-mode app's tokens end after 7 days: 604800); unset:
   * they live until revoked.
   */
  refreshTokenTtl: z.number().int().positive().nullable().optional(),
  /** Lifetime of an authorization code in seconds (single use either way). */
  authorizationCodeTtl: z.number().int().positive().default(600),
  /** History records kept per mailbox. */
  historyRetention: z.number().int().positive().default(100_000),
});
export type Settings = z.infer<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export type Fault = 'error500' | 'error503' | 'error429' | 'drop' | 'truncate' | 'precondition400';

interface MethodStats {
  served: number;
  /** 403 userRateLimitExceeded (per-user quota). */
  throttled: number;
  /** 403 rateLimitExceeded (per-project quota). */
  projectThrottled: number;
  concurrencyRejected: number;
  faults: number;
  units: number;
}

/** Per-user sliding-window quota, concurrency cap, seeded faults and the counters the control endpoints expose. */
export class Limits {
  settings: Settings;
  private readonly windows = new Map<string, { t: number; cost: number }[]>();
  private readonly sums = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private random: () => number;
  stats = new Map<string, MethodStats>();

  constructor(
    input: SettingsInput,
    private readonly seed: string,
  ) {
    this.settings = settingsSchema.parse(input);
    this.random = rng(hash32(seed, 0xfa017));
  }

  update(input: SettingsInput): Settings {
    this.settings = settingsSchema.parse({ ...this.settings, ...input, faults: { ...this.settings.faults, ...(input.faults ?? {}) } });
    return this.settings;
  }

  resetStats(): void {
    this.stats = new Map();
    this.random = rng(hash32(this.seed, 0xfa017));
  }

  private stat(method: string): MethodStats {
    let s = this.stats.get(method);
    if (!s) {
      s = { served: 0, throttled: 0, projectThrottled: 0, concurrencyRejected: 0, faults: 0, units: 0 };
      this.stats.set(method, s);
    }
    return s;
  }

  private quota() {
    const p = QUOTA_PROFILES[this.settings.quota];
    return {
      units: this.settings.quotaUnits ?? p.unitsPerWindow,
      windowMs: (this.settings.quotaWindowSeconds ?? p.windowSeconds) * 1000,
      cost: (m: Method) => this.settings.costs?.[METHODS[m]] ?? p.costs[METHODS[m]],
    };
  }

  /**
   * Charges the user's and the project's quotas: 'user' or 'project' when the moving window would exceed that quota
   * (403 userRateLimitExceeded / rateLimitExceeded), and then nothing is charged.
   */
  charge(user: string, method: Method, now = performance.now()): 'ok' | 'user' | 'project' {
    const q = this.quota();
    const userQuota = !(this.settings.quota === 'off' && this.settings.quotaUnits === undefined);
    const projectUnits = this.settings.projectQuotaUnits;
    if (!userQuota && projectUnits === undefined) return 'ok';
    const cost = q.cost(method);
    if (userQuota && !this.fits(user, cost, q.units, q.windowMs, now)) {
      this.stat(method).throttled++;
      return 'user';
    }
    if (projectUnits !== undefined && !this.fits(PROJECT, cost, projectUnits, this.settings.projectQuotaWindowSeconds * 1000, now)) {
      this.stat(method).projectThrottled++;
      return 'project';
    }
    if (userQuota) this.spend(user, cost, now);
    if (projectUnits !== undefined) this.spend(PROJECT, cost, now);
    this.stat(method).units += cost;
    return 'ok';
  }

  private fits(key: string, cost: number, units: number, windowMs: number, now: number): boolean {
    const log = this.windows.get(key) ?? [];
    let sum = this.sums.get(key) ?? 0;
    while (log.length && log[0]!.t <= now - windowMs) sum -= log.shift()!.cost;
    this.windows.set(key, log);
    this.sums.set(key, sum);
    return sum + cost <= units;
  }

  private spend(key: string, cost: number, now: number): void {
    this.windows.get(key)!.push({ t: now, cost });
    this.sums.set(key, this.sums.get(key)! + cost);
  }

  /** Takes a concurrency slot; false past the cap (429). Call release() when the response ends. */
  acquire(user: string, method: Method): boolean {
    const n = this.inFlight.get(user) ?? 0;
    if (this.settings.concurrency > 0 && n >= this.settings.concurrency) {
      this.stat(method).concurrencyRejected++;
      return false;
    }
    this.inFlight.set(user, n + 1);
    return true;
  }
  release(user: string): void {
    this.inFlight.set(user, Math.max(0, (this.inFlight.get(user) ?? 1) - 1));
  }

  /** Draws this request's fault (deterministic by seed and arrival order), if any. */
  drawFault(method: Method): Fault | undefined {
    const f = this.settings.faults;
    let x = this.random();
    const kinds: Fault[] = [
      'error500',
      'error503',
      'error429',
      'drop',
      'truncate',
      ...(method === 'messages.get' ? (['precondition400'] as const) : []),
    ];
    for (const kind of kinds) {
      if (x < f[kind]) {
        this.stat(method).faults++;
        return kind;
      }
      x -= f[kind];
    }
    return undefined;
  }

  drawLatency(): number {
    const mean = this.settings.faults.latencyMs;
    return mean > 0 ? -Math.log(1 - this.random()) * mean : 0;
  }

  /** Counts a served request; `oauth.token` counts token-endpoint calls, granted or not. */
  served(method: Method | 'oauth.token' | 'directory.users.list'): void {
    this.stat(method).served++;
  }

  snapshot(): Record<string, MethodStats> {
    return Object.fromEntries(this.stats);
  }
}
