import { createHash } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { causeChain } from '../causes.js';
import { extractionKey, type MailboxIds } from '../mailbox-ids.js';
import { progressQuery } from '../workflows/extraction.js';
import { fleetProgressQuery, fleetWorkflow } from '../workflows/fleet.js';
import { ApiError } from './errors.js';
import { closedStatus, control, type ControlAction, describeOurs, newest, times } from './workflow-control.js';
import type { ExtractionOptions, ExtractionProgress } from '../workflows/contracts.js';
import type { FleetProgress, FleetRequest } from '../workflows/fleet-contracts.js';

export const FLEET_ID_PREFIX = 'gmail-fleet-';

/** A fleet as the API shows it: the workflow's progress, with the running mailboxes' live message counts added. */
export interface FleetView extends Omit<FleetProgress, 'status'> {
  status: 'running' | 'paused' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out';
  domain: string | null;
  ratePerSecond: number;
  error: string | null;
}

export interface FleetService {
  /** The deployment's FLEET_MAX_CONCURRENCY: the largest `concurrency` a request may ask (the schema states it). */
  maxConcurrency: number;
  start(request: FleetRequest): Promise<{ id: string; runId: string; created: boolean }>;
  get(id: string): Promise<FleetView>;
  list(): Promise<{ id: string; domain: string | null; status: string; startedAt: string; closedAt: string | null }[]>;
  signal(id: string, action: ControlAction): Promise<void>;
}

interface FleetMemo {
  selectionKey: string;
  domain: string | null;
}

/** The fleet's workflow id: one fleet per domain (or per list of mailboxes) at a time. */
function fleetIdOf(ids: MailboxIds, r: FleetRequest): string {
  if (r.domain) return `${FLEET_ID_PREFIX}${ids.name(r.domain)}`;
  const digest = createHash('sha256')
    .update(JSON.stringify([...new Set(r.accounts)].sort()))
    .digest('hex')
    .slice(0, 16);
  return `${FLEET_ID_PREFIX}l${digest}`;
}
/** The fleet's selection as a key: a running fleet is joined by the same request and refused (409) a differing one. */
const selectionKey = (r: FleetRequest) => extractionKey({ ...r, account: '' });

export function createFleetService(
  client: Client,
  taskQueue: string,
  options: ExtractionOptions,
  ids: MailboxIds,
  maxConcurrency = 50,
): FleetService {
  const describe = (id: string) => describeOurs(client, 'fleet', id, FLEET_ID_PREFIX, 'fleetWorkflow');
  /** Live counts of the running mailboxes (their own progress queries), added to the fleet's tallies. */
  const withLive = async (
    p: FleetProgress,
    status: FleetView['status'],
    domain: string | null,
    error: string | null,
  ): Promise<FleetView> => {
    const live = await Promise.all(
      p.running.map((r) =>
        client.workflow
          .getHandle(r.workflowId)
          .query(progressQuery)
          .catch(() => undefined as ExtractionProgress | undefined),
      ),
    );
    let rate = 0;
    const messages = { ...p.messages };
    for (const x of live) {
      if (!x) continue;
      messages.persisted += x.progress.persisted;
      messages.listed += x.progress.listed;
      rate += x.ratePerSecond;
    }
    return { ...p, status, domain, messages, ratePerSecond: Math.round(rate * 10) / 10, error };
  };
  return {
    maxConcurrency,
    async start(request) {
      const id = fleetIdOf(ids, request);
      const memo: FleetMemo = { selectionKey: selectionKey(request), domain: request.domain ?? null };
      try {
        const handle = await client.workflow.start(fleetWorkflow, {
          workflowId: id,
          taskQueue,
          args: [{ request, options }],
          memo: memo as unknown as Record<string, unknown>,
          staticSummary: `Gmail fleet: ${request.domain ?? `${request.accounts!.length} mailboxes`}, ${request.concurrency} at a time`,
        });
        return { id, runId: handle.firstExecutionRunId, created: true };
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
        const d = await describe(id);
        if ((d.memo as Partial<FleetMemo> | undefined)?.selectionKey !== memo.selectionKey)
          throw new ApiError(409, 'CONFLICT', `fleet ${id} is running with a different selection; cancel it or wait for it to end`);
        return { id, runId: d.runId, created: false };
      }
    },

    async get(id) {
      const d = await describe(id);
      const domain = (d.memo as Partial<FleetMemo> | undefined)?.domain ?? null;
      const handle = client.workflow.getHandle(id, d.runId);
      if (d.status.name === 'RUNNING') {
        const p = await handle.query(fleetProgressQuery);
        return withLive(p, p.status, domain, null);
      }
      const status = closedStatus(d.status.name);
      try {
        const p = await handle.result();
        return withLive(p, 'completed', domain, null);
      } catch (e) {
        const cause = e instanceof WorkflowFailedError ? e.cause : undefined;
        const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as FleetProgress | undefined) : undefined;
        // The innermost reason (an activity's failure is wrapped: "Activity task failed" says nothing).
        const innermost = causeChain(cause).at(-1) as Error | undefined;
        const message = innermost?.message ?? (e instanceof Error ? e.message : String(e));
        const last = detail ?? (await handle.query(fleetProgressQuery).catch(() => undefined));
        if (!last) throw new ApiError(409, 'CONFLICT', `fleet ${id} is ${status} and no worker can replay it: ${message}`);
        return { ...last, status, domain, ratePerSecond: 0, error: message };
      }
    },

    async list() {
      return newest(client, 'fleetWorkflow', (w) => ({
        id: w.workflowId,
        domain: (w.memo as Partial<FleetMemo> | undefined)?.domain ?? null,
        ...times(w),
      }));
    },

    async signal(id, action) {
      const d = await describe(id);
      await control(client, 'fleet', id, d.status.name, action);
    },
  };
}
