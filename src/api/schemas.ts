import { z } from '@hono/zod-openapi';

// Control characters spelled as ranges (no \p{…}, no flags): the patterns are published in /openapi.json, and every
// client's regex dialect (JSON Schema's ECMA-262, Python's re) reads them the same.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const ADDRESS = /[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s\u0000-\u001f\u007f-\u009f]+\.[^@\s\u0000-\u001f\u007f-\u009f]+/.source;

/**
 * Half of a UTF-16 surrogate pair alone is not text (JSON can spell it as `\ud800`): Temporal's payloads, ids and the
 * lake cannot carry it, so it is refused here, with the other invalid input, rather than failing later as a 500.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = {
  check: (s: string) => !LONE_SURROGATE.test(s),
  message: 'must be valid Unicode text (it holds a lone UTF-16 surrogate)',
};
/** Free text of a request (a Gmail query, a label id): at most `max` characters of valid Unicode. */
const text = (max: number) => z.string().max(max).refine(wellFormed.check, { message: wellFormed.message });
/** The most messages one extraction may be limited to: beyond any mailbox Gmail holds. */
const MAX_MESSAGES = 1_000_000_000;
const maxMessages = () =>
  z.number().int().min(1).max(MAX_MESSAGES).optional().openapi({ description: 'stop after this many messages (at most 1,000,000,000)' });

/** A mailbox as a request names it: trimmed, lower-cased, at most 320 characters of valid Unicode, matching `pattern`. */
const mailbox = (pattern: string, message: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .max(320)
    .refine(wellFormed.check, { message: wellFormed.message })
    .regex(new RegExp(`^${pattern}$`), { message });

/** A mailbox: `me` or an address. Printable, no control characters (a NUL byte or a newline never reaches Temporal or the lake). */
const account = () => mailbox(`(me|${ADDRESS})`, 'must be "me" or an email address');

/** A mailbox named by its address (a fleet's mailboxes: `me` means nothing to a service account). */
export const address = () => mailbox(ADDRESS, 'must be an email address (a fleet names its mailboxes by address, not "me")');

/** `30s`, `15m`, `1h`, `1d` (see src/schedules.ts). */
const every = () =>
  z
    .string()
    .regex(/^([1-9]\d{0,6})(s|m|h|d)$/, { message: 'must be an interval like 30s, 15m, 1h or 1d' })
    .openapi({ example: '15m', description: 'interval: a number and s, m, h or d' });

const formatSchema = z.enum(['minimal', 'metadata', 'full', 'raw']);

/** POST /extract body. The same schema validates requests and generates /openapi.json. */
export const extractRequestSchema = z
  .object({
    account: account().openapi({
      example: 'me',
      description: "`me` (the credentials' own mailbox, resolved to its address) or an email address; at most 320 characters",
    }),
    query: text(2000).optional().openapi({ description: 'Gmail search syntax, e.g. "after:2024/01/01 -in:chats"' }),
    labelIds: z.array(text(200).min(1)).max(50).optional(),
    includeSpamTrash: z.boolean().optional(),
    format: formatSchema.default('full'),
    batchSize: z.number().int().min(1).max(500).default(100),
    maxMessages: maxMessages(),
    keepInSync: every().optional().openapi({
      description:
        'when the backfill completes, keep the mailbox in sync on a Temporal Schedule at this interval (PUT /mailboxes/{account}/schedule). A backfill of the whole mailbox (no query or labelIds, includeSpamTrash true) hands its historyId over; any other selection makes the first sync reconcile by listing',
    }),
  })
  .strict()
  .openapi('ExtractRequest');

/**
 * POST /fleets body: the extraction's selection, for every mailbox of a domain or of a list (exactly one of the two),
 * `concurrency` at most the deployment's FLEET_MAX_CONCURRENCY — all stated in /openapi.json as the API enforces them.
 */
export const fleetRequestSchema = (maxConcurrency: number) =>
  z
    .object({
      domain: z
        .string()
        .trim()
        .toLowerCase()
        .max(253)
        .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, { message: 'must be a domain name like example.com' })
        .optional()
        .openapi({
          example: 'example.com',
          description: "a Workspace domain: its directory's users (suspended ones are reported, not extracted)",
        }),
      accounts: z.array(address()).min(1).max(10_000).optional().openapi({ description: 'or these mailboxes (addresses)' }),
      query: text(2000).optional(),
      labelIds: z.array(text(200).min(1)).max(50).optional(),
      includeSpamTrash: z.boolean().optional(),
      format: formatSchema.default('full'),
      batchSize: z.number().int().min(1).max(500).default(100),
      maxMessages: maxMessages(),
      concurrency: z
        .number()
        .int()
        .min(1)
        .max(maxConcurrency, { message: `at most this deployment's FLEET_MAX_CONCURRENCY (${maxConcurrency})` })
        .default(Math.min(10, maxConcurrency))
        .openapi({ description: `mailboxes extracted at once (at most this deployment's FLEET_MAX_CONCURRENCY, ${maxConcurrency})` }),
      keepInSync: every().optional(),
    })
    .strict()
    .refine((r) => !!r.domain !== !!r.accounts, { message: 'give either "domain" or "accounts", not both' })
    .openapi('FleetRequest', { oneOf: [{ required: ['domain'] }, { required: ['accounts'] }] });

