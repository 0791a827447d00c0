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
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, FetchResult } from '../activities/index.js';
import {
  type BatchResult,
  type Counters,
  type ExtractionInput,
  type ExtractionPhase,
  type ExtractionProgress,
  type ExtractionRequest,
  type ExtractionState,
  type ExtractionStatus,
  FAILURE,
  NON_RETRYABLE,
} from './contracts.js';
import { addCounts, failureType } from './tally.js';

/** Signal names users send from the CLIs: `temporal workflow signal --workflow-id ID --name pause`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Query name: `temporal workflow query --workflow-id ID --name progress`. */
export const progressQuery = defineQuery<ExtractionProgress>('progress');

export { ACCOUNT_SEARCH_ATTRIBUTE, extractionWorkflowId, WORKFLOW_ID_PREFIX } from './ids.js';

const gmailRetry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '5m',
  nonRetryableErrorTypes: NON_RETRYABLE,
};
const { prepareExtraction, listPage } = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: gmailRetry });
/**
 * The batch activity heartbeats every second, so a 5 s heartbeat timeout notices a dead worker (kill -9, lost host)
 * within 5 s and Temporal retries the batch on another worker at once: the trade-off is one heartbeat RPC per second
 * per batch in flight, and a false timeout (a redone batch, never a duplicate row) if a worker stalls for 5 s.
 */
const { extractBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '5s',
  retry: { ...gmailRetry, initialInterval: '500ms', maximumInterval: '1m' },
});
const { fetchBatch } = proxyActivities<Activities>({ startToCloseTimeout: '15m', heartbeatTimeout: '30s', retry: gmailRetry });
// Lake activities heartbeat while DuckDB works, so a dead worker is noticed within the heartbeat timeout rather than
// the start-to-close timeout (a worker killed mid-compaction used to stall the extraction for 30 minutes).
const { persistBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { ...gmailRetry, maximumInterval: '1m' },
});
const { recordExtractionEvent, handOverToSync, ensureSyncSchedule } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 10 },
});
/** Lifecycle events are retried for a day, at most 10 s apart: a subscriber back within a day receives them all. */
const { deliverEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['WebhookRefused'] },
});
const { compactLake } = proxyActivities<Activities>({ startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: { maximumAttempts: 2 } });

/** Maintenance never fails an extraction or a fleet: a compaction that keeps failing is logged and skipped. */
export async function compact(): Promise<void> {
  try {
    await compactLake();
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('lake compaction failed; continuing without it', { error: err instanceof Error ? err.message : String(err) });
  }
}

const zero = (): Counters => ({ listed: 0, fetched: 0, persisted: 0, present: 0, skipped: 0, failed: 0, malformed: 0 });

/**
 * State carried across continue-as-new, merged with today's defaults: a run continued from older workflow code lacks
 * the fields added since, and gets their defaults instead of `undefined`.
 */
export function withDefaults(extractionKey: string, carried?: Partial<ExtractionState>): ExtractionState {
  const base = initialState(extractionKey);
  if (!carried) return base;
  const counters = { ...zero(), ...carried.counters };
  return {
    ...base,
    ...carried,
    counters,
    committed: { ...zero(), pageToken: '', ...carried.committed },
    samples: carried.samples ?? [],
    units: carried.units ?? {},
    pass: carried.pass ?? { listed: counters.listed, done: counters.persisted + counters.present + counters.skipped + counters.failed },
  };
}

function initialState(extractionKey: string): ExtractionState {
  const now = Date.now();
  return {
    extractionKey,
    prepared: false,
    pageToken: '',
    listingDone: false,
    counters: zero(),
    committed: { ...zero(), pageToken: '' },
    total: 0,
    historyId: null,
    startedAt: now,
    updatedAt: now,
    paused: false,
    batchSeq: 0,
    batchesSinceCompaction: 0,
    runs: 1,
    resumedFrom: null,
    samples: [],
    error: null,
    relists: 0,
    pass: { listed: 0, done: 0 },
    units: {},
  };
}

/** Rate samples must span this long before a rate (and an ETA) is shown: a burst of a few seconds is not a rate. */
const RATE_WINDOW_MIN_MS = 5_000;

