import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { parseMime } from '../mime/parse.js';
import { SYSTEM_LABELS } from './generate.js';
import { listHistory, listMessages } from './gmail-lists.js';
import { attachmentIdFor, googleError, INLINE_LIMIT, messageResource, parseAttachmentId, type Format } from './gmail-responses.js';
import type { Method } from './limits.js';
import type { Mailbox } from './mailbox.js';
import { SearchDocs } from './search-docs.js';
import { type EmulatorEnv, type EmulatorState, HttpError } from './state.js';
import { DIRECTORY_USER_READONLY, GMAIL_READONLY } from './workspace.js';

/**
 * Gmail REST v1 (`/gmail/v1/users/{userId}/…`, the read methods the pipeline calls) and the Admin SDK Directory's
 * `users.list`, as Google answers them: OAuth access tokens and scopes checked, delegation enforced, every call charged
 * to the per-user and project quotas and subject to the configured faults (errors, dropped and truncated responses).
 */
export function gmailRoutes(state: EmulatorState): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();
  const docs = new SearchDocs();
  const route = (path: string, method: Method, serve: (mb: Mailbox, c: Context<EmulatorEnv>) => unknown) =>
    app.get(`/gmail/v1/users/:userId${path}`, (c) => call(state, c, method, serve));
  // users.watch and users.stop (push notifications through Cloud Pub/Sub, see pubsub.ts): 100 and 50 units.
  app.post('/gmail/v1/users/:userId/watch', (c) =>
    call(state, c, 'watch', async (mb, c) => state.pubsub.watch(mb.email, await jsonBody(c), mb.historyId)),
  );
  app.post('/gmail/v1/users/:userId/stop', (c) => call(state, c, 'stop', (mb) => (state.pubsub.stop(mb.email), undefined)));
  // Google's token-signing keys (www.googleapis.com/oauth2/v1/certs): what verifies a push's OIDC token.
  app.get('/oauth2/v1/certs', (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.json(state.pubsub.certs());
  });
  route('/profile', 'getProfile', (mb) => ({
    emailAddress: mb.email,
    messagesTotal: mb.messagesTotal,
    threadsTotal: Math.round(mb.messagesTotal * 0.65),
    historyId: String(mb.historyId),
  }));
  route('/labels', 'labels.list', (mb) => ({ labels: labelResources(mb) }));
  route('/labels/:id', 'labels.get', (mb, c) => {
    const label = labelResources(mb).find((l) => l.id === c.req.param('id')!);
    if (!label) throw notFound();
    // As Gmail: labels.get carries the counts (labels.list does not); threads counted as messages here.
    const { total, unread } = mb.labelCounts(label.id);
    return { ...label, messagesTotal: total, messagesUnread: unread, threadsTotal: total, threadsUnread: unread };
  });
  route('/messages', 'messages.list', (mb, c) => listMessages(mb, new URL(c.req.url).searchParams, state.pageTokens.generation, docs));
  route('/messages/:id', 'messages.get', (mb, c) => {
    const index = mb.indexOf(c.req.param('id')!);
    if (index === undefined) throw notFound();
    const format = (c.req.query('format') ?? 'full') as Format;
    if (!['minimal', 'metadata', 'full', 'raw'].includes(format))
      throw new HttpError(400, googleError(400, `Invalid value at 'format' (${format})`, 'invalidArgument'));
    const poison = state.limits.settings.poison.find((p) => p.id === c.req.param('id') && (!p.format || p.format === format));
    if (poison?.status === 500) throw new HttpError(500, googleError(500, 'Backend Error', 'backendError'));
    if (poison?.status === 400) throw preconditionFailed();
    return messageResource(mb, mb.view(index)!, format, c.req.queries('metadataHeaders') ?? []);
  });
  // users.threads.get: every message of the thread (spam and trash too), oldest first, in full, metadata or minimal
  // (not raw: Gmail refuses it); 10 units (legacy) against messages.get's 5. A thread holding a message Gmail keeps
  // refusing is refused as that message is.
  route('/threads/:id', 'threads.get', (mb, c) => {
    const id = c.req.param('id')!;
    const indices = mb.threadIndices(id);
    if (indices.length === 0) throw notFound();
    const format = (c.req.query('format') ?? 'full') as Format;
    if (!['minimal', 'metadata', 'full'].includes(format))
      throw new HttpError(400, googleError(400, `Invalid value at 'format' (${format})`, 'invalidArgument'));
    const views = indices.map((i) => mb.view(i)!);
    const poison = state.limits.settings.poison.find((p) => views.some((v) => v.id === p.id) && (!p.format || p.format === format));
    if (poison?.status === 500) throw new HttpError(500, googleError(500, 'Backend Error', 'backendError'));
    if (poison?.status === 400) throw preconditionFailed();
    const headers = c.req.queries('metadataHeaders') ?? [];
    const messages = views.map((v) => messageResource(mb, v, format, headers));
    return { id, historyId: String(Math.max(...views.map((v) => v.historyId))), messages };
  });
  route('/messages/:id/attachments/:attachmentId', 'messages.attachments.get', (mb, c) => {
    const id = c.req.param('id')!;
    const ref = parseAttachmentId(c.req.param('attachmentId')!);
    const index = mb.indexOf(id);
    if (!ref || index === undefined || ref.messageId !== id) throw notFound();
    const leaf = parseMime(mb.raw(index), { inlineLimit: INLINE_LIMIT, attachmentId: (p) => attachmentIdFor(id, p) }).leaves.find(
      (l) => l.partId === ref.partId,
    );
    if (!leaf) throw notFound();
    return { size: leaf.content.length, data: leaf.content.toString('base64url') };
  });
  route('/history', 'history.list', (mb, c) => listHistory(mb, new URL(c.req.url).searchParams));

  app.get('/admin/directory/v1/users', (c) => c.json(directoryUsers(state, c)));
  return app;
}

