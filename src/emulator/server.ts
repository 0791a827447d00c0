import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { parseMime } from '../mime/parse.js';
import { GeneratedMailbox, SYSTEM_LABELS, USER_LABELS } from './generate.js';
import { attachmentIdFor, googleError, INLINE_LIMIT, messageResource, parseAttachmentId, type Format } from './gmail-responses.js';
import { Limits, type Method, type SettingsInput } from './limits.js';
import { LoadedMail, readMailSource } from './load.js';
import { Mailbox } from './mailbox.js';
import { parseQuery, QueryError } from './query.js';
import { DIRECTORY_USER_READONLY, GMAIL_READONLY, Workspace, type WorkspaceOptions } from './workspace.js';
import { Authority, DEFAULT_CLIENT, type OAuthClient, WEB_CLIENT } from './oauth.js';

export { DEFAULT_CLIENT } from './oauth.js';

export interface EmulatorOptions {
  /** Port to bind (0 = any free port). Default 0. */
  port?: number;
  host?: string;
  /** Seed of the generated mailboxes. Default "gmail-lake". */
  seed?: string;
  /** Messages per generated mailbox. Default 1000. */
  messages?: number;
  /** Sizes of particular mailboxes (address → messages), overriding `messages` for them. */
  sizes?: Record<string, number>;
  /** The address `me` resolves to. Default user@example.com. */
  owner?: string;
  /** Serve this .mbox file or folder of .eml files as the owner's mailbox instead of generated mail. */
  mbox?: string;
  /** OAuth client credentials the token endpoint accepts. */
  clientId?: string;
  clientSecret?: string;
  /** Refresh tokens it accepts, each with the mailbox it grants ("*" = any mailbox, like domain-wide delegation). */
  refreshTokens?: Record<string, string>;
  /** Keep the refresh tokens it issues in this file across restarts (see Authority). */
  oauthStateFile?: string;
  settings?: SettingsInput;
  /**
   * historyId of an unchanged mailbox. Default 1,000,000 (deterministic). A process that restarts the emulator over a
   * lake it filled before passes a larger one each time (e.g. the clock), as Gmail's history ids only ever grow.
   */
  historyIdBase?: number;
  /**
   * A Workspace domain: a directory of users, each with a generated mailbox (sizes varied between a third of and twice
   * `messages`), and a service account with domain-wide delegation (JWT-bearer grant; its key at
   * `GET /_emulator/service-account`). The owner is the domain's admin.
   */
  workspace?: WorkspaceOptions;
}

export interface RunningEmulator {
  url: string;
  port: number;
  tokenUrl: string;
  server: Server;
  /** The authorization server (consent page, token and revoke endpoints). */
  authority: Authority;
  /** The Desktop client's file, as the Cloud console downloads it (`{"installed": …}`), pointing at this emulator. */
  clientFile(type?: 'installed' | 'web'): Record<string, unknown>;
  limits: Limits;
  /** The Workspace domain, when `workspace` was given (its service-account key: `workspace.key`). */
  workspace?: Workspace;
  mailbox(email?: string): Mailbox;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

/** Starts the Gmail-API-compatible emulator (Gmail REST v1 paths, OAuth token endpoint, control endpoints). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const seed = options.seed ?? 'gmail-lake';
  const size = options.messages ?? 1000;
  const owner = (options.owner ?? 'user@example.com').toLowerCase();
  const clientId = options.clientId ?? DEFAULT_CLIENT.clientId;
  const clientSecret = options.clientSecret ?? DEFAULT_CLIENT.clientSecret;
  const workspace = options.workspace ? new Workspace(options.workspace, owner) : undefined;
  const limits = new Limits(options.settings ?? {}, seed);
  const desktop: OAuthClient = { clientId, clientSecret, type: 'installed', redirectUris: ['http://localhost'] };
  const authority = new Authority({
    clients: [desktop, WEB_CLIENT],
    refreshTokens: options.refreshTokens ?? { [DEFAULT_CLIENT.refreshToken]: '*' },
    owner,
    limits,
    workspace,
    stateFile: options.oauthStateFile,
  });
  const oauth = getRequestListener(authority.app.fetch);
  const mailboxes = new Map<string, Mailbox>();
  /** Page tokens carry the generation they were issued in; `pageTokens/expire` starts a new one (Gmail's expire too). */
  let pageTokenGeneration = 0;
  const loaded = options.mbox ? readMailSource(options.mbox) : undefined;

