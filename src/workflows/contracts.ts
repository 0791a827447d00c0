/**
 * The contracts between the API, the workflows and the activities — requests, progress and results, the inputs and
 * outputs of every activity, the state carried across continue-as-new, and the failure types — in one module that
 * imports nothing, so each of them depends on it and on nothing of the others. Every field a running history may lack
 * is optional here; required ones are in every history the code still has to replay.
 */

// ---- Failures --------------------------------------------------------------------------------------------------

/**
 * Activity failure types: the one vocabulary the activities throw and the workflows match on (by `type` string,
 * never `instanceof`). Non-retryable ones end the extraction with a readable reason; the rest are retried by Temporal.
 */
export const FAILURE = {
  /** Credentials invalid, expired past refresh, or revoked (401, invalid_grant). Non-retryable. */
  gmailAuth: 'GmailAuthError',
  /** The request itself is wrong (400: bad query…). Non-retryable. */
  gmailInvalidRequest: 'GmailInvalidRequest',
  /** 403 other than rate limits: no access to this mailbox or API disabled. Non-retryable. */
  gmailPermission: 'GmailPermissionDenied',
  /** A list page token Gmail no longer accepts (400 on a token it issued): the workflow restarts the listing. */
  gmailPageTokenExpired: 'GmailPageTokenExpired',
  /** history.list start id too old (404): a full re-list is needed. */
  gmailHistoryExpired: 'GmailHistoryExpired',
  /** Transient Gmail trouble left after the per-request retries (429, 403 rate limits, 5xx, network). Retryable. */
  gmailTransient: 'GmailTransientError',
  /** The per-project quota's bookings could not be made (its PostgreSQL unreachable). Retryable. */
  projectQuotaUnavailable: 'ProjectQuotaUnavailable',
  /**
   * Gmail refused some messages of a batch (400 or 5xx for those messages) on an attempt before GMAIL_QUARANTINE_AFTER:
   * the batch is retried; from that attempt on they are quarantined instead. Retryable.
   */
  messagesRefused: 'GmailMessagesRefused',
  /** A staged batch holds ids the workflow did not ask for: refused, never loaded. Retryable (a new attempt restages). */
  stagedBatchMismatch: 'StagedBatchMismatch',
  /**
   * DuckDB refused a lake statement as written (parser, binder, conversion or invalid-input error): the same statement
   * would fail the same way on every attempt. Raised non-retryable at the activity boundary.
   */
  lakeQueryInvalid: 'LakeQueryInvalid',
} as const;

/** Types the workflows never retry. */
export const NON_RETRYABLE = [FAILURE.gmailAuth, FAILURE.gmailInvalidRequest, FAILURE.gmailPermission, FAILURE.gmailPageTokenExpired];

// ---- Extractions (one mailbox) ---------------------------------------------------------------------------------

export type MessageFormat = 'minimal' | 'metadata' | 'full' | 'raw';

export interface ExtractionRequest {
  account: string;
  query?: string;
  labelIds?: string[];
  includeSpamTrash?: boolean;
  format: MessageFormat;
  batchSize: number;
  maxMessages?: number;
  /** When the backfill completes, keep the mailbox in sync on a Temporal Schedule at this interval (e.g. `15m`). */
  keepInSync?: string;
}

export interface ExtractionOptions {
  /** Batches in flight at once (fetch + persist). */
  pipelineDepth: number;
  /** Compact the lake every N committed batches (0 = only at the end). */
  compactEvery: number;
  /** Publish lifecycle events (webhooks are configured). */
  events: boolean;
  /**
   * Share of the mailbox's quota budget this extraction may spend (a fleet gives each mailbox up to twice its fair
   * share of the project's quota). Default: all of it (a single extraction).
   */
  quotaShare?: number;
  /**
   * Compact the lake when the extraction ends. Default yes; a fleet's children say no: the fleet compacts once per
   * `compactEvery` mailboxes instead of each small mailbox compacting the whole shared lake as it ends.
   */
  compactAtEnd?: boolean;
  /**
   * The task queue of the lake's compactions (LAKE_COMPACTION_TASK_QUEUE, served by `npm run compactor`). Absent: the
   * run's own task queue.
   */
  compactionQueue?: string;
  /**
   * Publish a `stalled` event once when nothing has committed for this long while the run is not paused
   * (EXTRACT_STALL_AFTER, in ms). Absent (runs started before it): no such event.
   */
  stallAfterMs?: number;
}

