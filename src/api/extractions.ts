import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ACCOUNT_SEARCH_ATTRIBUTE, extractionWorkflow, progressQuery, WORKFLOW_ID_PREFIX } from '../workflows/extraction.js';
import { ApiError } from './errors.js';
import { stallOf } from './stalls.js';
import { closedStatus, control, type ControlAction, describeOurs, newest, times } from './workflow-control.js';
import { accountAttribute } from '../codec.js';
import { extractionKey, type MailboxIds } from '../mailbox-ids.js';
import {
  selectionMemo,
  selectionOf,
  type ExtractionOptions,
  type ExtractionProgress,
  type ExtractionRequest,
  type ExtractionStatus,
  type SelectionMemo,
} from '../workflows/contracts.js';

/** A workflow's mailbox: its search attribute, else its memo (with the codec on there is no search attribute). */
const accountOf = (w: { searchAttributes: Record<string, unknown>; memo?: Record<string, unknown> }): string | null =>
  ((w.searchAttributes[ACCOUNT_SEARCH_ATTRIBUTE] as string[] | undefined)?.[0] ??
    (w.memo as Partial<SelectionMemo> | undefined)?.account) ||
  null;

/** Turns `me` into the mailbox's address (users.getProfile), so `me` and the address are one extraction. */
export type AccountResolver = (account: string) => Promise<string>;

export interface ExtractionService {
  /** Starts or joins the extraction of the request's mailbox (`me` resolved to its address first). */
  start(request: ExtractionRequest): Promise<{ id: string; runId: string; created: boolean; account: string }>;
  get(id: string): Promise<ExtractionProgress>;
  list(): Promise<
    { id: string; runId: string; account: string | null; status: string; startedAt: string | null; closedAt: string | null }[]
  >;
  signal(id: string, action: ControlAction): Promise<void>;
}

function emptyProgress(id: string, account: string, status: ExtractionStatus, error: string | null): ExtractionProgress {
  return {
    id,
    account,
    status,
    phase: 'done',
    paused: false,
    progress: { listed: 0, fetched: 0, persisted: 0, present: 0, skipped: 0, failed: 0, malformed: 0, total: 0, percent: 0 },
    ratePerSecond: 0,
    etaSeconds: null,
    startedAt: null,
    updatedAt: null,
    runs: 0,
    resumedFrom: null,
    relists: 0,
    historyId: null,
    error,
  };
}

/**
 * Extractions as Temporal workflows: ids from the resolved mailbox address, state from the `progress` query or the
 * closed result. A request for a mailbox whose extraction runs joins it when the selection is the same, and is refused
 * (409) when it differs: one mailbox never has two writers.
 */
export function createExtractionService(
  client: Client,
  taskQueue: string,
  options: ExtractionOptions,
  ids: MailboxIds,
  resolveAccount: AccountResolver = async (a) => a,
  /** A running extraction with no commit for this long is reported `stalled` (EXTRACT_STALL_AFTER). */
  stallAfterMs = 600_000,
): ExtractionService {
  const describe = (id: string) => describeOurs(client, 'extraction', id, WORKFLOW_ID_PREFIX, 'extractionWorkflow');
  return {
    async start(asked) {
      const account = (await resolveAccount(asked.account)).trim().toLowerCase();
      const request = { ...asked, account };
      const id = ids.extraction(account);
      const key = extractionKey(request);
      try {
        const memo = selectionMemo(request, key);
        const handle = await client.workflow.start(extractionWorkflow, {
          workflowId: id,
          taskQueue,
          args: [{ request, options, extractionKey: key }],
          ...accountAttribute(client, account),
          // The Web UI's summary line (a payload: encrypted with the codec like the rest).
          staticSummary: `Gmail backfill of ${account}${request.query ? ` (${request.query})` : ''}`,
          memo: memo as unknown as Record<string, unknown>,
        });
        return { id, runId: handle.firstExecutionRunId, created: true, account };
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
        const d = await describe(id);
        const running = d.memo as Partial<SelectionMemo> | undefined;
        if (running?.extractionKey && running.extractionKey !== key)
          throw new ApiError(
            409,
            'CONFLICT',
            `mailbox ${account} already has a running extraction (${id}) with a different selection; cancel it or wait for it to end`,
            { running: running.selection, requested: selectionOf(request) },
          );
        return { id, runId: d.runId, created: false, account };
      }
    },

    async get(id) {
      const d = await describe(id);
      const account = accountOf(d) ?? id;
      const handle = client.workflow.getHandle(id, d.runId);
      if (d.status.name === 'RUNNING') {
        const p = await handle.query(progressQuery);
        return { ...p, stalled: stallOf(p, d.raw.pendingActivities ?? [], Date.now(), stallAfterMs) };
      }
      const status = closedStatus(d.status.name);
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
        // Whatever the last state said, an ended extraction moves no more: no rate, no ETA.
        return { ...last, status, paused: false, phase: 'done', ratePerSecond: 0, etaSeconds: null };
      } catch {
        return emptyProgress(id, account, status, null);
      }
    },

    async list() {
      return newest(client, 'extractionWorkflow', (w) => ({ id: w.workflowId, runId: w.runId, account: accountOf(w), ...times(w) }));
    },

    async signal(id, action) {
      const d = await describe(id);
      await control(client, 'extraction', id, d.status.name, action);
    },
  };
}
