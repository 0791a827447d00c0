import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { causeChain } from '../causes.js';
import type { Logger } from '../log.js';
import { metricsText, registry } from '../metrics.js';
import { redactedMessage } from '../redact.js';
import { traceRequests } from '../tracing.js';
import { readsAhead } from '../read-priority.js';
import { ApiError, errorBody } from './errors.js';
import type { ExtractionService } from './extractions.js';
import { mailboxRoutes } from './mailbox-routes.js';
import { type PushSettings, pushRoutes } from './push.js';
import { type MessageStore, messageRoutes } from './message-routes.js';
import type { McpDeps } from '../mcp/server.js';
import { uiRoutes, type UiOptions } from './ui.js';
import type { MailboxService } from './mailboxes.js';
import type { PayloadCodec } from '@temporalio/common';
import { authenticate, type AuthOptions } from './auth.js';
import { codecCors, codecRoutes, codecSessionRoutes } from './codec-routes.js';
import { fleetRoutes } from './fleet-routes.js';
import { type ImportService, importRoutes } from './imports.js';
import { answerStart, getOneRoute, signalRoutes } from './resource-routes.js';
import type { FleetService } from './fleets.js';
import { codecSessions } from './codec-session.js';
import { commonErrors, errorSchema, extractionSchema, extractRequestSchema, idParam, json, startedSchema } from './schemas.js';

export interface AppDeps {
  extractions: ExtractionService;
  /** The /mailboxes routes (sync, schedule); omitted by harnesses that exercise /extract alone. */
  mailboxes?: MailboxService;
  /** POST /push/gmail: whose push tokens it accepts (off: 404). */
  push?: PushSettings;
  /** /fleets (many mailboxes in one request). */
  fleets?: FleetService;
  /** /imports (an mbox file into a mailbox). */
  imports?: ImportService;
  /** /messages (search over the lake). */
  messages?: MessageStore;
  /** /mcp: the MCP server's tools over streamable HTTP. */
  mcp?: McpDeps;
  /** Readiness checks by name (Temporal reachable, lake attachable); each throws when not ready. */
  readiness: Record<string, () => Promise<void>>;
  logger: Logger;
  /** Where the dashboard (/ui) links each workflow in the Temporal Web UI. */
  ui?: UiOptions;
  /**
   * The payload codec, served at /codec/{encode,decode} for the Web UI (`uiOrigin`) and the CLI; its keys also sign
   * the Web UI's codec sessions.
   */
  codec?: { codec: PayloadCodec; uiOrigin: string; keys: Buffer[] };
  /** API keys and their rate limit; `undefined` = no authentication (API_AUTH=off, loopback only). */
  auth: AuthOptions | undefined;
  /**
   * Runs a request's Temporal calls under one deadline (`deadlineBound` in temporal-deadline.ts): a server that cannot
   * be reached fails fast and a slow one gets a bounded wait, so either way the answer is a prompt 503.
   */
  temporalDeadline?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Whether an error means Temporal could not be reached in time: a gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4)
 * anywhere in its cause chain (the client wraps them as `ServiceError: Failed to …`), or a refused connection.
 */
function temporalUnreachable(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (code === 14 || code === 4 || code === 'ECONNREFUSED') return true;
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    if (/\b(UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED)\b|Deadline exceeded/.test(message)) return true;
  }
  return false;
}

