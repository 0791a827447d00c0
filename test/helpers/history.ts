import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

/** Every event of a workflow run's history, serialized as the server stores and serves it (payloads as sent). */
export async function rawHistory(client: Client, execution: { workflowId: string; runId?: string }): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution, nextPageToken });
    chunks.push(proto.temporal.api.history.v1.History.encode({ events: page.history?.events ?? [] }).finish());
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return Buffer.concat(chunks);
}

/**
 * The largest event of every run of a workflow (each run of its continue-as-new chain), in bytes as the server stores
 * it: what Temporal's payload limits (2 MB per payload, 4 MB per request) are measured against.
 */
export async function largestEvents(client: Client, workflowId: string): Promise<{ runId: string; bytes: number; type: string }[]> {
  const runs: { runId: string; bytes: number; type: string }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    let largest = { bytes: 0, type: '' };
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId, runId: w.runId },
        nextPageToken,
      });
      for (const e of page.history?.events ?? []) {
        const bytes = proto.temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
        if (bytes > largest.bytes) largest = { bytes, type: String(proto.temporal.api.enums.v1.EventType[e.eventType ?? 0]) };
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    runs.push({ runId: w.runId, ...largest });
  }
  return runs;
}