/** `pausing`: paused, with batches still in flight (they commit before it is `paused`). */
export type ExtractionStatus = 'running' | 'pausing' | 'paused' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out';

export type ExtractionPhase = 'preparing' | 'extracting' | 'draining' | 'compacting' | 'done';

export interface Counters {
  listed: number;
  fetched: number;
  /** Rows this extraction added to the lake. */
  persisted: number;
  /** Listed ids already in the lake (not fetched again). */
  present: number;
  skipped: number;
  failed: number;
  malformed: number;
}

/**
 * A running extraction that has committed nothing for the configured time (EXTRACT_STALL_AFTER) while not paused: what
 * its activities last failed with, since when, and what fixes it. Computed by the API from the workflow's pending
 * activities; the workflow itself never reports one.
 */
export interface ExtractionStall {
  /** The last commit (or the start). */
  since: string;
  lastError: string | null;
  /** The activity type that is failing (or pending). */
  activity: string | null;
  /** Its attempt number. */
  attempts: number | null;
  fix: string;
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
  /** Listings restarted because Gmail stopped accepting a page token. */
  relists: number;
  historyId: string | null;
  /** Quota units spent, per method (the configured cost table). */
  units?: Record<string, number>;
  /** Set while a running extraction is stalled (GET /extract/:id only). */
  stalled?: ExtractionStall | null;
  error: string | null;
}

/** State carried across continue-as-new: a cursor and counters, never message content. */
export interface ExtractionState {
  extractionKey: string;
  prepared: boolean;
  /** Lifecycle events published so far (their sequence numbers). */
  eventSeq?: number;
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
  /** Listings restarted because Gmail stopped accepting a page token. */
  relists: number;
  /** Progress of the current listing pass (a relist starts a new one): listed ids and ids done with. */
  pass: { listed: number; done: number };
  /** Quota units spent, per method. */
  units: Record<string, number>;
  /** When the current pause began (the rate leaves paused time out). */
  pausedAt?: number;
}

/** The parts of a request that make its extraction key, besides the mailbox. */
export type Selection = Pick<ExtractionRequest, 'query' | 'labelIds' | 'includeSpamTrash' | 'format'>;

/** A running extraction's memo: its selection, so a differing request can be refused without a worker. */
export interface SelectionMemo {
  extractionKey: string;
  selection: Selection;
  /** The mailbox (the id may carry only a digest of it; the memo is a payload, encrypted with the codec). */
  account?: string;
}

/** A request's selection in canonical form (the parts of its extraction key other than the mailbox). */
export const selectionOf = (r: Selection): Selection => ({
  query: r.query ?? '',
  labelIds: [...(r.labelIds ?? [])].sort(),
  includeSpamTrash: !!r.includeSpamTrash,
  format: r.format,
});

/** The memo an extraction starts with, whoever starts it (the API, or a fleet as its child). */
export const selectionMemo = (r: ExtractionRequest, extractionKey: string): SelectionMemo => ({
  extractionKey,
  selection: selectionOf(r),
  account: r.account,
});

export interface ExtractionInput {
  request: ExtractionRequest;
  options: ExtractionOptions;
  /** The extraction key (selection hash) the API computed; checkpoints in the lake are keyed by it. */
  extractionKey: string;
  state?: ExtractionState;
}

// ---- Activities of an extraction --------------------------------------------------------------------------------

