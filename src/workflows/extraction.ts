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
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, FetchResult } from '../activities/index.js';

/** Signal names users send from the CLIs: `temporal workflow signal --workflow-id ID --name pause`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Query name: `temporal workflow query --workflow-id ID --name progress`. */
export const progressQuery = defineQuery<ExtractionProgress>('progress');

/** Keyword search attribute holding the mailbox, so the Web UI can filter extractions by it. */
export const ACCOUNT_SEARCH_ATTRIBUTE = 'GmailAccount';
export const WORKFLOW_ID_PREFIX = 'gmail-extract-';

/** One extraction per mailbox: the workflow id is derived from the account. */
export function extractionWorkflowId(account: string): string {
  return `${WORKFLOW_ID_PREFIX}${account.trim().toLowerCase()}`;
}

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export interface ExtractionRequest {
  account: string;
  query?: string;
  labelIds?: string[];
  includeSpamTrash?: boolean;
  format: MessageFormat;
  batchSize: number;
  maxMessages?: number;
}

export interface ExtractionOptions {
  /** Batches in flight at once (fetch + persist). */
  pipelineDepth: number;
  /** Compact the lake every N committed batches (0 = only at the end). */
  compactEvery: number;
}

export type ExtractionStatus = 'running' | 'paused' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out';
export type ExtractionPhase = 'preparing' | 'extracting' | 'draining' | 'compacting' | 'done';

export interface Counters {
  listed: number;
  fetched: number;
  persisted: number;
  skipped: number;
  failed: number;
  malformed: number;
}

/** What the `progress` query and GET /extract/:id return. */
export interface ExtractionProgress {
  id: string;
  account: string;
  status: ExtractionStatus;
  phase: ExtractionPhase;
  paused: boolean;
  progress: Counters & { total: number; percent: number };
  ratePerSecond: number;
  etaSeconds: number | null;
  startedAt: string | null;
  updatedAt: string | null;
  runs: number;
  resumedFrom: number | null;
  historyId: string | null;
  error: string | null;
}

/** State carried across continue-as-new: a cursor and counters, never message content. */
export interface ExtractionState {
  extractionKey: string;
  prepared: boolean;
  pageToken: string;
  listingDone: boolean;
  counters: Counters;
  /** Counters and page token up to which every batch is committed: the safe resume point. */
  committed: Counters & { pageToken: string };
  total: number;
  historyId: string | null;
  startedAt: number;
  updatedAt: number;
  paused: boolean;
  batchSeq: number;
  batchesSinceCompaction: number;
  runs: number;
  resumedFrom: number | null;
  samples: [number, number][];
  error: string | null;
}

export interface ExtractionInput {
  request: ExtractionRequest;
  options: ExtractionOptions;
  /** The extraction key (selection hash) the API computed; checkpoints in the lake are keyed by it. */
  extractionKey: string;
  state?: ExtractionState;
}

const gmailRetry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '5m',
  nonRetryableErrorTypes: ['GmailAuthError', 'GmailInvalidRequest', 'GmailPermissionDenied', 'StagedBatchMissing'],
};
const { prepareExtraction, listPage } = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: gmailRetry });
const { fetchBatch } = proxyActivities<Activities>({ startToCloseTimeout: '15m', heartbeatTimeout: '30s', retry: gmailRetry });
// Lake activities heartbeat while DuckDB works, so a dead worker is noticed within the heartbeat timeout rather than
// the start-to-close timeout (a worker killed mid-compaction used to stall the extraction for 30 minutes).
const { persistBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { ...gmailRetry, maximumInterval: '1m' },
});
const { recordExtractionEvent } = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 10 } });
const { compactLake } = proxyActivities<Activities>({ startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: { maximumAttempts: 2 } });

const zero = (): Counters => ({ listed: 0, fetched: 0, persisted: 0, skipped: 0, failed: 0, malformed: 0 });

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
  };
}

function snapshot(
  request: ExtractionRequest,
  state: ExtractionState,
  phase: ExtractionPhase,
  status?: ExtractionStatus,
): ExtractionProgress {
  const c = state.counters;
  const total = Math.max(state.total, c.listed);
  const doneCount = c.persisted + c.skipped + c.failed;
  const first = state.samples[0];
  const last = state.samples[state.samples.length - 1];
  const rate = first && last && last[0] > first[0] ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : 0;
  return {
    id: workflowInfo().workflowId,
    account: request.account,
    status: status ?? (state.paused ? 'paused' : 'running'),
    phase,
    paused: state.paused,
    progress: { ...c, total, percent: total > 0 ? Math.min(100, Math.round((doneCount / total) * 1000) / 10) : phase === 'done' ? 100 : 0 },
    ratePerSecond: Math.round(rate * 10) / 10,
    etaSeconds: rate > 0 ? Math.round(Math.max(0, total - doneCount) / rate) : null,
    startedAt: new Date(state.startedAt).toISOString(),
    updatedAt: new Date(state.updatedAt).toISOString(),
    runs: state.runs,
    resumedFrom: state.resumedFrom,
    historyId: state.historyId,
    error: state.error,
  };
}

interface InFlight {
  seq: number;
  /** Page token this batch was listed with (resume point while it is uncommitted). */
  pageToken: string;
  counts: Counters;
  done: boolean;
}

/**
 * Extracts one mailbox into the lake: lists pages of ids, fetches each page as a batch (staged on the worker), and
 * persists it in one lake transaction with its checkpoint. Up to `pipelineDepth` batches are in flight. Guarantees:
 * no message content in history; every committed batch survives worker and server crashes; pause stops scheduling
 * new batches; cancel keeps committed batches; histories stay small through continue-as-new, carrying only the cursor.
 */
