import { authRefused, gmailResponses, quotaUnits } from '../metrics.js';
import { span } from '../tracing.js';
import type { gmail_v1 } from '@googleapis/gmail';
import { GmailAuthError, type GmailClients, type GmailCredentials, gmailClients } from './auth.js';
import type { GmailConfig } from '../config.js';
import { QUOTA_PROFILES } from '../env-schema.js';
import { QuotaBudget, type QuotaMethod } from './budget.js';
import { bodyParts } from '../mime/content.js';
import type { GmailPart } from '../mime/parse.js';
import { LocalReservations, PostgresReservations, ProjectQuota } from './project-quota.js';
import { classifyGmailError, isFailedPrecondition } from './errors.js';
import { type StreamedRaw, streamRawMessage } from './raw-stream.js';
import { withRetry } from './retry.js';
import type { UnitMeter } from '../workflows/contracts.js';

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export interface ListPageRequest {
  pageToken?: string;
  q?: string;
  labelIds?: string[];
  includeSpamTrash?: boolean;
  maxResults: number;
}

/** The few Gmail calls the pipeline makes, each metered by the quota budget and retried on transient errors. */
export interface GmailApi {
  profile(account: string): Promise<{ emailAddress: string; messagesTotal: number; historyId: string }>;
  labels(account: string): Promise<{ id: string; name: string; type: string }[]>;
  /** Messages carrying a label (labels.get). */
  labelTotal(account: string, labelId: string): Promise<number>;
  /** A page of messages.list: the ids and, in the same order, their threads' ids. */
  listPage(
    account: string,
    req: ListPageRequest,
  ): Promise<{ ids: string[]; threadIds: string[]; nextPageToken?: string; resultSizeEstimate: number }>;
  /**
   * users.watch (100 units): Gmail publishes every change of the mailbox to the Pub/Sub `topic` until `expiration`
   * (ms since the epoch; 7 days on), replacing the mailbox's previous watch.
   */
  watch(account: string, topic: string): Promise<{ historyId: string; expiration: number }>;
  /** One page of the mailbox's history after `startHistoryId` (404 when it is older than Gmail keeps). */
  history(account: string, req: HistoryPageRequest): Promise<HistoryPage>;
  /** The message, or undefined when Gmail answers 404 (deleted since it was listed). */
  getMessage(account: string, id: string, format: MessageFormat): Promise<gmail_v1.Schema$Message | undefined>;
  /**
   * The messages of a thread among `wanted` (threads.get: 10 units where messages.get is 5; not in `raw`), or
   * undefined when Gmail answers 404.
   */
  getThread(
    account: string,
    threadId: string,
    format: 'full' | 'metadata' | 'minimal',
    wanted: ReadonlySet<string>,
  ): Promise<gmail_v1.Schema$Message[] | undefined>;
  /** An attachment's data (base64url) by its attachmentId: messages.attachments.get, 5 units; undefined on 404. */
  getAttachment(account: string, messageId: string, attachmentId: string): Promise<string | undefined>;
  /**
   * The message in format `raw`, its bytes streamed into `file` as they arrive (never whole in memory: Gmail's
   * largest answers are ~35 MB), or undefined on 404.
   */
  getRawMessage(account: string, id: string, file: string): Promise<StreamedRaw | undefined>;
  /**
   * The same calls for one batch: they spend at most `share` of the mailbox's quota budget (the workflow splits the
   * mailbox's budget among its batches in flight, so the total holds whatever worker runs them) and stop when
   * `signal` aborts (the activity was cancelled).
   */
  scoped(options: ScopeOptions): GmailApi;
}

export interface ScopeOptions {
  share?: number;
  signal?: AbortSignal;
  /** Counts the quota units and requests this view spends, per method (a run's quota accounting). */
  meter?: UnitMeter;
}

export const newMeter = (): UnitMeter => ({ units: {}, calls: {} });

/** History after `startHistoryId`: the pipeline pages by moving the start id, so a page never depends on a token. */
export interface HistoryPageRequest {
  startHistoryId: string;
  maxResults: number;
}
export interface HistoryRef {
  id: string;
  threadId: string;
  labelIds: string[];
}
/** One history record as the pipeline uses it: what happened to which messages (never content). */
export interface HistoryRecord {
  id: string;
  added: HistoryRef[];
  deleted: HistoryRef[];
  labelsAdded: { message: HistoryRef; labelIds: string[] }[];
  labelsRemoved: { message: HistoryRef; labelIds: string[] }[];
}
export interface HistoryPage {
  records: HistoryRecord[];
  nextPageToken?: string;
  /** The mailbox's current historyId. */
  historyId: string;
}

export interface GmailApiOptions {
  config: GmailConfig;
  /** GMAIL_CREDENTIALS_FILE's contents, if any (per-mailbox credentials come from config.credentialsDir). */
  credentials: GmailCredentials | undefined;
  /** The project-wide quota every call spends from (see createProjectQuota); none = unlimited. */
  project?: ProjectQuota;
}

/**
 * The per-project quota of these settings: booked in `pgDsn`'s database when given (every worker on every host shares
 * it), else in this process. None when the quota profile is `off`.
 */