  const mailbox = (email = owner): Mailbox => {
    const key = email.toLowerCase();
    let m = mailboxes.get(key);
    if (!m) {
      const mbSeed = `${seed}:${key}`;
      const n = options.sizes?.[key] ?? (workspace?.user(key) && key !== owner ? variedSize(`${seed}:${key}`, size) : size);
      const base = key === owner && loaded ? new LoadedMail(mbSeed, loaded, owner) : new GeneratedMailbox(mbSeed, n, key);
      m = new Mailbox(key, base, limits.settings.historyRetention, options.historyIdBase);
      mailboxes.set(key, m);
    }
    return m;
  };

  const server = createServer({ keepAlive: true, keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) send(res, err.status, err.body);
      else {
        console.error('[emulator] internal error', err);
        send(res, 500, googleError(500, 'Internal error', 'backendError'));
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.pathname === '/token' || url.pathname === '/revoke' || url.pathname.startsWith('/o/oauth2/')) return oauth(req, res);
    if (path[0] === '_emulator') return control(req, res, path.slice(1));
    if (req.method === 'GET' && url.pathname === '/admin/directory/v1/users') return directoryUsers(req, res, url);
    if (path[0] === 'gmail' && path[1] === 'v1' && path[2] === 'users' && path[3]) {
      return gmail(req, res, path[3], path.slice(4), url);
    }
    send(res, 404, googleError(404, 'Not Found', 'notFound'));
  }

  /** The access token of a request, or 401 as Google answers it. */
  function tokenOf(req: IncomingMessage) {
    const header = req.headers.authorization ?? '';
    const t = authority.accessGrant(header.replace(/^Bearer\s+/i, ''));
    if (!t) {
      throw new HttpError(
        401,
        googleError(
          401,
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          'authError',
          'global',
          'UNAUTHENTICATED',
        ),
      );
    }
    return t;
  }

