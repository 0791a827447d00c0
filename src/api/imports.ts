import { isAbsolute } from 'node:path';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { accountAttribute } from '../codec.js';
import type { Logger } from '../log.js';
import type { MailboxIds } from '../mailbox-ids.js';
import { IMPORT_ID_PREFIX } from '../workflows/ids.js';
import type { ImportProgress, ImportRequest } from '../workflows/import-contracts.js';
import { importProgressQuery, importWorkflow } from '../workflows/import.js';
import { closedStatus, describeOurs } from './workflow-control.js';
import { address, commonErrors, errorSchema, json } from './schemas.js';

/** Imports as Temporal workflows: one per (mailbox, file); its state from the `progress` query or the closed result. */
export interface ImportService {
  start(request: ImportRequest): Promise<{ id: string; runId: string; created: boolean }>;
  get(id: string): Promise<ImportProgress>;
}

export function createImportService(client: Client, taskQueue: string, ids: MailboxIds): ImportService {
  return {
    async start(request) {
      const id = ids.import(request.account, request.path);
      try {
        const handle = await client.workflow.start(importWorkflow, {
          workflowId: id,
          taskQueue,
          args: [{ request }],
          ...accountAttribute(client, request.account),
          staticSummary: `mbox import into ${request.account}`,
        });
        return { id, runId: handle.firstExecutionRunId, created: true };
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
        const d = await client.workflow.getHandle(id).describe();
        return { id, runId: d.runId, created: false };
      }
    },
    async get(id) {
      const d = await describeOurs(client, 'import', id, IMPORT_ID_PREFIX, 'importWorkflow');
      const handle = client.workflow.getHandle(id, d.runId);
      if (d.status.name === 'RUNNING') return handle.query(importProgressQuery);
      const status = closedStatus(d.status.name);
      try {
        return { ...(await handle.result()), status };
      } catch (e) {
        const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
        const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as ImportProgress | undefined) : undefined;
        const message = cause?.message ?? (e instanceof Error ? e.message : String(e));
        const base: ImportProgress = detail ?? {
          id,
          account: '',
          path: '',
          status,
          percent: 0,
          error: null,
          offset: 0,
          size: null,
          chunks: 0,
          runs: 0,
          startedAt: d.startTime.toISOString(),
          updatedAt: d.closeTime?.toISOString() ?? null,
          messages: 0,
          inserted: 0,
          present: 0,
          malformed: 0,
          bytes: 0,
        };
        return { ...base, status, error: status === 'failed' ? message : base.error };
      }
    },
  };
}

const MAX_CHUNK = 256 * 1024 * 1024;
const importRequestSchema = z
  .object({
    account: address().openapi({ example: 'restored@example.com', description: 'the mailbox the messages go to (any address)' }),
    path: z
      .string()
      .min(1)
      .max(4096)
      .refine((p) => isAbsolute(p) && !p.includes('\0'), { message: 'must be an absolute path' })
      .openapi({ example: '/data/takeout/All mail Including Spam and Trash.mbox', description: 'the mbox file, as the workers see it' }),
    chunkBytes: z
      .number()
      .int()
      .min(4096)
      .max(MAX_CHUNK)
      .optional()
      .openapi({ description: 'bytes read per chunk (one lake transaction), 4 KB to 256 MB; default 16 MB' }),
  })
  .strict()
  .openapi('ImportRequest');

const counts = {
  messages: z.number(),
  inserted: z.number(),
  present: z.number(),
  malformed: z.number(),
  bytes: z.number(),
};
const importSchema = z
  .object({
    id: z.string(),
    account: z.string(),
    path: z.string(),
    status: z.string(),
    percent: z.number(),
    error: z.string().nullable(),
    offset: z.number(),
    size: z.number().nullable(),
    chunks: z.number(),
    runs: z.number(),
    startedAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
    ...counts,
  })
  .openapi('Import');
const started = z.object({ id: z.string(), runId: z.string(), created: z.boolean(), statusUrl: z.string() });
const errors = { ...commonErrors, 404: json(errorSchema, 'Unknown import') };

/** /imports: an mbox file (Google Takeout's, or any) into a mailbox of the lake. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function importRoutes(app: OpenAPIHono<any>, imports: ImportService, logger: Logger): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/imports',
      operationId: 'startImport',
      summary: 'Import an mbox file into a mailbox',
      description:
        "Starts workflow `gmail-import-<account>-<digest of the path>`, which reads the file in checkpointed chunks on the workers (the path must be readable there). Gmail ids, threads and labels come from Takeout's `From <id>@xxx` line, `X-GM-THRID` and `X-Gmail-Labels`; a message the mailbox already holds (same Gmail id, or the same bytes) is not stored again. 202 when started, 200 with the running one when the same file is being imported into the same mailbox.",
      request: { body: { content: { 'application/json': { schema: importRequestSchema } }, required: true } },
      responses: { 202: json(started, 'Started'), 200: json(started, 'Already running'), ...errors },
    }),
    async (c) => {
      const r = await imports.start(c.req.valid('json'));
      logger.info({ importId: r.id, runId: r.runId, created: r.created }, 'import requested');
      return c.json({ ...r, statusUrl: `/imports/${encodeURIComponent(r.id)}` }, r.created ? 202 : 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/imports/{id}',
      operationId: 'getImport',
      summary: 'Progress of an import',
      request: {
        params: z.object({
          id: z
            .string()
            .min(1)
            .max(400)
            .openapi({ param: { name: 'id', in: 'path' }, example: 'gmail-import-restored@example.com-3f2a9c1b0d4e' }),
        }),
      },
      responses: { 200: json(importSchema, 'Progress of an import'), ...errors },
    }),
    async (c) => c.json(await imports.get(c.req.valid('param').id), 200),
  );
}
