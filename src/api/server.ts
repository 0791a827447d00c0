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
import { createApp } from './app.js';
import { ApiError } from './errors.js';
import { createExtractionService, type ExtractionService } from './extractions.js';
import { createFleetService } from './fleets.js';
import { createMailboxService } from './mailboxes.js';
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
}

/**
 * The API's composition root: the Hono app over a Temporal client — no worker, no DuckDB. It reads Gmail only to
 * resolve `me` to the mailbox's address; everything else it asks Temporal.
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
  const app = createApp({
    extractions,
    mailboxes,
    fleets,
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
      await connection.close();
      await flushTraces();
    },
  };
}
