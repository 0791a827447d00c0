import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { AddressInfo } from 'node:net';
import { createApp } from './api/app.js';
import { createExtractionService, type ExtractionService } from './api/extractions.js';
import type { Config } from './config.js';
import { createGmailApi, type GmailCredentials } from './gmail/client.js';
import { Lake } from './lake/lake.js';
import { createLogger, type Logger } from './log.js';
import { createWorker } from './worker/worker.js';

export interface Pipeline {
  url: string;
  client: Client;
  lake: Lake;
  worker: Worker;
  extractions: ExtractionService;
  logger: Logger;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
/** Temporal's own SDK logs at WARN unless debugging (its INFO lines drown the JSON logs). Once per process. */
function installTemporalRuntime(level: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger(level === 'debug' || level === 'trace' ? 'DEBUG' : 'WARN') });
  } catch {
    /* a runtime already exists (e.g. created by a test harness): keep it */
  }
}

/**
 * The composition root: one process with the lake, a worker and the HTTP API (a DuckDB-file catalog admits one
 * writer process, so API readiness checks and activities share this process's lake).
 */
export async function startPipeline(config: Config, credentials: GmailCredentials, opts: { api?: boolean } = {}): Promise<Pipeline> {
  const logger = createLogger(config.logLevel, { service: 'gmail-lake' });
  installTemporalRuntime(config.logLevel);
  const lake = await Lake.open(config.lake);
  const gmail = createGmailApi({ config: config.gmail, credentials });
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createWorker(
    config,
    { lake, gmail, stagingDir: config.lake.stagingDir, fetchConcurrency: config.gmail.fetchConcurrency, logger },
    nativeConnection,
  );
  const workerRun = worker.run();
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const extractions = createExtractionService(client, config.temporal.taskQueue, {
    pipelineDepth: config.pipeline.depth,
    compactEvery: config.pipeline.compactEvery,
  });
  let server: ServerType | undefined;
  let url = '';
  if (opts.api !== false) {
    const app = createApp({
      extractions,
      logger,
      readiness: {
        temporal: async () => void (await connection.workflowService.getSystemInfo({})),
        lake: async () => void (await lake.query('SELECT count(*) FROM lake.extraction_runs')),
      },
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, () => resolve(s));
    });
    url = `http://${config.api.host}:${(server.address() as AddressInfo).port}`;
  }
  logger.info(
    { api: url || null, temporal: config.temporal.address, taskQueue: config.temporal.taskQueue, lake: config.lake.catalog },
    'pipeline started',
  );
  return {
    url,
    client,
    lake,
    worker,
    extractions,
    logger,
    async stop() {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      worker.shutdown();
      await workerRun;
      await connection.close();
      await nativeConnection.close();
      lake.close();
    },
  };
}
