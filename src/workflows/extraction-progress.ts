import type {
  BatchResult,
  Checkpoint,
  Counters,
  ExtractionPhase,
  ExtractionProgress,
  ExtractionRequest,
  ExtractionState,
  ExtractionStatus,
  PrepareResult,
} from './contracts.js';
import { addCounts } from './tally.js';

/**
 * The extraction's state as plain data and pure functions of it — defaults for state carried from older runs, the
 * progress a query answers, the Web UI's current details — apart from the workflow, so they are unit-tested alone.
 */

export const zero = (): Counters => ({ listed: 0, fetched: 0, persisted: 0, present: 0, skipped: 0, failed: 0, malformed: 0 });

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

export function initialState(extractionKey: string): ExtractionState {
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

export function snapshot(
  id: string,
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
    id,
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

/** A progress sample for the rate: the samples of the last minute, at most 30. */
export function recordSample(state: ExtractionState, now: number): void {
  state.updatedAt = now;
  state.samples.push([now, state.pass.done]);
  while (state.samples.length > 2 && state.samples[0]![0] < now - 60_000) state.samples.shift();
  if (state.samples.length > 30) state.samples.shift();
}

/** Pauses; true when it was running (the pause is news). */
export function pause(state: ExtractionState, now: number): boolean {
  const was = state.paused;
  if (!was) state.pausedAt = now;
  state.paused = true;
  state.updatedAt = now;
  return !was;
}

/**
 * Resumes; true when it was paused. The rate continues from before the pause, the paused time left out: the samples
 * move forward by it (a burst just after resuming is not a rate).
 */
export function resume(state: ExtractionState, now: number): boolean {
  const was = state.paused;
  const pausedFor = now - (state.pausedAt ?? now);
  state.samples = state.samples.map(([t, d]) => [t + pausedFor, d] as [number, number]);
  state.paused = false;
  state.pausedAt = undefined;
  state.updatedAt = now;
  return was;
}

/** A batch in flight, in listing order (committed progress advances over the done ones at its head). */
export interface InFlight {
  seq: number;
  /** Page token this batch was listed with (resume point while it is uncommitted). */
  pageToken: string;
  counts: Counters;
  done: boolean;
  /** The listing pass the batch belongs to (its counts stop counting toward progress after a relist). */
  pass: number;
}

/** Starts the counters from the lake's checkpoint of an earlier run of the same selection. */
export function resumeFrom(state: ExtractionState, r: NonNullable<PrepareResult['resume']>): void {
  state.pageToken = r.pageToken;
  state.counters = { ...zero(), listed: r.listed, fetched: r.persisted, persisted: r.persisted, skipped: r.skipped, failed: r.failed };
  state.committed = { ...state.counters, pageToken: r.pageToken };
  state.pass = { listed: r.listed, done: r.persisted + r.skipped + r.failed };
  state.resumedFrom = r.persisted;
}

/** Counts a batch's result in (the batch is done; it commits in order with `commitInOrder`). */
export function applyBatch(state: ExtractionState, b: InFlight, r: BatchResult): void {
  b.counts = {
    ...b.counts,
    fetched: r.fetched,
    persisted: r.inserted,
    present: b.counts.present + r.present,
    skipped: r.skipped,
    malformed: r.malformed,
    failed: r.failed ?? 0,
  };
  state.counters.fetched += r.fetched;
  state.counters.failed += r.failed ?? 0;
  state.counters.persisted += r.inserted;
  state.counters.present += r.present;
  state.counters.skipped += r.skipped;
  state.counters.malformed += r.malformed;
  addCounts(state.units, r.units);
  if (b.pass === state.relists) state.pass.done += r.inserted + r.present + r.skipped + (r.failed ?? 0);
  b.done = true;
  state.batchesSinceCompaction++;
}

/**
 * Moves the committed resume point over the done batches at the head of `inflight` (batches end out of order; the
 * checkpoint only ever covers a prefix of the listing). `listedAhead`: a page listed and not dispatched yet.
 */
export function commitInOrder(state: ExtractionState, inflight: InFlight[], listedAhead: string | undefined): void {
  while (inflight[0]?.done) {
    const b = inflight.shift()!;
    for (const k of Object.keys(b.counts) as (keyof Counters)[]) state.committed[k] += b.counts[k];
    state.committed.pageToken = inflight[0]?.pageToken ?? listedAhead ?? state.pageToken;
  }
}

/** The checkpoint a batch commits with: the resume point every batch before it has reached. */
export function checkpointOf(account: string, state: ExtractionState): Omit<Checkpoint, 'workflowId' | 'runId' | 'batchId'> {
  const c = state.committed;
  return {
    account,
    extractionKey: state.extractionKey,
    pageToken: c.pageToken,
    historyId: state.historyId ?? '',
    listed: c.listed,
    persisted: c.persisted,
    skipped: c.skipped,
    failed: c.failed,
  };
}
