import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { createApp } from './api/app.js';
import { connectForApi, deadlineBound, READINESS_DEADLINE_MS } from './api/temporal-deadline.js';
import { createFleetService } from './api/fleets.js';
import { ApiError } from './api/errors.js';
import { createExtractionService, type ExtractionService } from './api/extractions.js';
import { createMailboxService } from './api/mailboxes.js';
import { removeOrphanedStaging } from './activities/index.js';
import { assertApiKeys, type Config } from './config.js';
import { GmailAuthError, type GmailCredentials, isServiceAccount, NoCredentials, ServiceAccountNeedsAddress } from './gmail/auth.js';
import { createGmailApi, createProjectQuota, fairShareOf } from './gmail/client.js';
import { createDirectory } from './gmail/directory.js';
import { Lake } from './lake/lake.js';
import { createLogger, type Logger } from './log.js';
import { createWorker } from './worker/worker.js';
import { parseLibpqDsn } from './gmail/project-quota.js';
import { registerSecrets } from './redact.js';
import { dataConverterFor } from './codec.js';
import { metricsText, registry, setSdkMetricsAddress } from './metrics.js';
import { flushTraces, startTracing } from './tracing.js';
import { keyMailboxIds } from './mailbox-ids.js';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';

const passwordOf = (dsn: string): string | undefined => {
  try {
    const p = parseLibpqDsn(dsn).password;
    return typeof p === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
};

export interface Pipeline {
  url: string;
  client: Client;
  /** The lake, when this process runs a worker. */
  lake: Lake;
  worker: Worker | undefined;
  extractions: ExtractionService;
  logger: Logger;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
/**
 * Temporal's own SDK logs at WARN unless debugging (its INFO lines drown the JSON logs), and its runtime metrics go to
 * a Prometheus exporter on a loopback port that `/metrics` appends to this process's own. Once per process.
 */
async function installTemporalRuntime(level: string): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const bindAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  try {
    // No shutdown signals of its own: the entry points own SIGINT/SIGTERM and shut the worker down once, through
    // Pipeline.stop (the runtime reacting first left stop() shutting a draining worker down again, or nothing at all).
    // The SDK's own lines (activity failures quote their errors, which may hold a DSN) go through the redacting logger.
    // At most WARN unless debugging (the SDK's INFO lines drown the JSON logs); quieter when LOG_LEVEL is.
    const sdkLevel = ['debug', 'trace', 'error', 'fatal', 'silent'].includes(level) ? level : 'warn';
    const sdkLog = createLogger(sdkLevel, { service: 'temporal-sdk' });
    Runtime.install({
      logger: new DefaultLogger(level === 'debug' || level === 'trace' ? 'DEBUG' : 'WARN', (entry) => {
        const meta = Object.fromEntries(
          Object.entries(entry.meta ?? {}).map(([k, v]) => [
            k,
            v instanceof Error ? { type: v.name, message: v.message, stack: v.stack } : v,
          ]),
        );
        const method = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[entry.level];
        sdkLog[method](meta, entry.message);
      }),
      shutdownSignals: [],
      telemetryOptions: { metrics: { prometheus: { bindAddress }, metricPrefix: 'temporal_' } },
    });
    setSdkMetricsAddress(bindAddress);
  } catch {
    /* a runtime already exists (e.g. created by a test harness): keep it */
  }
}

const freeLoopbackPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/**
 * Wires a process from its parts: the HTTP API (`api`), a worker with the lake (`worker`), or both (`npm start`, the
 * demo and the tests: a DuckDB-file catalog admits one writer process, so the API's lake check shares the worker's
 * lake). `npm run api` and `npm run worker` are the two separate composition roots of the scaled-out layout.
 */
export async function startPipeline(
  config: Config,
  credentials: GmailCredentials | undefined,
  opts: { api?: boolean; worker?: boolean } = {},
): Promise<Pipeline> {
  if (opts.api !== false) assertApiKeys(config);
  registerSecrets(
    config.lake.pgDsn ? passwordOf(config.lake.pgDsn) : undefined,
    config.lake.s3.secret,
    config.lake.s3.keyId,
    ...(!credentials
      ? []
      : isServiceAccount(credentials)
        ? // The key and each of its lines (a quoted fragment is still a leak).
          [credentials.private_key, ...credentials.private_key.split('\n').filter((l) => l.length >= 32 && !l.startsWith('-----'))]
        : [credentials.client_secret, credentials.refresh_token]),
    ...(config.temporal.codecKeys ?? []).map((k) => k.key.toString('base64')),
    config.webhooks?.secret,
    config.temporal.idKey,
  );
  const logger = createLogger(config.logLevel, { service: 'gmail-lake' });
  await installTemporalRuntime(config.logLevel);
  const project =
    opts.worker !== false
      ? createProjectQuota(config.gmail, config.lake.catalog === 'postgres' ? config.lake.pgDsn : undefined)
      : undefined;
  const gmail = createGmailApi({ config: config.gmail, credentials, project });
  let lake: Lake | undefined;
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  const connection =
    opts.api === false ? await Connection.connect({ address: config.temporal.address }) : await connectForApi(config.temporal.address);
  const dataConverter = dataConverterFor(config.temporal.codecKeys);
  const tracing = startTracing(config.otlpEndpoint);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter,
    // Traces continue from the API request into the workflows it starts, signals and queries.
    interceptors: tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined,
  });
  keyMailboxIds(client, config.temporal.idKey);
  if (opts.worker !== false) {
    lake = await Lake.open(config.lake);
    nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
    await removeOrphanedStaging(config.lake.stagingDir, 60 * 60_000, logger);
    worker = await createWorker(
      config,
      {
        lake,
        gmail,
        stagingDir: config.lake.stagingDir,
        fetchConcurrency: config.gmail.fetchConcurrency,
        logger,
        temporal: client,
        taskQueue: config.temporal.taskQueue,
        webhooks: config.webhooks && { ...config.webhooks, source: `gmail-lake/${config.temporal.namespace}` },
        directory: credentials && createDirectory(config.gmail, credentials),
        fairShare: fairShareOf(config.gmail),
      },
      nativeConnection,
      tracing,
    );
    workerRun = worker.run();
  }
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
  };
  const extractions = createExtractionService(client, config.temporal.taskQueue, extractionOptions, resolveAccount);
  const mailboxes = createMailboxService(client, config.temporal.taskQueue, extractions, resolveAccount);
  const fleets = createFleetService(client, config.temporal.taskQueue, extractionOptions, config.api.fleetMaxConcurrency);
  let server: ServerType | undefined;
  let url = '';
  const inFlight = new Set<Promise<unknown>>();
  if (opts.api !== false) {
    const bounded = deadlineBound(connection, inFlight);
    const app = createApp({
      extractions,
      mailboxes,
      fleets,
      logger,
      auth: config.api.auth,
      ui: { temporalUiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace },
      codec: dataConverter?.payloadCodecs?.[0]
        ? {
            codec: dataConverter.payloadCodecs[0],
            uiOrigin: new URL(config.temporal.uiUrl).origin,
            keys: (config.temporal.codecKeys ?? []).map((k) => k.key),
          }
        : undefined,
      temporalDeadline: bounded,
      readiness: {
        temporal: async () => void (await bounded(() => connection.workflowService.getSystemInfo({}), READINESS_DEADLINE_MS)),
        ...(lake ? { lake: async () => void (await lake.query('SELECT count(*) FROM lake.extraction_runs')) } : {}),
      },
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, () => resolve(s));
    });
    url = `http://${config.api.host}:${(server.address() as AddressInfo).port}`;
  }
  let metricsServer: ReturnType<typeof createHttpServer> | undefined;
  if (opts.api === false && config.api.metricsPort) {
    const srv = createHttpServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      void metricsText().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    metricsServer = srv;
    await new Promise<void>((resolve) => srv.listen(config.api.metricsPort, config.api.host, resolve));
  }
  logger.info(
    {
      api: url || null,
      // With encrypted payloads: the Temporal Web UI's codec endpoint (README, "Encrypted payloads").
      ...(url && config.temporal.codecKeys ? { codecEndpoint: `${url}/codec` } : {}),
      temporal: config.temporal.address,
      taskQueue: config.temporal.taskQueue,
      lake: config.lake.catalog,
    },
    'pipeline started',
  );
  return {
    url,
    client,
    get lake(): Lake {
      if (!lake) throw new Error('this process runs no worker, so it has no lake open');
      return lake;
    },
    worker,
    extractions,
    logger,
    async stop() {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
      await Promise.allSettled([...inFlight]);
      worker?.shutdown();
      await workerRun;
      await connection.close();
      await nativeConnection?.close();
      lake?.close();
      await project?.close();
      await flushTraces();
    },
  };
}