export async function extractionWorkflow(input: ExtractionInput): Promise<ExtractionProgress> {
  const { request, options } = input;
  const state = input.state ?? initialState(input.extractionKey);
  let phase: ExtractionPhase = state.prepared ? 'extracting' : 'preparing';
  const touch = () => {
    state.updatedAt = Date.now();
    state.samples.push([state.updatedAt, state.counters.persisted + state.counters.skipped]);
    while (state.samples.length > 2 && state.samples[0]![0] < state.updatedAt - 60_000) state.samples.shift();
    if (state.samples.length > 30) state.samples.shift();
  };
  setHandler(pauseSignal, () => {
    state.paused = true;
    state.updatedAt = Date.now();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    state.samples = [];
    state.updatedAt = Date.now();
  });
  setHandler(progressQuery, () => snapshot(request, state, phase));
  /** Maintenance never fails an extraction: a compaction that keeps failing is logged and skipped. */
  const compact = async () => {
    try {
      await compactLake();
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('lake compaction failed; continuing without it', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const event = (name: string, detail?: string) =>
    CancellationScope.nonCancellable(() =>
      recordExtractionEvent({ account: request.account, extractionKey: state.extractionKey, event: name, detail }),
    );

  try {
    if (!state.prepared) {
      const prepared = await prepareExtraction({ account: request.account, extractionKey: state.extractionKey });
      state.historyId = prepared.historyId;
      state.total = request.maxMessages ? Math.min(request.maxMessages, prepared.messagesTotal) : prepared.messagesTotal;
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
        state.resumedFrom = r.persisted;
      }
      state.prepared = true;
      phase = 'extracting';
      touch();
    }

    const inflight: InFlight[] = [];
    let failure: unknown;
    const advanceCommitted = () => {
      while (inflight[0]?.done) {
        const b = inflight.shift()!;
        for (const k of Object.keys(b.counts) as (keyof Counters)[]) state.committed[k] += b.counts[k];
        state.committed.pageToken = inflight[0]?.pageToken ?? state.pageToken;
      }
    };
    const runBatch = async (b: InFlight, ids: string[]) => {
      const batchId = `b${b.seq}`;
      let fetched: FetchResult | undefined;
      for (let attempt = 0; ; attempt++) {
        fetched = await fetchBatch({ account: request.account, batchId, ids, format: request.format });
        try {
          await persistBatch({
            staged: fetched.staged,
            checkpoint: {
              account: request.account,
              extractionKey: state.extractionKey,
              batchId,
              pageToken: state.committed.pageToken,
              historyId: state.historyId ?? '',
              listed: state.committed.listed,
              persisted: state.committed.persisted,
              skipped: state.committed.skipped,
              failed: state.committed.failed,
            },
          });
          break;
        } catch (err) {
          const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
          if (type !== 'StagedBatchMissing' || attempt >= 3) throw err;
        }
      }
      b.counts = {
        listed: b.counts.listed,
        fetched: fetched.fetched,
        persisted: fetched.fetched,
        skipped: fetched.skipped,
        failed: 0,
        malformed: fetched.malformed,
      };
      state.counters.fetched += fetched.fetched;
      state.counters.persisted += fetched.fetched;
      state.counters.skipped += fetched.skipped;
      state.counters.malformed += fetched.malformed;
      b.done = true;
      advanceCommitted();
      state.batchesSinceCompaction++;
      touch();
    };

    const limitReached = () => request.maxMessages !== undefined && state.counters.listed >= request.maxMessages;
    while (!state.listingDone && !limitReached()) {
      await condition(() => (!state.paused && inflight.length < options.pipelineDepth) || failure !== undefined);
      if (failure !== undefined) break;
      if (workflowInfo().continueAsNewSuggested) break;
      const pageToken = state.pageToken;
      const page = await listPage({
        account: request.account,
        pageToken,
        query: request.query,
        labelIds: request.labelIds,
        includeSpamTrash: request.includeSpamTrash,
        maxResults: request.maxMessages ? Math.min(request.batchSize, request.maxMessages - state.counters.listed) : request.batchSize,
      });
      const ids = page.ids;
      state.pageToken = page.nextPageToken ?? '';
      state.listingDone = !page.nextPageToken;
      state.counters.listed += ids.length;
      if (pageToken === '' && (request.query || request.labelIds?.length))
        state.total = request.maxMessages ? Math.min(request.maxMessages, page.resultSizeEstimate) : page.resultSizeEstimate;
      const b: InFlight = { seq: state.batchSeq++, pageToken, counts: { ...zero(), listed: ids.length }, done: false };
      if (ids.length === 0) {
        if (inflight.length === 0) state.committed.pageToken = state.pageToken;
        continue;
      }
      inflight.push(b);
      runBatch(b, ids).catch((err: unknown) => {
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
    phase = 'compacting';
    await compact();
    state.total = state.counters.listed;
    phase = 'done';
    touch();
    await event('completed', `${state.counters.persisted} persisted, ${state.counters.skipped} skipped`);
    return snapshot(request, state, phase, 'completed');
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await event('canceled', `${state.committed.persisted} committed`);
      throw err;
    }
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    state.error = message;
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'ExtractionFailed') : 'ExtractionFailed';
    await event('failed', message);
    throw ApplicationFailure.nonRetryable(message, type, snapshot(request, state, phase, 'failed'));
  }
}
