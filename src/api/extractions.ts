import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import {
  ACCOUNT_SEARCH_ATTRIBUTE,
  type ExtractionOptions,
  type ExtractionProgress,
  type ExtractionRequest,
  type ExtractionStatus,
  extractionWorkflow,
  extractionWorkflowId,
  pauseSignal,
  progressQuery,
  resumeSignal,
} from '../workflows/extraction.js';
import { ApiError } from './errors.js';

/** The selection of an extraction as a stable key: resuming from the lake needs the same query, labels and format. */
export function extractionKey(sel: Pick<ExtractionRequest, 'account' | 'query' | 'labelIds' | 'includeSpamTrash' | 'format'>): string {
  const canonical = JSON.stringify([
    sel.account.toLowerCase(),
    sel.query ?? '',
    [...(sel.labelIds ?? [])].sort(),
    !!sel.includeSpamTrash,
    sel.format,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export interface ExtractionService {
  start(request: ExtractionRequest): Promise<{ id: string; runId: string; created: boolean }>;
  get(id: string): Promise<ExtractionProgress>;
  list(): Promise<
    { id: string; runId: string; account: string | null; status: string; startedAt: string | null; closedAt: string | null }[]
  >;
  signal(id: string, action: 'pause' | 'resume' | 'cancel'): Promise<void>;
}

const CLOSED: Record<string, ExtractionStatus> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

function emptyProgress(id: string, account: string, status: ExtractionStatus, error: string | null): ExtractionProgress {
  return {
    id,
    account,
    status,
    phase: 'done',
    paused: false,
    progress: { listed: 0, fetched: 0, persisted: 0, skipped: 0, failed: 0, malformed: 0, total: 0, percent: 0 },
    ratePerSecond: 0,
    etaSeconds: null,
    startedAt: null,
    updatedAt: null,
    runs: 0,
    resumedFrom: null,
    historyId: null,
    error,
  };
}

/** Extractions as Temporal workflows: ids from the account, state from the `progress` query or the closed result. */
export function createExtractionService(client: Client, taskQueue: string, options: ExtractionOptions): ExtractionService {
  const handleOf = (id: string) => client.workflow.getHandle(id);
  const describe = async (id: string) => {
    try {
      return await handleOf(id).describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) throw new ApiError(404, 'NOT_FOUND', `no extraction ${id}`);
      throw e;
    }
  };
  return {
    async start(request) {
      const id = extractionWorkflowId(request.account);
      try {
        const handle = await client.workflow.start(extractionWorkflow, {
          workflowId: id,
          taskQueue,
          args: [{ request, options, extractionKey: extractionKey(request) }],
          searchAttributes: { [ACCOUNT_SEARCH_ATTRIBUTE]: [request.account] },
        });
        return { id, runId: handle.firstExecutionRunId, created: true };
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
        const d = await describe(id);
        return { id, runId: d.runId, created: false };
      }
    },

    async get(id) {
      const d = await describe(id);
      const account = (d.searchAttributes[ACCOUNT_SEARCH_ATTRIBUTE]?.[0] as string | undefined) ?? id;
      const handle = client.workflow.getHandle(id, d.runId);
      if (d.status.name === 'RUNNING') return handle.query(progressQuery);
      const status = CLOSED[d.status.name] ?? 'failed';
      if (status === 'completed') return { ...(await handle.result()), status };
      if (status === 'failed') {
        try {
          await handle.result();
        } catch (e) {
          const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
          const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as ExtractionProgress | undefined) : undefined;
          const message = cause?.message ?? (e instanceof Error ? e.message : String(e));
          return detail ? { ...detail, status, error: message } : emptyProgress(id, account, status, message);
        }
      }
      // canceled / terminated / timed out: the closed workflow's state, replayed by a worker, when one is up.
      try {
        const last = await Promise.race([
          handle.query(progressQuery),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('query timeout')), 5000)),
        ]);
        return { ...last, status, paused: false };
      } catch {
        return emptyProgress(id, account, status, null);
      }
    },

    async list() {
      const out = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = 'extractionWorkflow'`, pageSize: 50 })) {
        out.push({
          id: w.workflowId,
          runId: w.runId,
          account: (w.searchAttributes[ACCOUNT_SEARCH_ATTRIBUTE]?.[0] as string | undefined) ?? null,
          status: w.status.name.toLowerCase(),
          startedAt: w.startTime.toISOString(),
          closedAt: w.closeTime?.toISOString() ?? null,
        });
        if (out.length >= 50) break;
      }
      return out;
    },

    async signal(id, action) {
      const d = await describe(id);
      if (d.status.name !== 'RUNNING')
        throw new ApiError(409, 'CONFLICT', `extraction ${id} is ${CLOSED[d.status.name] ?? d.status.name.toLowerCase()}`);
      const handle = handleOf(id);
      if (action === 'cancel') await handle.cancel();
      else await handle.signal(action === 'pause' ? pauseSignal : resumeSignal);
    },
  };
}