function snapshot(
  request: ExtractionRequest,
  state: ExtractionState,
  phase: ExtractionPhase,
  status?: ExtractionStatus,
  inFlight = 0,
): ExtractionProgress {
  const c = state.counters;
  const total = Math.max(state.total, state.pass.listed);
  const doneCount = state.pass.done;
  const first = state.samples[0];
  const last = state.samples[state.samples.length - 1];
  const rate = first && last && last[0] - first[0] >= RATE_WINDOW_MIN_MS ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : 0;
  const moving = !state.paused && (status === undefined || status === 'running') && phase !== 'done';
  return {
    id: workflowInfo().workflowId,
    account: request.account,
    status: status ?? (state.paused ? (inFlight > 0 ? 'pausing' : 'paused') : 'running'),
    phase,
    paused: state.paused,
    progress: { ...c, total, percent: total > 0 ? Math.min(100, Math.round((doneCount / total) * 1000) / 10) : phase === 'done' ? 100 : 0 },
    // Paused or ended, nothing moves: no rate, no ETA (the last samples would otherwise freeze them at their last values).
    ratePerSecond: moving ? Math.round(rate * 10) / 10 : 0,
    etaSeconds: rate > 0 && moving ? Math.round(Math.max(0, total - doneCount) / rate) : null,
    startedAt: new Date(state.startedAt).toISOString(),
    updatedAt: new Date(state.updatedAt).toISOString(),
    runs: state.runs,
    resumedFrom: state.resumedFrom,
    relists: state.relists,
    historyId: state.historyId,
    units: state.units,
    error: state.error,
  };
}

/**
 * The Web UI's "Current details" of the workflow page (Temporal user metadata, read through the built-in metadata
 * query: no history event, so replay-safe), Markdown: the mailbox, percent, counts, rate and ETA.
 */
export function currentDetails(p: ExtractionProgress): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const eta =
    p.etaSeconds === null ? '—' : p.etaSeconds >= 3600 ? `${(p.etaSeconds / 3600).toFixed(1)} h` : `${Math.ceil(p.etaSeconds / 60)} min`;
  const c = p.progress;
  const state = p.status === 'running' ? p.phase : p.status;
  return [
    `**${p.account}** — ${state}, ${c.percent}% (${n(c.persisted + c.present + c.skipped)} of ${n(c.total)})`,
    `${n(c.persisted)} stored · ${n(c.present)} already present · ${n(c.skipped)} gone · ${n(c.malformed)} malformed · ${n(c.failed)} failed`,
    p.status === 'running' || p.status === 'pausing' || p.status === 'paused'
      ? `${p.ratePerSecond} msg/s · ETA ${eta} · run ${p.runs} · updated ${p.updatedAt}`
      : `run ${p.runs} · ended ${p.updatedAt}${p.error ? ` · ${p.error}` : ''}`,
  ].join('\n\n');
}

interface InFlight {
  seq: number;
  /** Page token this batch was listed with (resume point while it is uncommitted). */
  pageToken: string;
  counts: Counters;
  done: boolean;
  /** The listing pass the batch belongs to (its counts stop counting toward progress after a relist). */
  pass: number;
}

