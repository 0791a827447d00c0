import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Config } from '../config.js';
import { bundleWorkflowsOutOfProcess } from './bundle.js';

/** Creates a worker on the extraction task queue with activities built from `deps`. */
export async function createWorker(config: Config, deps: ActivityDeps, connection?: NativeConnection): Promise<Worker> {
  const conn = connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  return Worker.create({
    connection: conn,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { codePath: bundleWorkflowsOutOfProcess() },
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: 32,
  });
}