export interface Checkpoint {
  account: string;
  extractionKey: string;
  workflowId: string;
  runId: string;
  batchId: string;
  pageToken: string;
  historyId: string;
  listed: number;
  persisted: number;
  skipped: number;
  failed: number;
}

/** The Gmail calls the quota meters, by their cost-table names. */
export type QuotaMethod = 'get' | 'thread' | 'list' | 'history' | 'profile' | 'labels' | 'attachment' | 'watch' | 'stop';

/** Quota units and requests spent, per method, priced with the configured profile's cost table. */
export interface UnitMeter {
  units: Partial<Record<QuotaMethod, number>>;
  calls: Partial<Record<QuotaMethod, number>>;
}

export interface BatchInput {
  account: string;
  /** Unique within the extraction: the run id's prefix and the batch's sequence number. */
  batchId: string;
  ids: string[];
  /**
   * The thread of each of `ids`, in the same order (absent from batches of older workflows): a thread with several of
   * them may be fetched whole by threads.get, cheaper in quota than a messages.get each (see planFetches).
   */
  threadIds?: string[];
  format: MessageFormat;
  /** Share of the mailbox's quota budget this batch may spend (1 / batches in flight). Default 1. */
  quotaShare?: number;
  checkpoint: Omit<Checkpoint, 'workflowId' | 'runId' | 'batchId'>;
}

export interface BatchResult {
  /** Messages fetched from Gmail. */
  fetched: number;
  /** Rows this batch added to the lake. */
  inserted: number;
  /** Ids already in the lake, so not fetched (or stored by another writer in the meantime). */
  present: number;
  /** Deleted between list and get (404). */
  skipped: number;
  /** Stored with a parse_error. */
  malformed: number;
  /** Refused by Gmail through every attempt: quarantined in failed_messages (absent from results of older workers). */
  failed?: number;
  /** Quota units this batch spent, per method. */
  units?: Partial<Record<string, number>>;
}

export interface PrepareInput {
  account: string;
  extractionKey: string;
}

export interface PrepareResult {
  historyId: string;
  messagesTotal: number;
  /** Messages in SPAM or TRASH. */
  spamTrashTotal: number;
  resume?: Pick<Checkpoint, 'pageToken' | 'historyId' | 'listed' | 'persisted' | 'skipped' | 'failed'>;
  /** Quota units spent, per method. */
  units?: Partial<Record<string, number>>;
}

export interface ListInput {
  account: string;
  pageToken: string;
  query?: string;
  labelIds?: string[];
  includeSpamTrash?: boolean;
  maxResults: number;
  /** Answer each id's thread too (threadIds): the batch may then fetch whole threads (not in `raw`). */
  threads?: boolean;
}

export interface ListResult {
  /** The page's ids the lake does not hold yet (the ones to fetch). */
  ids: string[];
  /** With `threads`: the thread of each of `ids`, in the same order. */
  threadIds?: string[];
  /** Ids on the page in all. */
  listed: number;
  /** Ids on the page the lake already holds (not fetched again). */
  present: number;
  nextPageToken?: string;
  resultSizeEstimate: number;
  /** Quota units spent, per method. */
  units?: Partial<Record<string, number>>;
}

export interface LifecycleEvent {
  /** Stable across retries and workers (`<workflowId>/<first run id>/<seq>`): subscribers deduplicate on it. */
  id: string;
  /** started, paused, resumed, stalled, completed, failed, canceled, auth_expired */
  type: string;
  /** The workflow id. */
  subject: string;
  data: unknown;
  /** The subscriber (index into the workers' WEBHOOK_URLS) to deliver to; absent: every one, in turn. */
  subscriber?: number;
}

// ---- Syncs (the living mirror) -----------------------------------------------------------------------------------

/** Changes applied, by kind (history entries, or differences a reconciliation found). */
export interface ChangeCounts {
  added: number;
  deleted: number;
  labelsAdded: number;
  labelsRemoved: number;
}

