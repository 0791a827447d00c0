import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import { assertApiKeys, type Config } from '../config.js';
import { GmailAuthError, type GmailCredentials, isServiceAccount, NoCredentials, ServiceAccountNeedsAddress } from '../gmail/auth.js';
import { createGmailApi } from '../gmail/client.js';
import { createLogger, type Logger } from '../log.js';
import { MailboxIds } from '../mailbox-ids.js';
import { registerConfiguredSecrets, temporalClient } from '../process.js';
import { flushTraces, startTracing } from '../tracing.js';
import type { Lake } from '../lake/lake.js';
import { readsInLine } from '../read-priority.js';
import { type Opened, opened } from '../opened.js';
import { redactedMessage } from '../redact.js';
import { createApp } from './app.js';
import type { SqlSandbox } from '../lake/sandbox.js';
import type { MessageStore } from './message-routes.js';
import { ApiError } from './errors.js';
import { createExtractionService, type ExtractionService } from './extractions.js';
import { createFleetService } from './fleets.js';
import { createMailboxService } from './mailboxes.js';
import { createImportService } from './imports.js';
import { connectForApi, deadlineBound, READINESS_DEADLINE_MS } from './temporal-deadline.js';

export interface ApiServer {
  url: string;
  client: Client;
  extractions: ExtractionService;
  logger: Logger;
  stop(): Promise<void>;
}

export interface ApiOptions {
  /** A readiness check of the lake, when this process also runs a worker (`npm start`, the demo). */
  lakeReady?: () => Promise<void>;
  /**
   * The worker's lake, when this process runs one: /messages and /mcp read it, rather than a second DuckDB instance
   * that would hold a second copy of the catalog's state.
   */
  lake?: Lake;
}

/**
 * The lake the API reads (/messages, /mcp): the worker's (see ApiOptions.lake), or — an API alone — the lake opened
 * read-only on first use (DuckDB is loaded only then) and kept: each query runs on a new connection, which sees every
 * batch committed before it. A lake that does not exist yet is a 404 until the first extraction makes it.
 */
function lakeReader(config: Config, shared: Lake | undefined): Opened<Lake> {
  if (shared) return { get: () => Promise.resolve(shared), close: () => Promise.resolve() };
  return opened(
    () => import('../lake/lake.js').then(({ Lake }) => Lake.openReadOnly(config.lake)),
    (e) => {
      if (/no lake at/.test(e instanceof Error ? e.message : '')) throw new ApiError(404, 'NOT_FOUND', redactedMessage(e));
      throw e;
    },
  );
}

/**
 * The search index (SEARCH_INDEX) of the lake the API reads, kept current: refreshed before each search and, once a
 * search opened it, every few seconds, so the first search after a backfill does not wait for its batches.
 */
function searchIndexKeeper(logger: Logger, everyMs = 5_000) {
  let timer: NodeJS.Timeout | undefined;
  let kept: Lake | undefined;
  return {
    keep(lake: Lake): void {
      if (kept) return;
      kept = lake;
      // Set up inside a search's request, whose reads go ahead of the worker's commits: this one's keep their place.
      timer = setInterval(() => {
        void readsInLine(() =>
          import('../lake/index-feed.js')
            .then(async ({ indexFeed }) => (await indexFeed(lake))?.refresh())
            .catch((e: unknown) => logger.warn({ err: redactedMessage(e) }, 'search index refresh failed; searches read the lake')),
        );
      }, everyMs).unref();
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      if (kept) await (await import('../lake/index-feed.js')).closeIndexFeed(kept);
    },
  };
}

/** /messages' store over the lake. */
function messageStore(lake: () => Promise<Lake>, index: ReturnType<typeof searchIndexKeeper>): MessageStore {
  const read = () => import('../lake/read.js');
  return {
    search: async (o) => {
      const opened = await lake();
      index.keep(opened);
      return (await import('../lake/search.js')).searchMessages(opened, o);
    },
    message: async (account, id) => (await read()).readMessage(await lake(), account, id),
    raw: async (account, id) => (await read()).readRaw(await lake(), account, id),
    thread: async (account, threadId) => (await read()).readThread(await lake(), account, threadId),
    attachment: async (account, id, partId) => (await read()).readAttachment(await lake(), account, id, partId),
  };
}