  const insufficientScopes = () =>
    new HttpError(
      403,
      googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'global', 'PERMISSION_DENIED'),
    );

  function authenticate(req: IncomingMessage, userId: string): string {
    const t = tokenOf(req);
    if (!t.scopes.includes(GMAIL_READONLY)) throw insufficientScopes();
    const user = userId === 'me' ? (t.grant === '*' ? owner : t.grant) : userId.toLowerCase();
    if (t.grant !== '*' && t.grant !== user) throw new HttpError(403, googleError(403, 'Delegation denied for ' + user, 'forbidden'));
    if (!/^[^@\s]+@[^@\s]+$/.test(user))
      throw new HttpError(400, googleError(400, 'Invalid user id specified in request/Delegation denied', 'invalidArgument'));
    return user;
  }

  /** Admin SDK Directory `users.list` (customer=my_customer or domain=…), paged, for an admin's delegated token. */
  function directoryUsers(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!workspace) throw new HttpError(404, googleError(404, 'Not Found', 'notFound'));
    const t = tokenOf(req);
    if (!t.scopes.includes(DIRECTORY_USER_READONLY)) throw insufficientScopes();
    const q = url.searchParams;
    const customer = q.get('customer');
    const domain = q.get('domain');
    if (!customer && !domain) throw new HttpError(400, googleError(400, 'Bad Request', 'badRequest'));
    const denied = () => new HttpError(403, googleError(403, 'Not Authorized to access this resource/api', 'forbidden'));
    if (!workspace.user(t.grant)?.isAdmin) throw denied();
    if (domain && domain.toLowerCase() !== workspace.options.domain.toLowerCase()) throw denied();
    if (customer && customer !== 'my_customer') throw new HttpError(400, googleError(400, 'Bad Request', 'badRequest'));
    const max = q.get('maxResults') === null ? 100 : Number(q.get('maxResults'));
    if (!Number.isInteger(max) || max < 1 || max > 500)
      throw new HttpError(
        400,
        googleError(400, `Invalid value '${q.get('maxResults')}'. Values must be within the range: [1, 500]`, 'invalid'),
      );
    const start = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString().replace(/^u/, '')) : 0;
    if (!Number.isInteger(start) || start < 0) throw new HttpError(400, googleError(400, 'Invalid page token', 'invalid'));
    const users = workspace.users.slice(start, start + max);
    const next = start + max < workspace.users.length ? Buffer.from(`u${start + max}`).toString('base64url') : undefined;
    limits.served('directory.users.list');
    send(res, 200, {
      kind: 'admin#directory#users',
      users: users.map((u) => ({ kind: 'admin#directory#user', ...u })),
      ...(next ? { nextPageToken: next } : {}),
    });
  }

  function methodOf(rest: string[]): Method | undefined {
    if (rest[0] === 'profile' && rest.length === 1) return 'getProfile';
    if (rest[0] === 'labels') return rest.length === 1 ? 'labels.list' : rest.length === 2 ? 'labels.get' : undefined;
    if (rest[0] === 'history' && rest.length === 1) return 'history.list';
    if (rest[0] === 'messages') {
      if (rest.length === 1) return 'messages.list';
      if (rest.length === 2) return 'messages.get';
      if (rest.length === 4 && rest[2] === 'attachments') return 'messages.attachments.get';
    }
    return undefined;
  }

  async function gmail(req: IncomingMessage, res: ServerResponse, userId: string, rest: string[], url: URL): Promise<void> {
    const method = methodOf(rest);
    if (!method || req.method !== 'GET') throw new HttpError(404, googleError(404, 'Not Found', 'notFound'));
    const user = authenticate(req, userId);
    if (!limits.acquire(user, method)) {
      throw new HttpError(429, googleError(429, 'Too many concurrent requests for user', 'rateLimitExceeded', 'usageLimits'));
    }
    try {
      const latency = limits.drawLatency();
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const charged = limits.charge(user, method);
      if (charged === 'user') {
        throw new HttpError(
          403,
          googleError(
            403,
            `User-rate limit exceeded. Retry after ${new Date(Date.now() + 1000).toISOString()}`,
            'userRateLimitExceeded',
            'usageLimits',
          ),
        );
      }
      if (charged === 'project') {
        throw new HttpError(
          403,
          googleError(
            403,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'gmail.googleapis.com'",
            'rateLimitExceeded',
            'usageLimits',
          ),
        );
      }
      const fault = limits.drawFault(method);
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault === 'error500') throw new HttpError(500, googleError(500, 'Backend Error', 'backendError'));
      if (fault === 'error503') throw new HttpError(503, googleError(503, 'The service is currently unavailable.', 'backendError'));
      if (fault === 'error429')
        throw new HttpError(429, googleError(429, 'Too many concurrent requests for user', 'rateLimitExceeded', 'usageLimits'));
      const body = serve(mailbox(user), method, rest, url);
      limits.served(method);
      if (fault === 'truncate') {
        const text = JSON.stringify(body);
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, Math.floor(text.length / 2)));
        req.socket.destroy();
        return;
      }
      send(res, 200, body);
    } finally {
      limits.release(user);
    }
  }

  function serve(mb: Mailbox, method: Method, rest: string[], url: URL): unknown {
    const q = url.searchParams;
    switch (method) {
      case 'getProfile':
        return {
          emailAddress: mb.email,
          messagesTotal: mb.messagesTotal,
          threadsTotal: Math.round(mb.messagesTotal * 0.65),
          historyId: String(mb.historyId),
        };
      case 'labels.list':
        return { labels: labelResources() };
      case 'labels.get': {
        const label = labelResources().find((l) => l.id === rest[1]);
        if (!label) throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
        // As Gmail: labels.get carries the counts (labels.list does not); threads counted as messages here.
        const { total, unread } = mb.labelCounts(label.id);
        return { ...label, messagesTotal: total, messagesUnread: unread, threadsTotal: total, threadsUnread: unread };
      }
      case 'messages.list':
        return listMessages(mb, q);
      case 'messages.get': {
        const index = mb.indexOf(rest[1]!);
        if (index === undefined) throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
        const format = (q.get('format') ?? 'full') as Format;
        if (!['minimal', 'metadata', 'full', 'raw'].includes(format))
          throw new HttpError(400, googleError(400, `Invalid value at 'format' (${format})`, 'invalidArgument'));
        return messageResource(mb, mb.view(index)!, format, q.getAll('metadataHeaders'));
      }
      case 'messages.attachments.get': {
        const ref = parseAttachmentId(rest[3]!);
        const index = mb.indexOf(rest[1]!);
        if (!ref || index === undefined || ref.messageId !== rest[1])
          throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
        const leaf = parseMime(mb.raw(index), { inlineLimit: INLINE_LIMIT, attachmentId: (p) => attachmentIdFor(rest[1]!, p) }).leaves.find(
          (l) => l.partId === ref.partId,
        );
        if (!leaf) throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
        return { size: leaf.content.length, data: leaf.content.toString('base64url') };
      }
      case 'history.list':
        return listHistory(mb, q);
    }
  }

  function pageSize(q: URLSearchParams, def: number): number {
    const raw = q.get('maxResults');
    const n = raw === null ? def : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new HttpError(400, googleError(400, `Invalid maxResults: ${raw}`, 'invalidArgument'));
    return Math.min(n, 500);
  }

  function listMessages(mb: Mailbox, q: URLSearchParams) {
    const max = pageSize(q, 100);
    let query;
    try {
      query = parseQuery(q.get('q') ?? undefined);
    } catch (e) {
      if (e instanceof QueryError) throw new HttpError(400, googleError(400, `Invalid query: ${e.message}`, 'invalidArgument'));
      throw e;
    }
    const labelIds = q.getAll('labelIds');
    const includeSpamTrash =
      q.get('includeSpamTrash') === 'true' || query.mentionsSpamTrash || labelIds.some((l) => l === 'SPAM' || l === 'TRASH');
    const token = q.get('pageToken');
    let start = mb.indexLimit - 1;
    if (token) {
      const [index, generation] = Buffer.from(token, 'base64url').toString().replace(/^p/, '').split('.').map(Number);
      if (!Number.isInteger(index) || index! < -1 || generation !== pageTokenGeneration)
        throw new HttpError(400, googleError(400, 'Invalid pageToken', 'invalidArgument'));
      start = Math.min(index!, mb.indexLimit - 1);
    }
    const baseSize = mb.firstIndexAtOrAfter(Infinity);
    const hi = query.before !== undefined ? mb.firstIndexAtOrAfter(query.before) : baseSize;
    const lo = query.after !== undefined ? mb.firstIndexAtOrAfter(query.after) : 0;
    const messages: { id: string; threadId: string }[] = [];
    let i = start;
    for (; i >= 0 && messages.length < max; i--) {
      if (i < baseSize && i >= hi) i = hi - 1;
      if (i < lo) {
        i = -1;
        break;
      }
      if (i < 0) break;
      const v = mb.view(i);
      if (!v) continue;
      if (!includeSpamTrash && (v.labelIds.includes('SPAM') || v.labelIds.includes('TRASH'))) continue;
      if (labelIds.length && !labelIds.every((l) => v.labelIds.includes(l))) continue;
      if (!query.predicates.every((p) => p(v))) continue;
      messages.push({ id: v.id, threadId: v.threadId });
    }
    const more = i >= Math.max(lo, 0);
    const filtered = query.predicates.length > 0 || labelIds.length > 0;
    const estimate = filtered
      ? messages.length + (more ? Math.round((i - lo) * (messages.length / Math.max(start - i, 1))) : 0)
      : Math.max(0, mb.messagesTotal);
    return {
      ...(messages.length ? { messages } : {}),
      ...(more ? { nextPageToken: Buffer.from(`p${i}.${pageTokenGeneration}`).toString('base64url') } : {}),
      resultSizeEstimate: estimate,
    };
  }

  function listHistory(mb: Mailbox, q: URLSearchParams) {
    const startRaw = q.get('startHistoryId');
    if (!startRaw || !/^\d+$/.test(startRaw)) throw new HttpError(400, googleError(400, 'Invalid startHistoryId', 'invalidArgument'));
    const start = Number(startRaw);
    if (start < mb.oldestValidHistoryId) throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
    const max = pageSize(q, 100);
    const types = q.getAll('historyTypes');
    const labelId = q.get('labelId');
    const offset = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString()) : 0;
    const keys = {
      messageAdded: 'messagesAdded',
      messageDeleted: 'messagesDeleted',
      labelAdded: 'labelsAdded',
      labelRemoved: 'labelsRemoved',
    } as const;
    const wanted = types.length ? types.map((t) => keys[t as keyof typeof keys]).filter(Boolean) : Object.values(keys);
    const records = mb
      .historySince(start)
      .map((h) => {
        const out: Record<string, unknown> = { id: String(h.id), messages: h.messages };
        for (const k of wanted) if (h[k]) out[k] = h[k];
        return out;
      })
      .filter((h) => wanted.some((k) => h[k] !== undefined))
      .filter(
        (h) =>
          !labelId ||
          wanted.some((k) =>
            (h[k] as { message: { labelIds: string[] }; labelIds?: string[] }[] | undefined)?.some(
              (e) => e.message.labelIds.includes(labelId) || e.labelIds?.includes(labelId),
            ),
          ),
      );
    const page = records.slice(offset, offset + max);
    const next = offset + max < records.length ? Buffer.from(String(offset + max)).toString('base64url') : undefined;
    return { ...(page.length ? { history: page } : {}), ...(next ? { nextPageToken: next } : {}), historyId: String(mb.historyId) };
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string[]): Promise<void> {
    const m = req.method ?? 'GET';
    const body = async () => {
      const text = await readBody(req);
      try {
        return text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        throw new HttpError(400, { error: 'body is not JSON' });
      }
    };
    const route = `${m} ${path.map((p, i) => (path[0] === 'users' && (i === 1 || (i === 3 && path[2] === 'messages')) ? ':' : p)).join('/')}`;
    switch (route) {
      case 'GET health':
        return send(res, 200, { ok: true });
      case 'GET settings':
        return send(res, 200, limits.settings);
      case 'PATCH settings':
        try {
          const s = limits.update(await body());
          for (const mb of mailboxes.values()) mb.historyRetention = s.historyRetention;
          return send(res, 200, s);
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, { error: String(e) });
        }
      case 'GET stats':
        return send(res, 200, { methods: limits.snapshot() });
      case 'POST stats/reset':
        limits.resetStats();
        return send(res, 200, { ok: true });
      case 'POST tokens/revoke': {
        const given = (await body()).refresh_token;
        const rt = typeof given === 'string' ? given : '';
        authority.revokeRefreshToken(rt);
        return send(res, 200, { revoked: rt });
      }
      case 'POST pageTokens/expire':
        pageTokenGeneration++;
        return send(res, 200, { generation: pageTokenGeneration });
      case 'GET client-secret.json': {
        const type = new URL(req.url ?? '/', 'http://emulator').searchParams.get('type') === 'web' ? 'web' : 'installed';
        return send(res, 200, authority.clientFile(url, type));
      }
      case 'GET service-account':
        if (!workspace) throw new HttpError(404, { error: 'no workspace: start the emulator with a domain' });
        return send(res, 200, workspace.key);
      case 'POST tokens/expire':
        authority.expireAccessTokens();
        return send(res, 200, { ok: true });
      case 'GET users/:/manifest': {
        const mb = mailbox(path[1]);
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (let i = mb.indexLimit - 1; i >= 0; i--) {
          const v = mb.view(i);
          if (!v) continue;
          const line = JSON.stringify({
            id: v.id,
            threadId: v.threadId,
            internalDate: v.internalDate,
            labelIds: v.labelIds,
            from: v.from.address,
            to: v.to,
            subject: v.subject,
            hasAttachment: v.hasAttachment,
            sha256: mb.checksum(i),
          });
          if (!res.write(line + '\n')) await new Promise((r) => res.once('drain', r));
        }
        res.end();
        return;
      }
      case 'POST users/:/messages': {
        const b = await body();
        const mb = mailbox(path[1]);
        const count = Number(b.count ?? 1);
        const raw = typeof b.raw === 'string' ? Buffer.from(b.raw, 'base64') : undefined;
        const labelIds = Array.isArray(b.labelIds) ? (b.labelIds as string[]) : undefined;
        const added = Array.from({ length: raw ? 1 : count }, () => mb.add({ raw, labelIds }));
        return send(res, 200, { messages: added.map((v) => ({ id: v.id, threadId: v.threadId })), historyId: String(mb.historyId) });
      }
      case 'POST users/:/messages/:': {
        // Many messages at once, one history record per message (as Gmail's batchDelete / batchModify do).
        const b = await body();
        const mb = mailbox(path[1]);
        const ids = Array.isArray(b.ids) ? (b.ids as unknown[]).map(String) : [];
        const missing: string[] = [];
        if (path[3] === 'batchDelete') {
          for (const id of ids) {
            const index = mb.indexOf(id);
            if (index === undefined || !mb.delete(index)) missing.push(id);
          }
        } else if (path[3] === 'batchModify') {
          const add = Array.isArray(b.add) ? (b.add as string[]) : [];
          const remove = Array.isArray(b.remove) ? (b.remove as string[]) : [];
          for (const id of ids) {
            const index = mb.indexOf(id);
            if (index === undefined || !mb.relabel(index, add, remove)) missing.push(id);
          }
        } else throw new HttpError(404, { error: `no control route POST users/:/messages/${path[3]}` });
        return send(res, 200, { changed: ids.length - missing.length, missing, historyId: String(mb.historyId) });
      }
      case 'DELETE users/:/messages/:': {
        const mb = mailbox(path[1]);
        const index = mb.indexOf(path[3]!);
        if (index === undefined || !mb.delete(index)) throw new HttpError(404, { error: 'no such message' });
        return send(res, 200, { deleted: path[3], historyId: String(mb.historyId) });
      }
      case 'POST users/:/messages/:/labels': {
        const b = await body();
        const mb = mailbox(path[1]);
        const index = mb.indexOf(path[3]!);
        const v = index === undefined ? undefined : mb.relabel(index, (b.add as string[]) ?? [], (b.remove as string[]) ?? []);
        if (!v) throw new HttpError(404, { error: 'no such message' });
        return send(res, 200, { id: v.id, labelIds: v.labelIds, historyId: String(mb.historyId) });
      }
      case 'POST users/:/history/expire': {
        const mb = mailbox(path[1]);
        mb.expireHistory();
        return send(res, 200, { oldestValidHistoryId: String(mb.oldestValidHistoryId) });
      }
      default:
        throw new HttpError(404, { error: `no control route ${route}` });
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}/`;
  return {
    url,
    port,
    tokenUrl: `${url}token`,
    server,
    authority,
    clientFile: (type = 'installed') => authority.clientFile(url, type),
    limits,
    workspace,
    mailbox,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function labelResources() {
  return [
    ...SYSTEM_LABELS.map((id) => ({ id, name: id, type: 'system', messageListVisibility: 'show', labelListVisibility: 'labelShow' })),
    ...USER_LABELS.map((l) => ({ id: l.id, name: l.name, type: 'user', messageListVisibility: 'show', labelListVisibility: 'labelShow' })),
  ];
}

/** A Workspace user's mailbox size: between a third of and twice `size`, fixed by the seed (so fairness shows). */
function variedSize(seed: string, size: number): number {
  const x = createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
  return Math.max(1, Math.round(size * (1 / 3 + (5 / 3) * x)));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
