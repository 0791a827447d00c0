// The routes every workflow-run resource (an extraction, a fleet, a mailbox's sync) has in the same form.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { json } from './schemas.js';
import type { ControlAction } from './workflow-control.js';

/**
 * `POST {path}/pause|resume|cancel` for a resource run by a workflow (an extraction, a fleet): the signal sent, 202
 * once Temporal holds it (the workflow acts on it in its own time: GET the resource to follow).
 */
export function signalRoutes(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  app: OpenAPIHono<any>,
  o: {
    /** The resource's path, with its `{id}` parameter. */
    path: string;
    /** The operation ids' suffix: `pauseExtraction`, `resumeFleet`. */
    noun: string;
    summary: (verb: string) => string;
    params: z.ZodObject<{ id: z.ZodString }>;
    errors: Record<number, ReturnType<typeof json>>;
    signal: (id: string, action: ControlAction) => Promise<void>;
  },
): void {
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `${o.path}/${action}`,
        operationId: `${action}${o.noun}`,
        summary: o.summary(`${action[0]!.toUpperCase()}${action.slice(1)}`),
        request: { params: o.params },
        responses: { 202: json(z.object({ id: z.string(), action: z.string() }), 'Accepted'), ...o.errors },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        await o.signal(id, action);
        return c.json({ id, action }, 202);
      },
    );
  }
}

/** What starting a workflow-run resource answers: its ids and whether this call started it. */
interface Started {
  id: string;
  runId: string;
  created: boolean;
}

/**
 * The answer to a start (an extraction, a fleet, a sync), for `c.json(...)`: 202 when this call started the workflow,
 * 200 when it joined the one running — with the URL to follow it — logged as `<what> requested` with the ids.
 */
export function answerStart<T extends Started>(
  logger: { info: (fields: object, message: string) => void },
  what: 'extraction' | 'fleet' | 'sync',
  started: T,
  statusUrl: string,
): [T & { statusUrl: string }, 202 | 200] {
  logger.info({ [`${what}Id`]: started.id, runId: started.runId, created: started.created }, `${what} requested`);
  return [{ ...started, statusUrl }, started.created ? 202 : 200];
}

/** `GET {path}`: one resource by the key its path names, `schema` its 200 answer, `errors` the others (404 among them). */
export const getOneRoute = <P extends z.ZodObject, S extends z.ZodType>(o: {
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  params: P;
  schema: S;
  errors: Record<number, ReturnType<typeof json>>;
}) =>
  createRoute({
    method: 'get',
    path: o.path,
    operationId: o.operationId,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    request: { params: o.params },
    responses: { 200: json(o.schema, o.summary), ...o.errors },
  });