export const noChanges = (): ChangeCounts => ({ added: 0, deleted: 0, labelsAdded: 0, labelsRemoved: 0 });

export interface SyncStepResult {
  /** The mailbox's stored historyId after this step. */
  historyId: string;
  /** More history after it (history mode). */
  more: boolean;
  changes: ChangeCounts;
  /** Rows inserted, soft-deleted, relabelled. */
  rows: { inserted: number; deleted: number; relabeled: number };
  /** messages.get calls that returned a message. */
  fetched: number;
  meter: UnitMeter;
  /** False when an earlier attempt had committed this step already (nothing written twice). */
  applied: boolean;
  /** History mode: Gmail answered 404 (the start id is older than it keeps): reconcile instead. Nothing written. */
  expired?: boolean;
}

export interface BeginSyncResult {
  /** Why the sync cannot run now (the mailbox's backfill runs), or null. */
  busy: string | null;
  historyId: string | null;
  format: string | null;
  meter: UnitMeter;
  /** The mailbox's Gmail watch, when GMAIL_PUSH_TOPIC is set (absent from workers before push). */
  watch?: WatchStatus;
}

/** A Gmail historyId as a push notification may name one: decimal digits that fit an unsigned 64-bit integer's length. */
export const HISTORY_ID = /^\d{1,20}$/;

/** A mailbox's push watch as a sync left it: renewed now or not, until when, or why it could not be made. */
export interface WatchStatus {
  topic: string;
  /** Gmail's expiration (7 days after the last users.watch), or null when none could be made. */
  expiresAt: string | null;
  renewed: boolean;
  error: string | null;
}

export interface SyncInput {
  account: string;
  /** Format of newly added messages; default: the mirror's stored format, else `full`. */
  format?: MessageFormat;
  /** Reconcile by listing even when history is available. */
  reconcile?: boolean;
  /** Who asked: `http`, `schedule`, `push`. */
  trigger?: string;
  /** How long after a push notification a trailing history read is made (TRAILING_READ_MS; 0 = none). For tests. */
  trailingReadMs?: number;
  /** Carried across continue-as-new. */
  state?: SyncState;
}

export type SyncStatus = 'running' | 'completed' | 'deferred' | 'failed' | 'canceled';

/** What a sync did: the `progress` query while it runs, its result when it ends. */
export interface SyncResult {
  id: string;
  account: string;
  status: SyncStatus;
  /** history (users.history.list), reconcile (listing: history expired or never recorded), none (deferred). */
  mode: 'history' | 'reconcile' | 'none';
  trigger: string | null;
  historyIdFrom: string | null;
  historyIdTo: string | null;
  /** Changes applied, by kind. */
  changes: ChangeCounts;
  /** Rows inserted, soft-deleted, relabelled. */
  rows: { inserted: number; deleted: number; relabeled: number };
  /** messages.get that returned a message. */
  fetched: number;
  pages: number;
  /** Quota units spent, per method (the configured cost table), and requests per method. */
  units: Record<string, number>;
  calls: Record<string, number>;
  startedAt: string;
  finishedAt: string | null;
  reason: string | null;
  /** The mailbox's push watch, when the workers watch mailboxes (GMAIL_PUSH_TOPIC). */
  watch?: WatchStatus;
  /** Push notifications this sync received while it ran (each may add one more pass over history). */
  notifications?: number;
}

export interface SyncState {
  mode: SyncResult['mode'];
  format: MessageFormat;
  historyIdFrom: string | null;
  cursor: string | null;
  changes: ChangeCounts;
  rows: SyncResult['rows'];
  fetched: number;
  pages: number;
  units: Record<string, number>;
  calls: Record<string, number>;
  startedAt: number;
  watch?: WatchStatus;
  /**
   * Push notifications received (the `mailboxChanged` signal), the newest historyId they named, when the last arrived
   * (workflow time, ms), and the arrival a trailing read was made for.
   */
  notified?: { count: number; historyId: string | null; at?: number; trailed?: number };
}
