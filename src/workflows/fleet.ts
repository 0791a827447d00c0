import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { compact, fleetMailboxes, planFleet } from './activities.js';
import { selectionMemo } from './contracts.js';
import { FAILURES_KEPT, type FleetInput, type FleetMailbox, type FleetProgress, type FleetState } from './fleet-contracts.js';
import { extractionWorkflow, pauseSignal, resumeSignal } from './extraction.js';
import { FLEET_PATCHES } from './patches.js';

/** Query name: `temporal workflow query --workflow-id ID --name progress`. */
export const fleetProgressQuery = defineQuery<FleetProgress>('progress');

/** Children started by one run before it continues as new (after the running ones end), keeping history short. */
const CHILDREN_PER_RUN = 400;
/** Mailboxes of a stored plan read at once (~40 KB of payload: ids and keys of 200 mailboxes). */
const PLAN_PAGE = 200;

/** The reason a child extraction ended without completing, as one line. */
function reasonOf(e: unknown): string {
  if (e instanceof WorkflowExecutionAlreadyStartedError)
    return 'an extraction of this mailbox is already running (not started by this fleet): its one writer';
  const cause = e instanceof ChildWorkflowFailure ? e.cause : e;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * A fleet: one extraction per mailbox of a Workspace domain (or of a list), `concurrency` at a time, each a child
 * workflow under the same id a single extraction of that mailbox has — so there is never a second writer — and each
 * spending up to twice its fair share of the project's quota. A mailbox that fails permanently is reported with its
 * reason; the others go on. Pause/resume reach every running child; cancelling the fleet cancels them. The fleet
 * compacts the shared lake every `compactEvery` completed mailboxes and at its end (its children do not, each as it
 * ends). Continues as new every CHILDREN_PER_RUN mailboxes. The plan is stored in the lake and read PLAN_PAGE mailboxes
 * at a time, and failures are named up to FAILURES_KEPT and counted past that, so no payload grows with the domain.
 */
export async function fleetWorkflow(input: FleetInput): Promise<FleetProgress> {
  const { request, options } = input;
  // What each mailbox's extraction is asked: the fleet's request without what only the fleet reads.
  const { domain, accounts, concurrency, ...selection } = request;
  const now = () => Date.now();
  const state: FleetState = {
    planned: false,
    pending: [],
    total: 0,
    quotaShare: 1,
    completed: 0,
    canceled: 0,
    persisted: 0,
    listed: 0,
    failures: [],
    paused: false,
    startedAt: now(),
    updatedAt: now(),
    runs: 0,
    sinceCompaction: 0,
    ...input.state,
  };
  state.failed ??= state.failures.length;
  /** `count` mailboxes failed or skipped: counted, and `named` kept while fewer than FAILURES_KEPT are. */
  const fail = (count: number, named: { account: string; error: string }[]) => {
    state.failed = (state.failed ?? 0) + count;
    state.failures.push(...named.slice(0, Math.max(0, FAILURES_KEPT - state.failures.length)));
  };
  /** Mailboxes not started yet: those in hand and those of the stored plan not read yet. */
  const pendingCount = () => state.pending.length + (state.plan ? state.plan.size - state.plan.next : 0);
  let compacting: Promise<void> | undefined;
  /** Compacts in the background (children keep starting), one compaction at a time. */
  const compactSometimes = (force: boolean) => {
    const due = force ? state.sinceCompaction > 0 : options.compactEvery > 0 && state.sinceCompaction >= options.compactEvery;
    if (!due || compacting) return;
    state.sinceCompaction = 0;
    compacting = compact(false, options.compactionQueue)
      .catch(() => undefined)
      .finally(() => (compacting = undefined));
  };
  state.runs++;
  const running = new Map<string, FleetMailbox>();
  let phase: FleetProgress['phase'] = state.planned ? 'extracting' : 'listing';

  const progress = (): FleetProgress => {
    const finished = state.completed + (state.failed ?? 0) + state.canceled;
    const hours = (now() - state.startedAt) / 3_600_000;
    const perHour = hours > 0 ? finished / hours : 0;
    const left = pendingCount() + running.size;
    return {
      id: workflowInfo().workflowId,
      status: phase === 'done' ? 'completed' : state.paused ? 'paused' : 'running',
      phase,
      paused: state.paused,
      mailboxes: {
        total: state.total,
        pending: pendingCount(),
        running: running.size,
        completed: state.completed,
        failed: state.failed ?? state.failures.length,
        canceled: state.canceled,
      },
      running: [...running.values()].map(({ account, workflowId }) => ({ account, workflowId })),
      messages: { persisted: state.persisted, listed: state.listed },
      mailboxesPerHour: Math.round(perHour * 10) / 10,
      etaSeconds: finished > 0 && !state.paused && perHour > 0 ? Math.round((left / perHour) * 3600) : null,
      failures: state.failures,
      startedAt: new Date(state.startedAt).toISOString(),
      updatedAt: new Date(state.updatedAt).toISOString(),
      runs: state.runs,
    };
  };
  setHandler(fleetProgressQuery, progress);
  // The same signal names as an extraction's, relayed to every running child.
  const relay = async (signal: typeof pauseSignal | typeof resumeSignal) => {
    await Promise.all(
      [...running.keys()].map((id) =>
        getExternalWorkflowHandle(id)
          .signal(signal)
          .catch(() => undefined),
      ),
    );
  };
  setHandler(pauseSignal, async () => {
    state.paused = true;
    state.updatedAt = now();
    await relay(pauseSignal);
  });
  setHandler(resumeSignal, async () => {
    state.paused = false;
    state.updatedAt = now();
    await relay(resumeSignal);
  });

  if (!state.planned) {
    const info = workflowInfo();
    const plan = patched(FLEET_PATCHES.planInLake)
      ? await planFleet({ ...request, storeAs: `${info.workflowId}/${info.firstExecutionRunId}` })
      : await planFleet(request);
    state.pending = plan.mailboxes;
    if (plan.stored) state.plan = { fleet: plan.stored.fleet, size: plan.stored.mailboxes, next: 0 };
    const skipped = plan.skippedCount ?? plan.skipped.length;
    state.total = (plan.stored?.mailboxes ?? plan.mailboxes.length) + skipped;
    fail(
      skipped,
      plan.skipped.map((s) => ({ account: s.account, error: s.reason })),
    );
    state.quotaShare = plan.quotaShare;
    state.planned = true;
    phase = 'extracting';
  }
  /** The next page of the stored plan into `pending`, when it is empty and the plan has more. */
  const refill = async () => {
    const plan = state.plan;
    if (state.pending.length > 0 || !plan || plan.next >= plan.size) return;
    const limit = Math.min(input.planPage ?? PLAN_PAGE, plan.size - plan.next);
    const page = await fleetMailboxes({ fleet: plan.fleet, from: plan.next, limit, selection });
    plan.next += limit;
    state.pending = page;
    // Positions the lake no longer holds (its rows lost): counted as failed, never asked for again.
    const lost = limit - page.length;
    if (lost > 0)
      fail(lost, [{ account: `(${lost} of the plan)`, error: `missing from the lake's fleet_mailboxes (positions up to ${plan.next})` }]);
  };

  const extract = async (mb: FleetMailbox) => {
    running.set(mb.workflowId, mb);
    try {
      const child = { ...selection, account: mb.account };
      const handle = await startChild(extractionWorkflow, {
        workflowId: mb.workflowId,
        args: [
          {
            request: child,
            options: { ...options, quotaShare: state.quotaShare, compactAtEnd: false },
            extractionKey: mb.extractionKey,
          },
        ],
        // As a single extraction's memo: GET /extract shows the mailbox, and a differing request is refused.
        memo: selectionMemo(child, mb.extractionKey) as unknown as Record<string, unknown>,
        staticSummary: `Gmail backfill of ${mb.account} (fleet ${workflowInfo().workflowId})`,
        // A fleet that ends any other way (terminated, timed out) asks its extractions to stop cleanly.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      // A pause that came while this child was starting found no workflow to relay to: it is told now.
      if (state.paused) await handle.signal(pauseSignal).catch(() => undefined);
      const result = await handle.result();
      state.completed++;
      state.sinceCompaction++;
      state.persisted += result.progress.persisted;
      state.listed += result.progress.listed;
      compactSometimes(false);
    } catch (e) {
      if (isCancellation(e) || (e instanceof ChildWorkflowFailure && isCancellation(e.cause))) state.canceled++;
      else fail(1, [{ account: mb.account, error: reasonOf(e) }]);
    } finally {
      running.delete(mb.workflowId);
      state.updatedAt = now();
    }
  };

  const children: Promise<void>[] = [];
  let startedThisRun = 0;
  try {
    for (;;) {
      const full = startedThisRun >= (input.childrenPerRun ?? CHILDREN_PER_RUN);
      if (!full) await refill();
      await condition(
        () =>
          (running.size === 0 && (pendingCount() === 0 || full)) ||
          (!state.paused && !full && state.pending.length > 0 && running.size < request.concurrency),
      );
      if (running.size === 0 && pendingCount() === 0) break;
      if (running.size === 0 && full) {
        await compacting;
        // The list of accounts a fleet was asked is in the plan once planned: the next run is not given it again.
        await continueAsNew<typeof fleetWorkflow>({ ...input, request: state.plan ? { ...request, accounts: undefined } : request, state });
      }
      const next = state.pending.shift()!;
      startedThisRun++;
      children.push(extract(next));
    }
  } catch (e) {
    if (!isCancellation(e)) throw e;
    // Cancelled: the children are asked to cancel with it; wait for them to stop before ending.
    await CancellationScope.nonCancellable(() => Promise.all(children));
    throw e;
  }
  await compacting;
  compactSometimes(true);
  await compacting;
  phase = 'done';
  state.updatedAt = now();
  const result = progress();
  if (state.completed === 0 && state.total > 0)
    throw ApplicationFailure.nonRetryable(`no mailbox of the fleet completed (${state.failed} failed)`, 'FleetFailed', result);
  return result;
}
