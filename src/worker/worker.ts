import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, type ActivityInterceptorsFactory, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Config } from '../config.js';
import { dataConverterFor } from '../codec.js';
import { workflowBundle } from './bundle.js';
import { ActivityMetrics } from './metrics-interceptor.js';
import { RedactFailures } from './redact-failures.js';

/** The activity interceptors of every worker and the compactor: spans (with tracing on), metrics, redacted failures. */
export function activityInterceptors(tracing = false): ActivityInterceptorsFactory[] {
  return [
    ...(tracing
      ? [
          ((ctx) => ({
            inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
            outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
          })) satisfies ActivityInterceptorsFactory,
        ]
      : []),
    (ctx) => ({ inbound: new ActivityMetrics(ctx) }),
    () => ({ inbound: new RedactFailures() }),
  ];
}

/** Creates a worker on the extraction task queue with activities built from `deps`. */
export async function createWorker(
  config: Config,
  deps: ActivityDeps,
  connection?: NativeConnection,
  tracing?: { processor: SpanProcessor; resource: Resource },
): Promise<Worker> {
  const conn = connection ?? (await NativeConnection.connect({ address: config.temporal.address, ...config.temporal.connection }));
  const dataConverter = dataConverterFor(config.temporal.codecKeys);
  return Worker.create({
    connection: conn,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    // With the codec on, the bundle carries the failure converter that moves failure messages into encrypted payloads.
    workflowBundle: { codePath: workflowBundle(dataConverter?.failureConverterPath, tracing !== undefined) },
    dataConverter,
    activities: createActivities(deps),
    interceptors: { activity: activityInterceptors(tracing !== undefined) },
    // Workflow spans leave the sandbox through this sink.
    sinks: tracing ? { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) } : undefined,
    maxConcurrentActivityTaskExecutions: 32,
    // A workflow cached on a worker that dies (kill -9) is handed to another after this long instead of 10 s: the cost
    // is a replay when a busy live worker does not poll its sticky queue within 3 s.
    stickyQueueScheduleToStartTimeout: '3s',
  });
}
