import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Config } from '../config.js';

/** The bundled workflows (source under tsx, compiled JavaScript under dist/). */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** Creates a worker on the extraction task queue with activities built from `deps`. */
export async function createWorker(config: Config, deps: ActivityDeps, connection?: NativeConnection): Promise<Worker> {
  const conn = connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  return Worker.create({
    connection: conn,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: workflowsPath(),
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: 32,
  });
}