export function createProjectQuota(config: GmailConfig, pgDsn?: string): ProjectQuota | undefined {
  if (config.quota.profile === 'off') return undefined;
  const unitsPerMs = (config.project.units * config.quota.share) / (config.project.windowSeconds * 1000);
  const store = pgDsn ? new PostgresReservations(pgDsn, config.project.name, unitsPerMs) : new LocalReservations(unitsPerMs);
  // Chunks of ten messages.get: one booking per ten requests, small enough to keep bookings and spending in step.
  return new ProjectQuota(store, 10 * QUOTA_PROFILES[config.quota.profile].costs.get, unitsPerMs);
}

/**
 * The share of its per-user budget each of `concurrency` mailboxes may spend so that together they stay within the
 * project's quota (1 when they fit anyway, or with the budget off): a fleet's fair share, so no mailbox starves.
 */
export function fairShareOf(config: GmailConfig): (concurrency: number) => number {
  return (concurrency) => {
    if (config.quota.profile === 'off') return 1;
    const perUser =
      (QUOTA_PROFILES[config.quota.profile].unitsPerWindow / QUOTA_PROFILES[config.quota.profile].windowSeconds) * config.quota.share;
    const project = (config.project.units / config.project.windowSeconds) * config.quota.share;
    return Math.min(1, project / (Math.max(1, concurrency) * perUser));
  };
}

/** Builds the Gmail calls over googleapis clients (one per mailbox with a service account) against config.rootUrl. */
export function createGmailApi({ config, credentials, project }: GmailApiOptions): GmailApi {
  const gmail = gmailClients(config, credentials);
  const budgetAt = (share: number) => new QuotaBudget(config.quota.profile, config.quota.share, undefined, project, share);
  return scopedApi(gmail, config, budgetAt, budgetAt(1), {});
}

