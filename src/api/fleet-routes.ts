import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Logger } from '../log.js';
import type { FleetService } from './fleets.js';
import { answerStart, getOneRoute, signalRoutes } from './resource-routes.js';
import { commonErrors, errorSchema, fleetRequestSchema, fleetSchema, json } from './schemas.js';

const fleetId = z.object({
  id: z
    .string()
    .min(1)
    .max(300)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'gmail-fleet-example.com' }),
});
const errors = {
  ...commonErrors,
  404: json(errorSchema, 'Unknown fleet'),
  409: json(errorSchema, 'Fleet closed, or running with another selection'),
};
const started = z.object({ id: z.string(), runId: z.string(), created: z.boolean(), statusUrl: z.string() });
const links = Object.fromEntries(
  (['getFleet', 'pauseFleet', 'resumeFleet', 'cancelFleet'] as const).map((operationId) => [
    operationId,
    { operationId, parameters: { id: '$response.body#/id' } },
  ]),
);

/** /fleets: many mailboxes in one request (a parent workflow running one extraction per mailbox). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fleetRoutes(app: OpenAPIHono<any>, fleets: FleetService, logger: Logger): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/fleets',
      operationId: 'startFleet',
      summary: 'Extract many mailboxes: a Workspace domain or a list',
      description:
        'Starts workflow `gmail-fleet-<domain>` (or `gmail-fleet-l<digest of the list>`): one extraction per mailbox under the id a single extraction of it has (one writer), `concurrency` at a time, each allowed up to twice its fair share of the project quota (the shared project bookings hold the sum). A domain needs a service-account key and GMAIL_DIRECTORY_ADMIN on the workers. 202 when started, 200 with the running one when the same fleet runs.',
      request: { body: { content: { 'application/json': { schema: fleetRequestSchema(fleets.maxConcurrency) } }, required: true } },
      responses: { 202: { ...json(started, 'Started'), links }, 200: { ...json(started, 'Already running'), links }, ...errors },
    }),
    async (c) => {
      const r = await fleets.start(c.req.valid('json'));
      return c.json(...answerStart(logger, 'fleet', r, `/fleets/${encodeURIComponent(r.id)}`));
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/fleets',
      operationId: 'listFleets',
      summary: 'Fleets, newest first (at most 50)',
      responses: {
        200: json(
          z.object({
            fleets: z.array(
              z.object({
                id: z.string(),
                domain: z.string().nullable(),
                status: z.string(),
                startedAt: z.string(),
                closedAt: z.string().nullable(),
              }),
            ),
          }),
          'Fleets',
        ),
        ...commonErrors,
      },
    }),
    async (c) => c.json({ fleets: await fleets.list() }, 200),
  );
  app.openapi(
    getOneRoute({
      path: '/fleets/{id}',
      operationId: 'getFleet',
      summary: "A fleet's progress",
      description: 'Mailboxes pending/running/completed/failed (with reasons), messages (the running mailboxes live), rate and ETA.',
      params: fleetId,
      schema: fleetSchema,
      errors,
    }),
    async (c) => c.json(await fleets.get(c.req.valid('param').id), 200),
  );
  signalRoutes(app, {
    path: '/fleets/{id}',
    noun: 'Fleet',
    summary: (verb) => `${verb} a fleet and every running extraction of it`,
    params: fleetId,
    errors,
    signal: (id, action) => fleets.signal(id, action),
  });
}