export const fleetSchema = z
  .object({
    id: z.string(),
    domain: z.string().nullable(),
    status: z.enum(['running', 'paused', 'completed', 'failed', 'canceled', 'terminated', 'timed_out']),
    phase: z.string(),
    paused: z.boolean(),
    mailboxes: z.object({
      total: z.number(),
      pending: z.number(),
      running: z.number(),
      completed: z.number(),
      failed: z.number(),
      canceled: z.number(),
    }),
    running: z.array(z.object({ account: z.string(), workflowId: z.string() })),
    messages: z.object({ persisted: z.number(), listed: z.number() }),
    ratePerSecond: z.number(),
    mailboxesPerHour: z.number(),
    etaSeconds: z.number().nullable(),
    failures: z
      .array(z.object({ account: z.string(), error: z.string() }))
      .openapi({ description: 'the first 100 mailboxes that failed or were skipped, with why (mailboxes.failed counts all)' }),
    startedAt: z.string(),
    updatedAt: z.string(),
    runs: z.number(),
    error: z.string().nullable(),
  })
  .openapi('Fleet');

export const accountParam = z.object({
  account: account().openapi({ param: { name: 'account', in: 'path' }, example: 'me', description: '`me` or an email address' }),
});

export const syncRequestSchema = z
  .object({
    format: formatSchema
      .optional()
      .openapi({ description: "format of newly added messages; default: the mirror's (its backfill's) format, else full" }),
    reconcile: z.boolean().optional().openapi({ description: 'reconcile by listing even when history is available' }),
  })
  .strict()
  .openapi('SyncRequest');

export const scheduleRequestSchema = z.object({ every: every(), format: formatSchema.optional() }).strict().openapi('ScheduleRequest');

const changeCounts = z.object({ added: z.number(), deleted: z.number(), labelsAdded: z.number(), labelsRemoved: z.number() });
export const syncSchema = z
  .object({
    id: z.string(),
    account: z.string(),
    status: z.enum(['running', 'completed', 'deferred', 'failed', 'canceled']),
    mode: z.enum(['history', 'reconcile', 'none']),
    trigger: z.string().nullable(),
    historyIdFrom: z.string().nullable(),
    historyIdTo: z.string().nullable(),
    changes: changeCounts.openapi({ description: 'changes applied, by kind' }),
    rows: z.object({ inserted: z.number(), deleted: z.number(), relabeled: z.number() }),
    fetched: z.number(),
    pages: z.number(),
    units: z.record(z.string(), z.number()).openapi({ description: 'quota units spent, per method (the configured cost table)' }),
    calls: z.record(z.string(), z.number()),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    reason: z.string().nullable(),
    watch: z
      .object({ topic: z.string(), expiresAt: z.string().nullable(), renewed: z.boolean(), error: z.string().nullable() })
      .optional()
      .openapi({ description: "the mailbox's Gmail push watch as this sync left it (workers with GMAIL_PUSH_TOPIC)" }),
    notifications: z.number().optional().openapi({ description: 'push notifications this sync received while it ran' }),
  })
  .openapi('Sync');