/** run_sql's fenced DuckDB, opened on first use and kept. */
function sqlSandbox(config: Config): Opened<SqlSandbox> {
  return opened(() => import('../lake/sandbox.js').then(({ SqlSandbox }) => SqlSandbox.open(config.lake)));
}

/**
 * The API's composition root: the Hono app over a Temporal client — no worker. It reads Gmail only to resolve `me` to
 * the mailbox's address, and the lake (read-only) only for /messages; everything else it asks Temporal.
 */
export async function startApi(config: Config, credentials: GmailCredentials | undefined, options: ApiOptions = {}): Promise<ApiServer> {
  assertApiKeys(config);
  registerConfiguredSecrets(config, credentials);
  const logger = createLogger(config.logLevel, { service: 'gmail-lake' });
  const tracing = startTracing(config.otlpEndpoint);
  const connection = await connectForApi(config.temporal.address, config.temporal.connection);
  const client = temporalClient(config, connection, tracing !== undefined);
  const ids = new MailboxIds(config.temporal.idKey);
  const gmail = createGmailApi({ config: config.gmail, credentials });
  const resolveAccount = async (account: string) => {
    if (account !== 'me') return account;
    if (credentials && isServiceAccount(credentials)) throw new ApiError(400, 'INVALID_REQUEST', new ServiceAccountNeedsAddress().message);
    try {
      return (await gmail.profile('me')).emailAddress;
    } catch (e) {
      // No mailbox to call "me", or its credentials refused: the request cannot name a mailbox.
      if (e instanceof NoCredentials || e instanceof GmailAuthError) throw new ApiError(400, 'INVALID_REQUEST', e.message);
      throw e;
    }
  };
  const extractionOptions = {
    pipelineDepth: config.pipeline.depth,
    compactEvery: config.pipeline.compactEvery,
    compactionQueue: config.pipeline.compactionQueue,
    events: config.webhooks !== undefined,
    stallAfterMs: config.api.stallAfterMs,
  };
  const taskQueue = config.temporal.taskQueue;
  const extractions = createExtractionService(client, taskQueue, extractionOptions, ids, resolveAccount, config.api.stallAfterMs);
  const mailboxes = createMailboxService(client, taskQueue, extractions, ids, resolveAccount);
  const fleets = createFleetService(client, taskQueue, extractionOptions, ids, config.api.fleetMaxConcurrency);
  const inFlight = new Set<Promise<unknown>>();
  const bounded = deadlineBound(connection, inFlight);
  const codec = client.options.loadedDataConverter.payloadCodecs[0];
  const lake = lakeReader(config, options.lake);
  const searchIndex = searchIndexKeeper(logger);
  const sandbox = sqlSandbox(config);
  const app = createApp({
    extractions,
    mailboxes,
    push: config.api.push,
    fleets,
    imports: createImportService(client, taskQueue, ids),
    messages: messageStore(lake.get, searchIndex),
    mcp: { lake: lake.get, sql: sandbox.get },
    logger,
    auth: config.api.auth,
    ui: { temporalUiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace },
    codec: codec
      ? { codec, uiOrigin: new URL(config.temporal.uiUrl).origin, keys: (config.temporal.codecKeys ?? []).map((k) => k.key) }
      : undefined,
    temporalDeadline: bounded,
    readiness: {
      temporal: async () => void (await bounded(() => connection.workflowService.getSystemInfo({}), READINESS_DEADLINE_MS)),
      ...(options.lakeReady ? { lake: options.lakeReady } : {}),
    },
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, () => resolve(s));
  });
  const url = `http://${config.api.host}:${(server.address() as AddressInfo).port}`;
  logger.info(
    {
      api: url,
      // With encrypted payloads: the Temporal Web UI's codec endpoint (docs/operations.md, "Encrypted payloads").
      ...(config.temporal.codecKeys ? { codecEndpoint: `${url}/codec` } : {}),
      temporal: config.temporal.address,
    },
    'api started',
  );
  return {
    url,
    client,
    extractions,
    logger,
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.allSettled([...inFlight]);
      await searchIndex.stop();
      await Promise.all([lake.close(), sandbox.close()]);
      await connection.close();
      await flushTraces();
    },
  };
}