const preconditionFailed = () =>
  new HttpError(400, googleError(400, 'Precondition check failed.', 'failedPrecondition', 'global', 'FAILED_PRECONDITION'));
const notFound = () => new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
const insufficientScopes = () =>
  new HttpError(
    403,
    googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'global', 'PERMISSION_DENIED'),
  );

/** One Gmail call: authenticated, limited, charged, maybe faulted, then served. */
async function call(
  state: EmulatorState,
  c: Context<EmulatorEnv>,
  method: Method,
  serve: (mb: Mailbox, c: Context<EmulatorEnv>) => unknown,
): Promise<Response> {
  const { limits } = state;
  const user = authenticate(state, c, c.req.param('userId')!);
  if (limits.settings.gmailDisabled.includes(user))
    throw new HttpError(400, googleError(400, 'Mail service not enabled', 'failedPrecondition', 'global', 'FAILED_PRECONDITION'));
  if (!limits.acquire(user, method))
    throw new HttpError(429, googleError(429, 'Too many concurrent requests for user', 'rateLimitExceeded', 'usageLimits'));
  try {
    const latency = limits.drawLatency();
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const charged = limits.charge(user, method);
    if (charged === 'user') {
      const retry = new Date(Date.now() + 1000).toISOString();
      throw new HttpError(403, googleError(403, `User-rate limit exceeded. Retry after ${retry}`, 'userRateLimitExceeded', 'usageLimits'));
    }
    if (charged === 'project') {
      const message = "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'gmail.googleapis.com'";
      throw new HttpError(403, googleError(403, message, 'rateLimitExceeded', 'usageLimits'));
    }
    const fault = limits.drawFault(method);
    if (fault === 'drop') {
      c.env.incoming.socket.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    if (fault === 'error500') throw new HttpError(500, googleError(500, 'Backend Error', 'backendError'));
    if (fault === 'error503') throw new HttpError(503, googleError(503, 'The service is currently unavailable.', 'backendError'));
    if (fault === 'precondition400') throw preconditionFailed();
    if (fault === 'error429')
      throw new HttpError(429, googleError(429, 'Too many concurrent requests for user', 'rateLimitExceeded', 'usageLimits'));
    const body = await serve(state.mailbox(user), c);
    limits.served(method);
    if (fault === 'truncate') {
      // Half of the body, then the connection cut: the length header promised more.
      const text = JSON.stringify(body);
      const res = c.env.outgoing;
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      c.env.incoming.socket.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    return body === undefined ? c.body(null, 204) : c.json(body);
  } finally {
    limits.release(user);
  }
}

/** The access token of a request, or 401 as Google answers it. */
function tokenOf(state: EmulatorState, c: Context) {
  const t = state.authority.accessGrant((c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, ''));
  if (!t) {
    const message =
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.';
    throw new HttpError(401, googleError(401, message, 'authError', 'global', 'UNAUTHENTICATED'));
  }
  return t;
}

/** The mailbox a Gmail call may read: `me` is the token's, another needs delegation to it. */
function authenticate(state: EmulatorState, c: Context, userId: string): string {
  const t = tokenOf(state, c);
  if (!t.scopes.includes(GMAIL_READONLY)) throw insufficientScopes();
  const user = userId === 'me' ? (t.grant === '*' ? state.owner : t.grant) : userId.toLowerCase();
  if (t.grant !== '*' && t.grant !== user) throw new HttpError(403, googleError(403, 'Delegation denied for ' + user, 'forbidden'));
  if (!/^[^@\s]+@[^@\s]+$/.test(user))
    throw new HttpError(400, googleError(400, 'Invalid user id specified in request/Delegation denied', 'invalidArgument'));
  return user;
}

/** Admin SDK Directory `users.list` (customer=my_customer or domain=…), paged, for an admin's delegated token. */
function directoryUsers(state: EmulatorState, c: Context) {
  const { workspace } = state;
  if (!workspace) throw new HttpError(404, googleError(404, 'Not Found', 'notFound'));
  const t = tokenOf(state, c);
  if (!t.scopes.includes(DIRECTORY_USER_READONLY)) throw insufficientScopes();
  const q = new URL(c.req.url).searchParams;
  const customer = q.get('customer');
  const domain = q.get('domain');
  if (!customer && !domain) throw new HttpError(400, googleError(400, 'Bad Request', 'badRequest'));
  const denied = () => new HttpError(403, googleError(403, 'Not Authorized to access this resource/api', 'forbidden'));
  if (!workspace.user(t.grant)?.isAdmin) throw denied();
  if (domain && domain.toLowerCase() !== workspace.options.domain.toLowerCase()) throw denied();
  if (customer && customer !== 'my_customer') throw new HttpError(400, googleError(400, 'Bad Request', 'badRequest'));
  const max = q.get('maxResults') === null ? 100 : Number(q.get('maxResults'));
  if (!Number.isInteger(max) || max < 1 || max > 500) {
    const message = `Invalid value '${q.get('maxResults')}'. Values must be within the range: [1, 500]`;
    throw new HttpError(400, googleError(400, message, 'invalid'));
  }
  const start = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString().replace(/^u/, '')) : 0;
  if (!Number.isInteger(start) || start < 0) throw new HttpError(400, googleError(400, 'Invalid page token', 'invalid'));
  const users = workspace.users.slice(start, start + max);
  const next = start + max < workspace.users.length ? Buffer.from(`u${start + max}`).toString('base64url') : undefined;
  state.limits.served('directory.users.list');
  return {
    kind: 'admin#directory#users',
    users: users.map((u) => ({ kind: 'admin#directory#user', ...u })),
    ...(next ? { nextPageToken: next } : {}),
  };
}

function labelResources(mb: Mailbox) {
  return [
    ...SYSTEM_LABELS.map((id) => ({ id, name: id, type: 'system', messageListVisibility: 'show', labelListVisibility: 'labelShow' })),
    ...[...mb.userLabels].map(([id, name]) => ({
      id,
      name,
      type: 'user',
      messageListVisibility: 'show',
      labelListVisibility: 'labelShow',
    })),
  ];
}

/** A POST's JSON object body, or 400 as Google answers a body it cannot parse. */
async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  try {
    const v = text ? (JSON.parse(text) as unknown) : {};
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, googleError(400, 'Invalid JSON payload received.', 'invalidArgument'));
}
