import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { startApi } from './api/server.js';
import type { ExtractionService } from './api/extractions.js';
import type { Config } from './config.js';
import type { GmailCredentials } from './gmail/auth.js';
import type { Lake } from './lake/lake.js';
import type { Logger } from './log.js';
import { startWorker } from './worker/run.js';

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

/**
 * Both composition roots in one process — `npm start`, the demo and the tests: a worker (`worker/run.ts`), then the
 * API (`api/server.ts`) with the worker's lake in its readiness. A DuckDB-file catalog admits one writer process, so
 * this is also the layout for that catalog. `api: false` or `worker: false` leaves one out.
 */
export async function startPipeline(
  config: Config,
  credentials: GmailCredentials | undefined,
  opts: { api?: boolean; worker?: boolean } = {},
): Promise<Pipeline> {
  const worker = opts.worker !== false ? await startWorker(config, credentials) : undefined;
  const api =
    opts.api !== false
      ? await startApi(config, credentials, {
          lakeReady: worker && (async () => void (await worker.lake.query('SELECT count(*) FROM lake.extraction_runs'))),
          lake: worker?.lake,
        }).catch(async (e: unknown) => {
          await worker?.stop();
          throw e;
        })
      : undefined;
  const any = api ?? worker;
  if (!any) throw new Error('a pipeline runs the API, a worker, or both');
  return {
    url: api?.url ?? '',
    get client(): Client {
      if (!api) throw new Error('this process serves no API, so it has no client');
      return api.client;
    },
    get lake(): Lake {
      if (!worker) throw new Error('this process runs no worker, so it has no lake open');
      return worker.lake;
    },
    worker: worker?.worker,
    get extractions(): ExtractionService {
      if (!api) throw new Error('this process serves no API');
      return api.extractions;
    },
    logger: any.logger,
    async stop() {
      await api?.stop();
      await worker?.stop();
    },
  };
}
