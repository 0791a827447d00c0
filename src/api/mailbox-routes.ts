import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Logger } from '../log.js';
import type { MailboxService } from './mailboxes.js';
import { answerStart, getOneRoute } from './resource-routes.js';
import {
  accountParam,
  commonErrors,
  errorSchema,
  json,
  mailboxSchema,
  scheduleRequestSchema,
  scheduleSchema,
  syncRequestSchema,
} from './schemas.js';

const errors = commonErrors;
const scheduleOut = z.object({ account: z.string(), schedule: scheduleSchema.nullable() });

/** /mailboxes/{account}: the mirror of a mailbox — a sync now, its schedule, and the state of both. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function mailboxRoutes(app: OpenAPIHono<any>, mailboxes: MailboxService, logger: Logger): void {
  const startedOut = z.object({ id: z.string(), runId: z.string(), account: z.string(), created: z.boolean(), statusUrl: z.string() });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/mailboxes/{account}/retry-failed',
      operationId: 'retryFailedMessages',
      summary: 'Fetch the quarantined messages of a mailbox again',
      description:
        "Runs the mailbox's last extraction again with its selection: it lists the mailbox (list calls only) and fetches only what the lake lacks — the messages in failed_messages (refused by Gmail through every attempt) and mail that arrived since. A message stored now leaves failed_messages; one Gmail still refuses stays, with its attempts counted. 202 with the extraction to follow at statusUrl; 409 while the extraction runs; 404 when the mailbox was never extracted.",
      request: { params: accountParam },
      responses: {
        202: json(startedOut, 'Started'),
        404: json(errorSchema, 'Never extracted'),
        409: json(errorSchema, 'Its extraction is running'),
        ...errors,
      },
    }),
    async (c) => {
      const { account } = c.req.valid('param');
      const started = await mailboxes.retryFailed(account);
      logger.info({ extractionId: started.id, runId: started.runId }, 'retry of failed messages requested');
      return c.json({ ...started, statusUrl: `/extract/${encodeURIComponent(started.id)}` }, 202);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/mailboxes/{account}/sync',
      operationId: 'syncMailbox',
      summary: 'Sync a mailbox now',
      description:
        "Starts the mailbox's sync (workflow `gmail-sync-<address>`): from its stored historyId by users.history.list, or by reconciliation (listing) when history is not recorded or expired. 202 when started; 200 with the running one when a sync of the mailbox runs already; 409 while its backfill runs.",
      request: {
        params: accountParam,
        body: { content: { 'application/json': { schema: syncRequestSchema } }, required: false },
      },
      responses: {
        202: json(
          z.object({ id: z.string(), runId: z.string(), account: z.string(), created: z.boolean(), statusUrl: z.string() }),
          'Started',
        ),
        200: json(
          z.object({ id: z.string(), runId: z.string(), account: z.string(), created: z.boolean(), statusUrl: z.string() }),
          'Already running',
        ),
        409: json(errorSchema, "The mailbox's backfill is running"),
        ...errors,
      },
    }),
    async (c) => {
      const { account } = c.req.valid('param');
      const body = c.req.header('content-type')?.includes('json') ? c.req.valid('json') : {};
      const started = await mailboxes.sync(account, body ?? {});
      return c.json(...answerStart(logger, 'sync', started, `/mailboxes/${encodeURIComponent(started.account)}`));
    },
  );

  app.openapi(
    getOneRoute({
      path: '/mailboxes/{account}',
      operationId: 'getMailbox',
      summary: 'The mirror of a mailbox',
      description:
        'Its backfill, the running and the last sync (changes by kind, quota units by method), its schedule (next run) and the historyId the mirror is at.',
      params: accountParam,
      schema: mailboxSchema,
      errors,
    }),
    async (c) => c.json(await mailboxes.get(c.req.valid('param').account), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/mailboxes/{account}/schedule',
      operationId: 'putSchedule',
      summary: 'Create or update the sync schedule of a mailbox',
      description:
        'A Temporal Schedule `gmail-sync-<address>` (Web UI → Schedules; `temporal schedule toggle --pause|--unpause`, `trigger`, `delete`). Overlapping runs are skipped; updating keeps its paused state.',
      request: { params: accountParam, body: { content: { 'application/json': { schema: scheduleRequestSchema } }, required: true } },
      responses: {
        201: json(scheduleOut, 'Created'),
        200: json(scheduleOut, 'Updated'),
        409: json(errorSchema, 'A schedule with this id exists that gmail-lake did not create: left alone'),
        ...errors,
      },
    }),
    async (c) => {
      const r = await mailboxes.putSchedule(c.req.valid('param').account, c.req.valid('json'));
      return c.json({ account: r.account, schedule: r.schedule }, r.created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/mailboxes/{account}/schedule',
      operationId: 'deleteSchedule',
      summary: 'Delete the sync schedule of a mailbox',
      request: { params: accountParam },
      responses: {
        200: json(scheduleOut, 'Deleted'),
        404: json(errorSchema, 'No schedule'),
        409: json(errorSchema, 'A schedule with this id exists that gmail-lake did not create: left alone'),
        ...errors,
      },
    }),
    async (c) => c.json(await mailboxes.controlSchedule(c.req.valid('param').account, 'delete'), 200),
  );

  for (const op of ['pause', 'resume'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/mailboxes/{account}/schedule/${op}`,
        operationId: `${op}Schedule`,
        summary: `${op === 'pause' ? 'Pause' : 'Resume'} the sync schedule of a mailbox`,
        request: { params: accountParam },
        responses: {
          200: json(scheduleOut, op === 'pause' ? 'Paused' : 'Resumed'),
          404: json(errorSchema, 'No schedule'),
          409: json(errorSchema, 'A schedule with this id exists that gmail-lake did not create: left alone'),
          ...errors,
        },
      }),
      async (c) => c.json(await mailboxes.controlSchedule(c.req.valid('param').account, op), 200),
    );
  }
}