/** Patch ids (see "Changing workflow code" in the README): each marks where a change of command sequence began. */
export const PATCHES = {
  /** v2: one `extractBatch` activity per batch (fetch + persist on one worker) instead of fetchBatch → persistBatch. */
  batchV2: 'batch-v2',
  /** The next page is listed while the batches in flight run, and dispatched the moment a slot frees. */
  listAhead: 'list-ahead',
  /** A completed whole-mailbox backfill hands its historyId to the mirror; `keepInSync` creates the sync schedule. */
  mirrorHandover: 'mirror-handover',
  /** A batch that will run alone (the listing is done, nothing else in flight) spends the mailbox's whole budget. */
  wholeShareAlone: 'whole-share-alone',
  /** A failure for refused credentials also publishes `auth_expired` (what to do: `gmail-lake login`). */
  authExpiredEvent: 'auth-expired-event',
} as const;

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
  /**
   * How the run ends, once that is decided: the Web UI's details say so at once. The query keeps saying `running`
   * until the workflow has closed (signals are still accepted until then), with no rate or ETA once it is done.
   */
  let ended: ExtractionStatus | undefined;
  const now = () => snapshot(request, state, phase, undefined, running());
  const showDetails = () => setCurrentDetails(currentDetails(snapshot(request, state, phase, ended, running())));
  // Lifecycle events: numbered per extraction (the sequence travels through continue-as-new), delivered by an activity
  // Temporal retries; cancellation of the extraction never cancels a delivery. All are awaited before the workflow ends.
  const deliveries: Promise<unknown>[] = [];
  const publish = (type: string, status?: ExtractionStatus) => {
    if (!options.events) return;
    const seq = (state.eventSeq = (state.eventSeq ?? 0) + 1);
    const { workflowId, firstExecutionRunId } = workflowInfo();
    const data = snapshot(request, state, phase, status);
    deliveries.push(
      CancellationScope.nonCancellable(() =>
        deliverEvent({ id: `${workflowId}/${firstExecutionRunId}/${seq}`, type, subject: workflowId, data }),
      ).catch((err: unknown) =>
        log.warn('lifecycle event not delivered', { type, error: err instanceof Error ? err.message : String(err) }),
      ),
    );
  };
  const delivered = () => CancellationScope.nonCancellable(() => Promise.all(deliveries));
  const touch = () => {
    state.updatedAt = Date.now();
    state.samples.push([state.updatedAt, state.pass.done]);
    while (state.samples.length > 2 && state.samples[0]![0] < state.updatedAt - 60_000) state.samples.shift();
    if (state.samples.length > 30) state.samples.shift();
    showDetails();
  };
  setHandler(pauseSignal, () => {
    if (!state.paused) {
      publish('paused', 'paused');
      state.pausedAt = Date.now();
    }
    state.paused = true;
    state.updatedAt = Date.now();
    showDetails();
  });
  setHandler(resumeSignal, () => {
    const was = state.paused;
    state.paused = false;
    // The rate continues from before the pause, the paused time left out (a burst just after resuming is not a rate).
    const resumedAt = Date.now();
    const pausedFor = resumedAt - (state.pausedAt ?? resumedAt);
    state.samples = state.samples.map(([t, d]) => [t + pausedFor, d] as [number, number]);
    state.pausedAt = undefined;
    state.updatedAt = resumedAt;
    if (was) publish('resumed', 'running');
    showDetails();
  });
  showDetails();
  setHandler(progressQuery, () => now());
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
      const listable = prepared.messagesTotal - (request.includeSpamTrash ? 0 : (prepared.spamTrashTotal ?? 0));
      state.total = request.maxMessages ? Math.min(request.maxMessages, listable) : listable;
      if (prepared.resume) {
        const r = prepared.resume;
        state.pageToken = r.pageToken;
        state.counters = {
          ...zero(),
          listed: r.listed,
          fetched: r.persisted,
          persisted: r.persisted,
          skipped: r.skipped,
          failed: r.failed,
        };
        state.committed = { ...state.counters, pageToken: r.pageToken };
        state.pass = { listed: r.listed, done: r.persisted + r.skipped + r.failed };
        state.resumedFrom = r.persisted;
      }
      state.prepared = true;
      phase = 'extracting';
      touch();
      publish('started');
    }

    let failure: unknown;
    /** The page token of a page listed ahead and not dispatched yet: nothing from it is committed. */
    let listedAhead: string | undefined;
    const advanceCommitted = () => {
      while (inflight[0]?.done) {
        const b = inflight.shift()!;
        for (const k of Object.keys(b.counts) as (keyof Counters)[]) state.committed[k] += b.counts[k];
        state.committed.pageToken = inflight[0]?.pageToken ?? listedAhead ?? state.pageToken;
      }
    };
    const checkpoint = () => ({
      account: request.account,
      extractionKey: state.extractionKey,
      pageToken: state.committed.pageToken,
      historyId: state.historyId ?? '',
      listed: state.committed.listed,
      persisted: state.committed.persisted,
      skipped: state.committed.skipped,
      failed: state.committed.failed,
    });
    const finish = (b: InFlight, r: BatchResult) => {
      b.counts = {
        ...b.counts,
        fetched: r.fetched,
        persisted: r.inserted,
        present: b.counts.present + r.present,
        skipped: r.skipped,
        malformed: r.malformed,
      };
      state.counters.fetched += r.fetched;
      state.counters.persisted += r.inserted;
      state.counters.present += r.present;
      state.counters.skipped += r.skipped;
      state.counters.malformed += r.malformed;
      addCounts(state.units, r.units);
      if (b.pass === state.relists) state.pass.done += r.inserted + r.present + r.skipped;
      b.done = true;
      advanceCommitted();
      state.batchesSinceCompaction++;
      touch();
    };
    /** v2: fetch and persist in one activity, on any worker. */
    const runBatch = async (b: InFlight, ids: string[]) => {
      // The last batch of a listing runs alone: the half of the budget its missing neighbour would spend is its own
      // (a mailbox smaller than a batch otherwise spends half its fleet share, and a large one ends at half speed).
      const alone = state.listingDone && inflight.every((x) => x === b || x.done) && patched(PATCHES.wholeShareAlone);
      const r = await extractBatch({
        account: request.account,
        batchId: `${workflowInfo().runId.slice(0, 8)}-${b.seq}`,
        ids,
        format: request.format,
        quotaShare: (options.quotaShare ?? 1) / (alone ? 1 : options.pipelineDepth),
        checkpoint: checkpoint(),
      });
      finish(b, r);
    };
    /** v1 (runs started before batch-v2 only): fetch, then persist from the fetching worker's disk. */
    const runBatchV1 = async (b: InFlight, ids: string[]) => {
      const batchId = `b${b.seq}`;
      let fetched: FetchResult | undefined;
      let inserted = 0;
      for (let attempt = 0; ; attempt++) {
        fetched = await fetchBatch({ account: request.account, batchId, ids, format: request.format });
        try {
          inserted = (await persistBatch({ staged: fetched.staged, checkpoint: { ...checkpoint(), batchId } })).inserted;
          break;
        } catch (err) {
          if (failureType(err) !== FAILURE.stagedBatchMissing || attempt >= 3) throw err;
        }
      }
      finish(b, { ...fetched, inserted, present: fetched.fetched - inserted });
    };

    const limitReached = () => request.maxMessages !== undefined && state.counters.listed >= request.maxMessages;
    while (!state.listingDone && !limitReached()) {
      const listAhead = patched(PATCHES.listAhead);
      const slotFree = () => (!state.paused && inflight.length < options.pipelineDepth) || failure !== undefined;
      // Listing ahead keeps a batch's quota share from idling while its successor is listed.
      await condition(listAhead ? () => !state.paused || failure !== undefined : slotFree);
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
      // `ids` are the page's ids the lake lacks; `present` those it already holds (absent from older results: 0).
      const ids = page.ids;
      addCounts(state.units, page.units);
      const listed = page.listed ?? ids.length;
      const present = page.present ?? 0;
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
      if (listAhead) {
        listedAhead = pageToken;
        await condition(slotFree);
        listedAhead = undefined;
        if (failure !== undefined) break;
      }
      inflight.push(b);
      (patched(PATCHES.batchV2) ? runBatch(b, ids) : runBatchV1(b, ids)).catch((err: unknown) => {
        failure ??= err;
      });
      if (options.compactEvery > 0 && state.batchesSinceCompaction >= options.compactEvery) {
        state.batchesSinceCompaction = 0;
        await compact();
      }
    }
    phase = inflight.length ? 'draining' : phase;
    await condition(() => inflight.length === 0 || failure !== undefined);
    if (failure !== undefined) throw failure;

    if (!state.listingDone && !limitReached()) {
      state.runs++;
      await continueAsNew<typeof extractionWorkflow>({ request, options, extractionKey: state.extractionKey, state });
    }
    if (options.compactAtEnd !== false) {
      phase = 'compacting';
      showDetails();
      await compact();
    }
    state.total = state.pass.listed;
    phase = 'done';
    touch();
    await event(
      'completed',
      `${state.counters.persisted} new, ${state.counters.present} already present, ${state.counters.skipped} skipped; units ${JSON.stringify(state.units)}`,
    );
    if (patched(PATCHES.mirrorHandover)) {
      // The whole mailbox (SPAM and TRASH included) is stored as of historyId: syncs continue from there. Any other
      // selection leaves the mirror to a first sync that reconciles by listing.
      const whole = !request.query && !request.labelIds?.length && request.includeSpamTrash && !request.maxMessages;
      if (whole && state.historyId) await handOverToSync({ account: request.account, historyId: state.historyId, format: request.format });
      if (request.keepInSync) await ensureSyncSchedule({ account: request.account, every: request.keepInSync, format: request.format });
    }
    publish('completed', 'completed');
    await delivered();
    return snapshot(request, state, phase, 'completed');
  } catch (err) {
    if (err instanceof ContinueAsNew) {
      await delivered();
      throw err;
    }
    if (isCancellation(err)) {
      ended = 'canceled';
      phase = 'done';
      showDetails();
      await event('canceled', `${state.committed.persisted} committed`);
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
    if (type === FAILURE.gmailAuth && options.events && patched(PATCHES.authExpiredEvent)) publish('auth_expired', 'failed');
    publish('failed', 'failed');
    await delivered();
    throw ApplicationFailure.nonRetryable(message, type, snapshot(request, state, phase, 'failed'));
  }
}
