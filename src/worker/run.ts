import { Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { removeOrphanedStaging } from '../activities/index.js';
import type { Config } from '../config.js';
import { createGmailApi, createProjectQuota, fairShareOf } from '../gmail/client.js';
import type { GmailCredentials } from '../gmail/auth.js';
import { createDirectory } from '../gmail/directory.js';
import { Lake } from '../lake/lake.js';
import { createLogger, type Logger } from '../log.js';
import { MailboxIds } from '../mailbox-ids.js';
import { metricsText, registry, setSdkMetricsAddress } from '../metrics.js';
import { registerConfiguredSecrets, temporalClient } from '../process.js';
import { flushTraces, startTracing } from '../tracing.js';
import { createWorker } from './worker.js';
import { MemoryBudget } from '../activities/memory-budget.js';

export interface WorkerProcess {
  lake: Lake;
  worker: Worker;
  logger: Logger;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
/**
 * Temporal's own SDK logs at WARN unless debugging (its INFO lines drown the JSON logs), and its runtime metrics go to
 * a Prometheus exporter on a loopback port that `/metrics` appends to this process's own. Once per process.
 */
export async function installTemporalRuntime(level: string): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const bindAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  try {
    // No shutdown signals of its own: the entry points own SIGINT/SIGTERM and shut the worker down once, through
    // stop() (the runtime reacting first left stop() shutting a draining worker down again, or nothing at all).
    // The SDK's own lines (activity failures quote their errors, which may hold a DSN) go through the redacting logger.
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
 * The worker's composition root: the lake, Gmail (per-mailbox credentials, the project's quota), a Temporal worker
 * with every workflow and activity — and with METRICS_PORT, a plain `/metrics` for a scraper inside the cluster.
 */
export async function startWorker(config: Config, credentials: GmailCredentials | undefined): Promise<WorkerProcess> {
  registerConfiguredSecrets(config, credentials);
  const logger = createLogger(config.logLevel, { service: 'gmail-lake' });
  await installTemporalRuntime(config.logLevel);
  const tracing = startTracing(config.otlpEndpoint);
  const project = createProjectQuota(config.gmail, config.lake.catalog === 'postgres' ? config.lake.pgDsn : undefined);
  const gmail = createGmailApi({ config: config.gmail, credentials, project });
  const connection = await Connection.connect({ address: config.temporal.address, ...config.temporal.connection });
  const lake = await Lake.open(config.lake);
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address, ...config.temporal.connection });
  await removeOrphanedStaging(config.lake.stagingDir, 60 * 60_000, logger);
  const worker = await createWorker(
    config,
    {
      lake,
      gmail,
      stagingDir: config.lake.stagingDir,
      fetchConcurrency: config.gmail.fetchConcurrency,
      messageMemory: new MemoryBudget(config.gmail.messageMemory),
      quarantineAfter: config.gmail.quarantineAfter,
      pushTopic: config.gmail.pushTopic,
      attachmentContent: config.gmail.attachmentContent,
      importDirs: config.gmail.importDirs,
      logger,
      temporal: temporalClient(config, connection, tracing !== undefined),
      ids: new MailboxIds(config.temporal.idKey),
      taskQueue: config.temporal.taskQueue,
      webhooks: config.webhooks && { ...config.webhooks, source: `gmail-lake/${config.temporal.namespace}` },
      directory: credentials && createDirectory(config.gmail, credentials),
      fairShare: fairShareOf(config.gmail),
    },
    nativeConnection,
    tracing,
  );
  const run = worker.run();
  let metrics: ReturnType<typeof createHttpServer> | undefined;
  if (config.api.metricsPort) {
    const srv = createHttpServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      void metricsText().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    metrics = srv;
    await new Promise<void>((resolve) => srv.listen(config.api.metricsPort, config.api.host, resolve));
  }
  logger.info({ temporal: config.temporal.address, taskQueue: config.temporal.taskQueue, lake: config.lake.catalog }, 'worker started');
  return {
    lake,
    worker,
    logger,
    async stop() {
      await new Promise<void>((r) => (metrics ? metrics.close(() => r()) : r()));
      worker.shutdown();
      await run;
      await connection.close();
      await nativeConnection.close();
      lake.close();
      await project?.close();
      await flushTraces();
    },
  };
}