function scopedApi(
  gmail: GmailClients,
  config: GmailConfig,
  budgetAt: (share: number) => QuotaBudget,
  budget: QuotaBudget,
  scope: ScopeOptions,
): GmailApi {
  const { signal, meter } = scope;
  // Units are priced with the profile's table; with the budget off, with Gmail's legacy one (Gmail still charges).
  const costs = QUOTA_PROFILES[config.quota.profile === 'off' ? 'legacy' : config.quota.profile].costs;
  const call = async <T>(
    account: string,
    method: QuotaMethod,
    fn: (gmail: gmail_v1.Gmail, opts: { signal?: AbortSignal }) => Promise<T>,
  ): Promise<T> =>
    withRetry(
      async () => {
        const { gmail: g, source } = gmail(account);
        await budget.take(account, method, signal);
        if (meter) {
          meter.units[method] = (meter.units[method] ?? 0) + costs[method];
          meter.calls[method] = (meter.calls[method] ?? 0) + 1;
        }
        quotaUnits.inc({ method }, costs[method]);
        return span(`gmail ${method}`, { 'gmail.method': method }, async (s) => {
          try {
            const r = await fn(g, { signal }).catch((e: unknown) => {
              parseStreamedError(e);
              // Refused credentials, in words that say what to do (login again, a new client file…).
              if (classifyGmailError(e) !== 'auth') throw e;
              const failure = GmailAuthError.of(e, account, source);
              authRefused.inc({ reason: failure.reason });
              throw failure;
            });
            const status = (r as { status?: number }).status ?? 200;
            gmailResponses.inc({ method, status: String(status) });
            s.setAttribute('http.response.status_code', status);
            return r;
          } catch (e) {
            const err = e as { response?: { status?: number }; status?: number };
            const status = err.response?.status ?? err.status;
            gmailResponses.inc({ method, status: String(status ?? 'network') });
            if (status) s.setAttribute('http.response.status_code', status);
            throw e;
          }
        });
      },
      {
        attempts: config.requestAttempts,
        signal,
        // A get's intermittent 400 failedPrecondition passes when asked again (see isFailedPrecondition).
        retryable: (e) => classifyGmailError(e) === 'transient' || (method === 'get' && isFailedPrecondition(e)),
      },
    );
  /**
   * Gmail serves a part with a filename (or a large one) by attachmentId even when it is the message's text body: fetch
   * those few so `full` rows carry the same body_text/body_html as `raw` ones.
   */
  const bodiesByAttachment = async (account: string, message: gmail_v1.Schema$Message) => {
    if (!message.payload || !message.id) return;
    for (const part of bodyParts(message.payload as GmailPart)) {
      if (part.body.data !== undefined || !part.body.attachmentId) continue;
      const a = await call(account, 'attachment', (g, o) =>
        g.users.messages.attachments.get({ userId: account, messageId: message.id!, id: part.body.attachmentId! }, o),
      );
      part.body.data = a.data.data ?? '';
    }
  };
  return {
    async profile(account) {
      const r = await call(account, 'profile', (g, o) => g.users.getProfile({ userId: account }, o));
      return { emailAddress: r.data.emailAddress ?? account, messagesTotal: r.data.messagesTotal ?? 0, historyId: r.data.historyId ?? '' };
    },
    async watch(account, topic) {
      const r = await call(account, 'watch', (g, o) => g.users.watch({ userId: account, requestBody: { topicName: topic } }, o));
      return { historyId: r.data.historyId ?? '', expiration: Number(r.data.expiration ?? 0) };
    },
    async labelTotal(account, labelId) {
      const r = await call(account, 'labels', (g, o) => g.users.labels.get({ userId: account, id: labelId }, o));
      return r.data.messagesTotal ?? 0;
    },
    async labels(account) {
      const r = await call(account, 'labels', (g, o) => g.users.labels.list({ userId: account }, o));
      return (r.data.labels ?? []).map((l) => ({ id: l.id ?? '', name: l.name ?? '', type: l.type ?? '' }));
    },
    async listPage(account, req) {
      const r = await call(account, 'list', (g, o) =>
        g.users.messages.list(
          {
            userId: account,
            pageToken: req.pageToken || undefined,
            q: req.q,
            labelIds: req.labelIds,
            includeSpamTrash: req.includeSpamTrash,
            maxResults: req.maxResults,
          },
          o,
        ),
      );
      const listed = (r.data.messages ?? []).filter((m) => !!m.id);
      return {
        ids: listed.map((m) => m.id!),
        threadIds: listed.map((m) => m.threadId ?? ''),
        nextPageToken: r.data.nextPageToken ?? undefined,
        resultSizeEstimate: r.data.resultSizeEstimate ?? 0,
      };
    },
    async history(account, req) {
      const r = await call(account, 'history', (g, o) =>
        g.users.history.list({ userId: account, startHistoryId: req.startHistoryId, maxResults: req.maxResults }, o),
      );
      const ref = (m: gmail_v1.Schema$Message | undefined): HistoryRef => ({
        id: m?.id ?? '',
        threadId: m?.threadId ?? '',
        labelIds: m?.labelIds ?? [],
      });
      return {
        records: (r.data.history ?? []).map((h) => ({
          id: h.id ?? '',
          added: (h.messagesAdded ?? []).map((e) => ref(e.message)),
          deleted: (h.messagesDeleted ?? []).map((e) => ref(e.message)),
          labelsAdded: (h.labelsAdded ?? []).map((e) => ({ message: ref(e.message), labelIds: e.labelIds ?? [] })),
          labelsRemoved: (h.labelsRemoved ?? []).map((e) => ({ message: ref(e.message), labelIds: e.labelIds ?? [] })),
        })),
        nextPageToken: r.data.nextPageToken ?? undefined,
        historyId: r.data.historyId ?? '',
      };
    },
    getAttachment: (account, messageId, attachmentId) =>
      absentOn404(async () => {
        const a = await call(account, 'attachment', (g, o) =>
          g.users.messages.attachments.get({ userId: account, messageId, id: attachmentId }, o),
        );
        return a.data.data ?? '';
      }),
    getMessage: (account, id, format) =>
      absentOn404(async () => {
        const r = await call(account, 'get', (g, o) => g.users.messages.get({ userId: account, id, format }, o));
        if (format === 'full') await bodiesByAttachment(account, r.data);
        return r.data;
      }),
    getThread: (account, threadId, format, wanted) =>
      absentOn404(async () => {
        const r = await call(account, 'thread', (g, o) => g.users.threads.get({ userId: account, id: threadId, format }, o));
        const messages = (r.data.messages ?? []).filter((m) => m.id && wanted.has(m.id));
        if (format === 'full') for (const m of messages) await bodiesByAttachment(account, m);
        return messages;
      }),
    getRawMessage: (account, id, file) =>
      absentOn404(() =>
        call(account, 'get', async (g, o) => {
          const r = await g.users.messages.get({ userId: account, id, format: 'raw' }, { ...o, responseType: 'stream' });
          return { status: r.status, ...(await streamRawMessage(r.data, file)) };
        }),
      ),
    scoped(next) {
      const share = next.share ?? 1;
      return scopedApi(gmail, config, budgetAt, share === 1 ? budget : budgetAt(share), {
        signal: next.signal ?? signal,
        meter: next.meter ?? meter,
      });
    },
  };
}

/**
 * A streamed request's error body arrives as text (gaxios reads it whole, and keeps it as `data` or, when the response
 * counts as unread, only as the error's message): parsed back, so the error is classified as any other.
 */
function parseStreamedError(e: unknown): void {
  const err = e as { message?: string; response?: { data?: unknown } } | undefined;
  const response = err?.response;
  if (!response || (response.data !== null && typeof response.data === 'object')) return;
  for (const text of [response.data, err.message]) {
    if (typeof text !== 'string') continue;
    try {
      response.data = JSON.parse(text);
      return;
    } catch {
      // Not JSON (a proxy's page): kept as it is.
    }
  }
}

/** What `get` resolves to, or undefined when Gmail answers 404 (a message deleted since it was listed). */
async function absentOn404<T>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (err) {
    if (classifyGmailError(err) === 'notFound') return undefined;
    throw err;
  }
}