export const scheduleSchema = z
  .object({
    id: z.string(),
    every: z.string().nullable(),
    paused: z.boolean(),
    note: z.string().nullable(),
    nextRunAt: z.string().nullable(),
    recentRuns: z.array(z.object({ scheduledAt: z.string(), workflowId: z.string(), runId: z.string() })),
  })
  .openapi('SyncSchedule');

export const mailboxSchema = z
  .object({
    account: z.string(),
    backfill: z
      .object({
        id: z.string(),
        status: z.string(),
        percent: z.number(),
        persisted: z.number(),
        historyId: z.string().nullable(),
        error: z.string().nullable(),
      })
      .nullable(),
    syncRunning: syncSchema.nullable(),
    lastSync: syncSchema.nullable(),
    schedule: scheduleSchema.nullable(),
    historyId: z.string().nullable().openapi({ description: 'the historyId the mirror is at' }),
  })
  .openapi('Mailbox');

export const counters = z.object({
  listed: z.number(),
  fetched: z.number(),
  persisted: z.number().openapi({ description: 'rows this extraction added to the lake' }),
  present: z.number().openapi({ description: 'listed ids already in the lake, not fetched again' }),
  skipped: z.number().openapi({ description: 'deleted between list and get (404)' }),
  failed: z.number(),
  malformed: z.number().openapi({ description: 'stored with a parse_error' }),
  total: z.number(),
  percent: z.number(),
});

export const extractionSchema = z
  .object({
    id: z.string(),
    account: z.string(),
    status: z.enum(['running', 'pausing', 'paused', 'completed', 'failed', 'canceled', 'terminated', 'timed_out']),
    phase: z.string(),
    paused: z.boolean(),
    progress: counters,
    ratePerSecond: z.number(),
    etaSeconds: z.number().nullable(),
    startedAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
    runs: z.number().optional(),
    resumedFrom: z.number().nullable().optional(),
    relists: z.number().optional().openapi({ description: 'listings restarted because Gmail stopped accepting a page token' }),
    historyId: z.string().nullable().optional(),
    units: z
      .record(z.string(), z.number())
      .optional()
      .openapi({ description: 'quota units spent, per method (the configured cost table)' }),
    error: z.string().nullable(),
    stalled: z
      .object({
        since: z.string().openapi({ description: 'the last commit (or the start)' }),
        lastError: z.string().nullable().openapi({ description: 'what the failing activity last failed with' }),
        activity: z.string().nullable(),
        attempts: z.number().nullable(),
        fix: z.string().openapi({ description: 'what an operator does about it' }),
      })
      .nullable()
      .optional()
      .openapi({
        description:
          'set while the extraction runs, is not paused and has committed nothing for EXTRACT_STALL_AFTER (default 10m): the pending failure and its fix',
      }),
  })
  .openapi('Extraction');

export const startedSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    account: z.string().openapi({ description: 'the mailbox address (`me` resolved through users.getProfile)' }),
    status: z.string(),
    statusUrl: z.string(),
    created: z.boolean(),
  })
  .openapi('ExtractionStarted');

/** Closed set of error codes; every error response has this shape. */
export const ERROR_CODES = [
  'INVALID_REQUEST',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export const errorSchema = z
  .object({
    error: z.object({ code: z.enum(ERROR_CODES), message: z.string(), requestId: z.string(), details: z.unknown().optional() }),
  })
  .openapi('Error');

/** A JSON response of `schema` for a route's `responses`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

/** Responses every authenticated route may give (API keys, rate limit, Temporal down). */
export const commonErrors = {
  400: json(errorSchema, 'Invalid request'),
  401: json(errorSchema, 'Missing or unknown API key'),
  403: json(errorSchema, 'The key has scope read and the route needs admin'),
  413: json(errorSchema, 'Request body larger than 64 KB'),
  429: json(errorSchema, "Over the key's rate limit; see Retry-After"),
  503: json(errorSchema, 'Temporal unavailable'),
};

export const idParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'gmail-extract-me' }),
});
