import { NativeConnection, Worker } from '@temporalio/worker';
import { compactionActivities } from '../activities/lake.js';
import { dataConverterFor } from '../codec.js';
import { type Config, ConfigError } from '../config.js';
import { Lake } from '../lake/lake.js';
import { createLogger, type Logger } from '../log.js';
import { registerConfiguredSecrets } from '../process.js';
import { ActivityMetrics } from './metrics-interceptor.js';
import { RedactFailures } from './redact-failures.js';
import { installTemporalRuntime } from './run.js';

export interface CompactorProcess {
  lake: Lake;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * The compactor's composition root: the lake and a Temporal worker on LAKE_COMPACTION_TASK_QUEUE with the compaction
 * activity alone (no workflows, no Gmail). A merge reads many data files at once; here its memory is this process's,
 * not an extraction worker's, one compaction runs at a time, on one DuckDB thread.
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
  // setting is the instance's, which in a worker would slow its batches too).
  const lake = await Lake.open({ ...config.lake, threads: 1 });
  const connection = await NativeConnection.connect({ address: config.temporal.address, ...config.temporal.connection });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    dataConverter: dataConverterFor(config.temporal.codecKeys),
    activities: compactionActivities({ lake, logger }),
    interceptors: { activity: [(ctx) => ({ inbound: new ActivityMetrics(ctx) }), () => ({ inbound: new RedactFailures() })] },
    maxConcurrentActivityTaskExecutions: 1,
  });
  const run = worker.run();
  logger.info({ temporal: config.temporal.address, taskQueue, lake: config.lake.catalog }, 'compactor started');
  return {
    lake,
    logger,
    async stop() {
      worker.shutdown();
      await run;
      await connection.close();
      lake.close();
    },
  };
}
