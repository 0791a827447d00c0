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
