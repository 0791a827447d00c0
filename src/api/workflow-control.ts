import { type Client, type WorkflowExecutionInfo, WorkflowNotFoundError } from '@temporalio/client';
import { pauseSignal, resumeSignal } from '../workflows/extraction.js';
import { ApiError } from './errors.js';

/** Temporal's closed statuses as the API names them. */
export const CLOSED = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
} as const;
export type ClosedStatus = (typeof CLOSED)[keyof typeof CLOSED];
/** A closed workflow's status in the API's words (`failed` for any other). */
export const closedStatus = (name: string): ClosedStatus => CLOSED[name as keyof typeof CLOSED] ?? 'failed';

/**
 * The workflow an API `id` names — only this application's workflows of `type`, whose ids start with `prefix`; any
 * other workflow of the namespace is a 404 (`what` names it in the error) and left alone.
 */
export async function describeOurs(client: Client, what: string, id: string, prefix: string, type: string) {
  const notFound = () => new ApiError(404, 'NOT_FOUND', `no ${what} ${id}`);
  if (!id.startsWith(prefix)) throw notFound();
  try {
    const d = await client.workflow.getHandle(id).describe();
    if (d.type !== type) throw notFound();
    return d;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw notFound();
    throw e;
  }
}

/** The 50 newest workflows of a type, each as `row` shows it. */
export async function newest<T>(client: Client, type: string, row: (w: WorkflowExecutionInfo) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${type}'`, pageSize: 50 })) {
    out.push(row(w));
    if (out.length >= 50) break;
  }
  return out;
}

/** When a workflow started and closed, as the list routes show it. */
export const times = (w: WorkflowExecutionInfo) => ({
  status: w.status.name.toLowerCase(),
  startedAt: w.startTime.toISOString(),
  closedAt: w.closeTime?.toISOString() ?? null,
});

/** What `POST …/pause|resume|cancel` asks of a workflow. */
export type ControlAction = 'pause' | 'resume' | 'cancel';

/**
 * Pause/resume (the `pause`/`resume` signals) or cancel a running workflow of ours (`what` names it in errors):
 * 409 when it is closed, or closes between the check and the signal (a race with its completion).
 */
export async function control(client: Client, what: string, id: string, status: string, action: ControlAction): Promise<void> {
  if (status !== 'RUNNING')
    throw new ApiError(409, 'CONFLICT', `${what} ${id} is ${CLOSED[status as keyof typeof CLOSED] ?? status.toLowerCase()}`);
  const handle = client.workflow.getHandle(id);
  try {
    if (action === 'cancel') await handle.cancel();
    else await handle.signal(action === 'pause' ? pauseSignal : resumeSignal);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new ApiError(409, 'CONFLICT', `${what} ${id} has just closed`);
    throw e;
  }
}
