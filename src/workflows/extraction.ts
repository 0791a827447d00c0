import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  compact,
  ensureSyncSchedule,
  extractBatch,
  handOverToSync,
  listPage,
  prepareExtraction,
  recordExtractionEvent,
  refreshLabelsAtEnd,
} from './activities.js';
import {
  type BatchResult,
  type ExtractionInput,
  type ExtractionPhase,
  type ExtractionProgress,
  type ExtractionStatus,
  FAILURE,
} from './contracts.js';
import { addCounts, failureType } from './tally.js';
import {
  applyBatch,
  checkpointOf,
  commitInOrder,
  currentDetails,
  type InFlight,
  pause,
  recordSample,
  resume,
  resumeFrom,
  snapshot,
  withDefaults,
  zero,
} from './extraction-progress.js';
import { lifecycleEvents, watchStalls } from './lifecycle.js';
import { PATCHES } from './patches.js';

/** Signal names users send from the CLIs: `temporal workflow signal --workflow-id ID --name pause`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Query name: `temporal workflow query --workflow-id ID --name progress`. */
export const progressQuery = defineQuery<ExtractionProgress>('progress');

export { ACCOUNT_SEARCH_ATTRIBUTE, extractionWorkflowId, WORKFLOW_ID_PREFIX } from './ids.js';

/** A compaction beside the batches (one at a time): never rejects (maintenance never fails a run), then calls `ended`. */
const compactBeside = (queue: string | undefined, ended: () => void) => compact(true, queue).then(ended, ended);

/**
 * Extracts one mailbox into the lake: lists pages of ids and runs each page as a batch (`extractBatch`: the ids not
 * in the lake yet are fetched and committed with their checkpoint in one lake transaction, on whichever worker takes
 * it). Up to `pipelineDepth` batches are in flight, each spending 1/pipelineDepth of the mailbox's quota budget (the
 * last one, alone, all of it), so the mailbox stays under its quota whatever the number of workers. Guarantees: no
 * message content in history; every committed batch survives worker, host and server crashes; each (account, id)
 * stored once; pause stops scheduling new batches; cancel keeps committed batches; an expired page token restarts the
 * listing (stored ids are skipped before fetching); histories stay small through continue-as-new, carrying only the
 * cursor.
 */
