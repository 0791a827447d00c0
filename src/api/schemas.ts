import { z } from '@hono/zod-openapi';

/** POST /extract body. The same schema validates requests and generates /openapi.json. */
export const extractRequestSchema = z
  .object({
    account: z
      .string()
      .trim()
      .toLowerCase()
      .max(320)
      // Printable, no control characters (a NUL byte or a newline never reaches Temporal or the lake).
      .regex(/^(me|[^@\s\p{Cc}]{1,64}@[^@\s\p{Cc}]+\.[^@\s\p{Cc}]+)$/u, { message: 'must be "me" or an email address' })
      .openapi({
        example: 'me',
        description: "`me` (the credentials' own mailbox, resolved to its address) or an email address; at most 320 characters",
      }),
    query: z.string().max(2000).optional().openapi({ description: 'Gmail search syntax, e.g. "after:2024/01/01 -in:chats"' }),
    labelIds: z.array(z.string().min(1)).max(50).optional(),
    includeSpamTrash: z.boolean().optional(),
    format: z.enum(['minimal', 'metadata', 'full', 'raw']).default('full'),
    batchSize: z.number().int().min(1).max(500).default(100),
    maxMessages: z.number().int().min(1).optional(),
  })
  .strict()
  .openapi('ExtractRequest');

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
    status: z.enum(['running', 'paused', 'completed', 'failed', 'canceled', 'terminated', 'timed_out']),
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
    error: z.string().nullable(),
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
export const ERROR_CODES = ['INVALID_REQUEST', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE', 'INTERNAL'] as const;
export const errorSchema = z
  .object({
    error: z.object({ code: z.enum(ERROR_CODES), message: z.string(), requestId: z.string(), details: z.unknown().optional() }),
  })
  .openapi('Error');

export const idParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'gmail-extract-me' }),
});
