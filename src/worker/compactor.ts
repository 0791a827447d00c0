import { NativeConnection, Worker } from '@temporalio/worker';
import { compactionActivities } from '../activities/lake.js';
import { dataConverterFor } from '../codec.js';
import { type Config, ConfigError } from '../config.js';
import { Lake } from '../lake/lake.js';
import { createLogger, type Logger } from '../log.js';
import { registerConfiguredSecrets } from '../process.js';
import { installTemporalRuntime } from './run.js';
import { activityInterceptors } from './worker.js';

export interface CompactorProcess {
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * The compactor's composition root: the lake and a Temporal worker on LAKE_COMPACTION_TASK_QUEUE with the compaction
 * activity alone (no workflows, no Gmail). A merge reads many data files at once; here its memory is this process's,
 * not an extraction worker's, one compaction runs at a time, on one DuckDB thread, in a DuckDB instance of its own that
 * is closed after it: what DuckDB and DuckLake keep between queries (the catalog's snapshots and files, cached data
 * files) grows with the lake, and a process-long instance grew by ~110 MB per 100,000 messages backfilled.
 */
export async function startCompactor(config: Config): Promise<CompactorProcess> {
  const taskQueue = config.pipeline.compactionQueue;
  if (!taskQueue)
    throw new ConfigError(
      'Invalid configuration:\n  LAKE_COMPACTION_TASK_QUEUE: required by the compactor (the same value as for the API and the workers)',
    );
  registerConfiguredSecrets(config, undefined);
  const logger = createLogger(config.logLevel, { service: 'gmail-lake-compactor' });
  await installTemporalRuntime(config.logLevel);
  // One DuckDB thread: nothing else runs on this lake here, and a merge's memory is then one Parquet writer's (the
  // setting is the instance's, which in a worker would slow its batches too). Its own memory limit, above a worker's:
  // at 256 MB merges of hosts.test's lake (PostgreSQL catalog, encrypted files on S3) failed now and then with "failed
  // to pin block" in fresh-clone CI.
  const lakeConfig = { ...config.lake, threads: 1, memoryLimit: config.lake.compactorMemoryLimit };
  // Opened once at the start so that a catalog that cannot be reached (or a lake to create) shows now, not at the
  // first compaction.
  (await Lake.open(lakeConfig)).close();
  const withLake = async <T>(fn: (lake: Lake) => Promise<T>): Promise<T> => {
    const lake = await Lake.reopen(lakeConfig);
    try {
      return await fn(lake);
    } finally {
      lake.close();
    }
  };
  const connection = await NativeConnection.connect({ address: config.temporal.address, ...config.temporal.connection });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    dataConverter: dataConverterFor(config.temporal.codecKeys),
    activities: compactionActivities({ withLake, logger }),
    interceptors: { activity: activityInterceptors() },
    maxConcurrentActivityTaskExecutions: 1,
  });
  const run = worker.run();
  logger.info({ temporal: config.temporal.address, taskQueue, lake: config.lake.catalog }, 'compactor started');
  return {
    logger,
    async stop() {
      worker.shutdown();
      await run;
      await connection.close();
    },
  };
}