/** A Hono route path (`/extract/:id/pause`) as a regex over request paths. */
const routeRegex = (path: string) => new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '[^/]+')}$`);

/** OpenAPI links from a started extraction to what can be done with its id (clients and fuzzers follow them). */
const extractionLinks = Object.fromEntries(
  (['getExtraction', 'pauseExtraction', 'resumeExtraction', 'cancelExtraction'] as const).map((operationId) => [
    operationId,
    { operationId, parameters: { id: '$response.body#/id' } },
  ]),
);

const errors = {
  ...commonErrors,
  404: json(errorSchema, 'Unknown extraction'),
  409: json(errorSchema, 'Extraction is closed, or the mailbox runs an extraction with a different selection'),
};

/** The HTTP API: POST/GET /extract, pause/resume/cancel, /mailboxes (sync, schedule), health, OpenAPI at /openapi.json and docs at /docs. */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const details = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        return c.json(errorBody(c, 'INVALID_REQUEST', 'request validation failed', details), 400);
      }
    },
  });
  app.use(requestId());
  // A request's lake reads go ahead of the worker's waiting commits (`npm start` shares one lake: src/lake/line.ts).
  app.use((_c, next) => readsAhead(next));
  app.use(traceRequests);
  if (deps.codec) codecCors(app, deps.codec.uiOrigin);
  const sessions = deps.codec && deps.auth ? codecSessions(deps.auth.keys, deps.codec.keys) : undefined;
  if (deps.auth) app.use(authenticate({ ...deps.auth, sessions }));
  // Requests are small JSON documents: anything over 64 KB is refused before it is read whole.
  app.use(
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) => c.json(errorBody(c, 'INVALID_REQUEST', 'request body larger than 64 KB'), 413),
    }),
  );

  if (deps.temporalDeadline) {
    const bounded = deps.temporalDeadline;
    for (const path of ['/extract', '/extract/*', '/mailboxes/*', '/fleets', '/fleets/*', '/imports', '/imports/*', '/push/gmail'])
      app.use(path, (_c, next) => bounded(() => next()));
  }

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(errorBody(c, err.code, err.message, err.details), err.status);
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own 4xx (e.g. malformed JSON body) in the same shape.
      return c.json(errorBody(c, err.status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', err.message), err.status);
    }
    const unavailable = temporalUnreachable(err);
    deps.logger.error({ err: redactedMessage(err), requestId: c.get('requestId'), path: c.req.path }, 'request failed');
    return unavailable
      ? c.json(errorBody(c, 'UNAVAILABLE', 'Temporal cannot be reached or did not answer in time; try again'), 503)
      : c.json(errorBody(c, 'INTERNAL', 'internal error'), 500);
  });
  app.notFound((c) => {
    // A known path with another method: 405 with the methods it has.
    const allowed = [...new Set(app.routes.filter((r) => r.method !== 'ALL' && routeRegex(r.path).test(c.req.path)).map((r) => r.method))];
    if (allowed.length === 0) return c.json(errorBody(c, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404);
    c.header('Allow', allowed.join(', '));
    return c.json(errorBody(c, 'METHOD_NOT_ALLOWED', `${c.req.method} ${c.req.path} is not allowed; use ${allowed.join(', ')}`), 405);
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/extract',
      operationId: 'startExtraction',
      summary: 'Start (or join) the extraction of one mailbox',
      description:
        '`me` is resolved to the mailbox address first. 202 when a new extraction starts; 200 with the running one when the mailbox already has one with the same selection; 409 when its selection differs.',
      request: { body: { content: { 'application/json': { schema: extractRequestSchema } }, required: true } },
      responses: {
        202: { ...json(startedSchema, 'Started'), links: extractionLinks },
        200: { ...json(startedSchema, 'Already running'), links: extractionLinks },
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await deps.mailboxes?.assertNoSync(body.account);
      const started = await deps.extractions.start(body);
      return c.json(
        ...answerStart(deps.logger, 'extraction', { ...started, status: 'running' }, `/extract/${encodeURIComponent(started.id)}`),
      );
    },
  );

  app.openapi(
    getOneRoute({
      path: '/extract/{id}',
      operationId: 'getExtraction',
      summary: 'Progress of an extraction',
      params: idParam,
      schema: extractionSchema,
      errors,
    }),
    async (c) => c.json(await deps.extractions.get(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/extract',
      operationId: 'listExtractions',
      summary: 'Recent extractions',
      responses: {
        200: json(
          z.object({
            extractions: z.array(
              z.object({
                id: z.string(),
                runId: z.string(),
                account: z.string().nullable(),
                status: z.string(),
                startedAt: z.string().nullable(),
                closedAt: z.string().nullable(),
              }),
            ),
          }),
          'List',
        ),
        ...errors,
      },
    }),
    async (c) => c.json({ extractions: await deps.extractions.list() }, 200),
  );

  signalRoutes(app, {
    path: '/extract/{id}',
    noun: 'Extraction',
    summary: (verb) => `${verb} an extraction`,
    params: idParam,
    errors,
    signal: (id, action) => deps.extractions.signal(id, action),
  });

  if (deps.mailboxes) mailboxRoutes(app, deps.mailboxes, deps.logger);
  if (deps.mailboxes) pushRoutes(app, deps.mailboxes, deps.push, deps.logger);
  if (deps.fleets) fleetRoutes(app, deps.fleets, deps.logger);
  if (deps.imports) importRoutes(app, deps.imports, deps.logger);
  if (deps.messages) messageRoutes(app, deps.messages);
  if (deps.mcp) {
    const mcp = deps.mcp;
    // Stateless streamable HTTP: a server and transport per request (no session to keep between requests).
    app.all('/mcp', async (c) => {
      const { createMcpServer } = await import('../mcp/server.js');
      const { WebStandardStreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js');
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      const server = createMcpServer(mcp);
      await server.connect(transport);
      try {
        return await transport.handleRequest(c.req.raw);
      } finally {
        // JSON responses (enableJsonResponse): the answer is whole once handleRequest returns.
        await server.close();
      }
    });
  }
  if (deps.codec) codecRoutes(app, deps.codec.codec);
  if (sessions && deps.auth) codecSessionRoutes(app, sessions, deps.auth.keys);

  // Prometheus exposition (a `read` key: Prometheus sends it with `authorization: { credentials: <key> }`).
  app.get('/metrics', async (c) => c.body(await metricsText(), 200, { 'content-type': registry.contentType }));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    // Open to probes; why a check failed (which may name hosts, ports, users) only to a key holder.
    const detailed = !deps.auth || c.get('apiKey' as never) !== undefined;
    const checks: Record<string, string> = {};
    for (const [name, check] of Object.entries(deps.readiness)) {
      checks[name] = await check().then(
        () => 'ok',
        (e: unknown) => (detailed ? redactedMessage(e) : 'failed (send an API key for the reason)'),
      );
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });

  documentOperations(app, { codec: !!deps.codec, sessions: !!sessions });
  if (deps.auth) app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer' });
  app.doc('/openapi.json', {
    openapi: '3.0.0',
    info: { title: 'gmail-lake', version: '0.1.0', description: 'Durable Gmail → DuckLake extraction' },
    ...(deps.auth ? { security: [{ apiKey: [] }] } : {}),
  });
  uiRoutes(app, { ...(deps.ui ?? { temporalUiUrl: 'http://127.0.0.1:8233', namespace: 'default' }), codecSessions: !!sessions });
  return app;
}

/**
 * The operational routes in /openapi.json and /docs too (they are plain Hono routes: documented here, not re-declared):
 * probes, metrics and the payload codec.
 */
function documentOperations(app: OpenAPIHono, has: { codec: boolean; sessions: boolean }): void {
  const open = { security: [] };
  const text = (description: string) => ({ content: { 'text/plain': { schema: z.string() } }, description });
  const readiness = z.object({ status: z.enum(['ready', 'not ready']), checks: z.record(z.string(), z.string()) });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers (no key)',
    ...open,
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/readyz',
    summary:
      "Readiness: Temporal answers (and the lake opens, in a process with a worker); each check's result (no key; why a check failed only with a key)",
    ...open,
    responses: { 200: json(readiness, 'Ready'), 503: json(readiness, 'Not ready: the failing check says why') },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this process and its Temporal SDK (a read key)',
    responses: { 200: text('Prometheus text exposition'), ...commonErrors },
  });
  if (!has.codec) return;
  const payloads = z.object({
    payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() })),
  });
  for (const op of ['encode', 'decode'] as const)
    app.openAPIRegistry.registerPath({
      method: 'post',
      path: `/codec/${op}`,
      summary: `${op === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (the codec endpoint of the Web UI and \`temporal --codec-endpoint\`; ${op === 'encode' ? 'admin' : 'read'} key or codec session)`,
      request: { body: { content: { 'application/json': { schema: payloads } } } },
      responses: { 200: json(payloads, 'The payloads, encoded or decoded'), ...commonErrors },
    });
  if (!has.sessions) return;
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/codec/session',
    summary: "Start a codec session: an HttpOnly cookie for /codec so this browser's Temporal Web UI decodes (any key)",
    responses: { 201: json(z.object({ key: z.string(), expiresInSeconds: z.number() }), 'Session cookie set'), ...commonErrors },
  });
  app.openAPIRegistry.registerPath({
    method: 'delete',
    path: '/codec/session',
    summary: 'End the codec session (removes the cookie)',
    responses: { 204: { description: 'Cookie removed' } },
  });
}