export async function extractionWorkflow(input: ExtractionInput): Promise<ExtractionProgress> {
  const { request, options } = input;
  const state = withDefaults(input.extractionKey, input.state);
  let phase: ExtractionPhase = state.prepared ? 'extracting' : 'preparing';
  /** Batches dispatched and not ended (a pause is `pausing` until they have). */
  const inflight: InFlight[] = [];
  const running = () => inflight.filter((b) => !b.done).length;
  /** Every batch dispatched, settled or not: a cancelled run waits for them (see PATCHES.cancelWaitsForBatches). */
  const dispatched: Promise<void>[] = [];
  let compaction: Promise<void> | undefined; // running beside the batches (PATCHES.compactionBesideBatches)
  /**
   * How the run ends, once that is decided: the Web UI's details say so at once. The query keeps saying `running`
   * until the workflow has closed (signals are still accepted until then), with no rate or ETA once it is done.
   */
  let ended: ExtractionStatus | undefined;
  const now = () => snapshot(workflowInfo().workflowId, request, state, phase, undefined, running());
  const showDetails = () => setCurrentDetails(currentDetails(snapshot(workflowInfo().workflowId, request, state, phase, ended, running())));
  const events = lifecycleEvents(options.events, state);
  const publish = (type: string, status?: ExtractionStatus) =>
    events.publish(type, snapshot(workflowInfo().workflowId, request, state, phase, status));
  const delivered = events.delivered;
  const touch = () => {
    recordSample(state, Date.now());
    showDetails();
  };
  setHandler(pauseSignal, () => {
    if (pause(state, Date.now())) publish('paused', 'paused');
    showDetails();
  });
  setHandler(resumeSignal, () => {
    if (resume(state, Date.now())) publish('resumed', 'running');
    showDetails();
  });
  showDetails();
  setHandler(progressQuery, () => now());
  if (options.events && options.stallAfterMs && patched(PATCHES.stallAlerts))
    void watchStalls(options.stallAfterMs, state, () => phase, publish).catch(() => undefined);
  const event = (name: string, detail?: string) =>
    CancellationScope.nonCancellable(() =>
      recordExtractionEvent({ account: request.account, extractionKey: state.extractionKey, event: name, detail }),
    );

  try {
    if (!state.prepared) {
      const prepared = await prepareExtraction({ account: request.account, extractionKey: state.extractionKey });
      state.historyId = prepared.historyId;
      addCounts(state.units, prepared.units);
      // What the listing will return: without includeSpamTrash, the mailbox less SPAM and TRASH.
      const listable = prepared.messagesTotal - (request.includeSpamTrash ? 0 : prepared.spamTrashTotal);
      state.total = request.maxMessages ? Math.min(request.maxMessages, listable) : listable;
      if (prepared.resume) {
        resumeFrom(state, prepared.resume);
      }
      state.prepared = true;
      phase = 'extracting';
      touch();
      publish('started');
    }

    let failure: unknown;
    /** The page token of a page listed ahead and not dispatched yet: nothing from it is committed. */
    let listedAhead: string | undefined;
    const advanceCommitted = () => commitInOrder(state, inflight, listedAhead);
    const finish = (b: InFlight, r: BatchResult) => {
      applyBatch(state, b, r);
      advanceCommitted();
      touch();
    };
    /** Fetch and persist in one activity, on any worker. */
    const runBatch = async (b: InFlight, ids: string[], threadIds: string[] | undefined) => {
      // The last batch of a listing runs alone: the half of the budget its missing neighbour would spend is its own
      // (a mailbox smaller than a batch otherwise spends half its fleet share, and a large one ends at half speed).
      const alone = state.listingDone && inflight.every((x) => x === b || x.done);
      const r = await extractBatch({
        account: request.account,
        batchId: `${workflowInfo().runId.slice(0, 8)}-${b.seq}`,
        ids,
        threadIds,
        format: request.format,
        quotaShare: (options.quotaShare ?? 1) / (alone ? 1 : options.pipelineDepth),
        checkpoint: checkpointOf(request.account, state),
      });
      finish(b, r);
    };
    const limitReached = () => request.maxMessages !== undefined && state.counters.listed >= request.maxMessages;
    while (!state.listingDone && !limitReached()) {
      const slotFree = () => (!state.paused && inflight.length < options.pipelineDepth) || failure !== undefined;
      // Listing ahead keeps a batch's quota share from idling while its successor is listed.
      await condition(() => !state.paused || failure !== undefined);
      if (failure !== undefined) break;
      if (workflowInfo().continueAsNewSuggested) break;
      const pageToken = state.pageToken;
      let page;
      try {
        page = await listPage({
          account: request.account,
          pageToken,
          query: request.query,
          labelIds: request.labelIds,
          includeSpamTrash: request.includeSpamTrash,
          maxResults: request.maxMessages ? Math.min(request.batchSize, request.maxMessages - state.counters.listed) : request.batchSize,
          threads: request.format !== 'raw',
        });
      } catch (err) {
        if (failureType(err) !== FAILURE.gmailPageTokenExpired || pageToken === '') throw err;
        // Gmail's page tokens expire. Relist from the first page: ids already stored are skipped before fetching.
        log.warn('page token expired; restarting the listing', { relists: state.relists + 1 });
        state.relists++;
        state.pageToken = '';
        state.pass = { listed: 0, done: 0 };
        state.counters.listed = 0;
        state.samples = [];
        if (inflight.length === 0) state.committed.pageToken = '';
        continue;
      }
      // `ids` are the page's ids the lake lacks; `present` those it already holds.
      const { ids, listed, present } = page;
      addCounts(state.units, page.units);
      state.pageToken = page.nextPageToken ?? '';
      state.listingDone = !page.nextPageToken;
      state.counters.listed += listed;
      state.counters.present += present;
      state.pass.listed += listed;
      state.pass.done += present;
      if (pageToken === '' && (request.query || request.labelIds?.length))
        state.total = request.maxMessages ? Math.min(request.maxMessages, page.resultSizeEstimate) : page.resultSizeEstimate;
      const b: InFlight = {
        seq: state.batchSeq++,
        pageToken,
        counts: { ...zero(), listed, present },
        done: false,
        pass: state.relists,
      };
      if (ids.length === 0) {
        if (listed > 0) {
          // Every id of the page is stored already: nothing to fetch, the page counts as committed in its turn.
          b.done = true;
          inflight.push(b);
          advanceCommitted();
          touch();
        } else if (inflight.length === 0) state.committed.pageToken = state.pageToken;
        continue;
      }
      listedAhead = pageToken;
      await condition(slotFree);
      listedAhead = undefined;
      if (failure !== undefined) break;
      inflight.push(b);
      dispatched.push(
        runBatch(b, ids, page.threadIds).catch((err: unknown) => {
          failure ??= err;
        }),
      );
      if (options.compactEvery > 0 && state.batchesSinceCompaction >= options.compactEvery) {
        state.batchesSinceCompaction = 0;
        if (!patched(PATCHES.compactionBesideBatches)) await compact(false, options.compactionQueue);
        else compaction ??= compactBeside(options.compactionQueue, () => (compaction = undefined));
      }
    }
    phase = inflight.length ? 'draining' : phase;
    await condition(() => inflight.length === 0 || failure !== undefined);
    if (compaction) await compaction; // nothing of a run may outlive it (its end, or its continue-as-new)
    if (failure !== undefined) throw failure;

    if (!state.listingDone && !limitReached()) {
      state.runs++;
      await continueAsNew<typeof extractionWorkflow>({ request, options, extractionKey: state.extractionKey, state });
    }
    if (options.compactAtEnd !== false) {
      phase = 'compacting';
      showDetails();
      await compact(patched(PATCHES.compactionBesideBatches), options.compactionQueue);
    }
    state.total = state.pass.listed;
    if (patched(PATCHES.labelsAtEnd)) addCounts(state.units, await refreshLabelsAtEnd(request.account));
    phase = 'done';
    touch();
    await event(
      'completed',
      `${state.counters.persisted} new, ${state.counters.present} already present, ${state.counters.skipped} skipped, ${state.counters.failed} failed (quarantined); units ${JSON.stringify(state.units)}`,
    );
    // The whole mailbox (SPAM and TRASH included) is stored as of historyId: syncs continue from there. Any other
    // selection leaves the mirror to a first sync that reconciles by listing.
    const whole = !request.query && !request.labelIds?.length && request.includeSpamTrash && !request.maxMessages;
    if (whole && state.historyId) await handOverToSync({ account: request.account, historyId: state.historyId, format: request.format });
    if (request.keepInSync) await ensureSyncSchedule({ account: request.account, every: request.keepInSync, format: request.format });
    publish('completed', 'completed');
    await delivered();
    return snapshot(workflowInfo().workflowId, request, state, phase, 'completed');
  } catch (err) {
    if (err instanceof ContinueAsNew) {
      await delivered();
      throw err;
    }
    if (isCancellation(err)) {
      ended = 'canceled';
      phase = 'draining';
      showDetails();
      // The batches in flight are cancelled and waited for: one that commits meanwhile is counted, and the run record
      // and the progress say what the lake holds once nothing of this run writes to it any more.
      if (patched(PATCHES.cancelWaitsForBatches)) await Promise.all(dispatched);
      phase = 'done';
      showDetails();
      await event('canceled', `${state.counters.persisted} stored (${state.committed.persisted} committed in listing order)`);
      publish('canceled', 'canceled');
      await delivered();
      throw err;
    }
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    state.error = message;
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'ExtractionFailed') : 'ExtractionFailed';
    ended = 'failed';
    phase = 'done';
    showDetails();
    await event('failed', message);
    if (type === FAILURE.gmailAuth) publish('auth_expired', 'failed');
    publish('failed', 'failed');
    await delivered();
    throw ApplicationFailure.nonRetryable(message, type, snapshot(workflowInfo().workflowId, request, state, phase, 'failed'));
  }
}
