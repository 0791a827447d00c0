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
