import { messagesTotal } from '../metrics.js';
import { collectGarbage } from './memory-budget.js';
import { span } from '../tracing.js';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type BatchInput, type BatchResult, FAILURE } from '../workflows/contracts.js';
import type { gmail_v1 } from '@googleapis/gmail';
import type { GmailApi, MessageFormat } from '../gmail/client.js';
import { classifyGmailError, describeGmailError } from '../gmail/errors.js';
import { committedAttempt, type MessageFailure, persistStaged, StagedBatchMismatch, storedIds } from '../lake/batches.js';
import { dropStaged, openStagedBatch } from '../lake/staging.js';
import type { Logger } from '../log.js';
import { type ActivityDeps, activityLog, attemptMeter, execution, heartbeating, rethrowGmail } from './context.js';
import { toRows } from './rows.js';
import { attachmentParts } from '../mime/content.js';
import type { GmailPart } from '../mime/parse.js';

export interface FetchCounts {
  fetched: number;
  skipped: number;
  malformed: number;
  bytes: number;
  /** The largest message staged from a file (format raw), in bytes: what its commit takes of the memory budget. */
  largest: number;
  /** Messages Gmail refused (400 or 5xx for that message, after the request retries): the batch decides their fate. */
  failures: MessageFailure[];
}

/**
 * A Gmail answer about one message that the message's quarantine may absorb: Gmail answered (400 or 5xx) for it after
 * every request retry. Rate limits, credentials, permissions, network trouble and cancellation are the batch's.
 */
function messageRefusal(err: unknown): number | undefined {
  const e = err as { response?: { status?: number }; status?: number };
  const status = e?.response?.status ?? e?.status;
  if (status === undefined) return undefined;
  const kind = classifyGmailError(err);
  return (status === 400 || status >= 500) && (kind === 'transient' || kind === 'invalidRequest') ? status : undefined;
}

/**
 * Fetches `ids` concurrently with `gmail` (a scoped, quota-metered view) and writes their rows to a staged batch,
 * calling `progress` after every message. A message Gmail refuses is counted in `failures` and the others go on; any
 * other error (credentials, rate limits past the retries, the network) rejects.
 */
export async function fetchToStaging(
  deps: ActivityDeps,
  gmail: GmailApi,
  staged: Awaited<ReturnType<typeof openStagedBatch>>,
  input: { account: string; ids: string[]; threadIds?: string[]; format: MessageFormat; extractionId: string },
  progress: (counts: FetchCounts) => void,
  signal?: AbortSignal,
): Promise<FetchCounts> {
  const counts: FetchCounts = { fetched: 0, skipped: 0, malformed: 0, bytes: 0, largest: 0, failures: [] };
  const fetchedAt = Date.now();
  let next = 0;
  // Other formats come whole, and small: a `full` answer carries no attachment data (they take nothing of the budget)
  // — unless ATTACHMENTS=content asks for it: then its attachments are fetched once the budget has room for them.
  const fetchWhole = async (id: string) => {
    const message = await gmail.getMessage(input.account, id, input.format);
    return message ? complete(id, message) : undefined;
  };
  const complete = async (id: string, message: gmail_v1.Schema$Message) => {
    const parts =
      deps.attachmentContent && message.payload
        ? attachmentParts(message.payload as GmailPart).filter((p) => p.body.data === undefined && p.body.attachmentId)
        : [];
    if (!parts.length) return { message, bytes: 0 };
    // Parsing holds about four times a message's size (see stage): taken before the bytes arrive, given back after.
    const held = await deps.messageMemory.take((message.sizeEstimate ?? 0) * 4);
    try {
      for (const p of parts) p.body.data = (await gmail.getAttachment(input.account, id, p.body.attachmentId!)) ?? '';
    } catch (err) {
      held();
      throw err;
    }
    return { message, bytes: 0, held };
  };
  // Its own function, so that a message's bytes live only in its frame: a loop's frame keeps its last values in its
  // registers while it awaits the next get, and twenty such held a batch's large messages (measured: 1.1 GB).
  const stage = async (message: Parameters<typeof toRows>[0], bytes: number, file: string, held?: () => void) => {
    // Parsing holds about four times a message's size (its bytes, its decoded parts, its text): measured, a 39 MB
    // message grew the heap by ~180 MB.
    const release = held ?? (await deps.messageMemory.take(bytes * 4));
    try {
      const streamed = input.format === 'raw' ? { bytes: await readFile(file), file } : undefined;
      const rows = toRows(
        message,
        {
          account: input.account,
          format: input.format,
          extractionId: input.extractionId,
          fetchedAt,
          attachmentContent: deps.attachmentContent,
        },
        streamed,
      );
      if (rows.message.parse_error) counts.malformed++;
      counts.bytes += message.sizeEstimate ?? 0;
      counts.largest = Math.max(counts.largest, bytes);
      counts.fetched++;
      await staged.message(rows.message);
      for (const a of rows.attachments) await staged.attachment(a);
      for (const c of rows.contents) await staged.content(input.account, c);
    } finally {
      release();
    }
  };
  /** Gmail refused a message (400 or 5xx after the retries): counted, the batch goes on; anything else rejects. */
  const refused = (id: string, err: unknown) => {
    const status = messageRefusal(err);
    if (status === undefined || signal?.aborted) throw err;
    counts.failures.push({ id, format: input.format, status, reason: describeGmailError(err) });
    progress(counts);
  };
  /** One message by messages.get: staged, counted as skipped (404) or as refused. */
  const single = async (id: string, seq: number) => {
    // raw: the bytes stream into a staged file as they arrive (no copy of a 35 MB answer in memory).
    const file = join(staged.dir, `${seq}.eml`);
    let got: { message: Parameters<typeof toRows>[0]; bytes: number; held?: () => void } | undefined;
    try {
      got = input.format === 'raw' ? await gmail.getRawMessage(input.account, id, file) : await fetchWhole(id);
    } catch (err) {
      refused(id, err);
      return;
    }
    if (!got) counts.skipped++;
    else await stage(got.message, got.bytes, file, got.held);
    progress(counts);
  };
  /**
   * Several messages of one thread by one threads.get. A message the thread no longer holds, or a thread Gmail
   * refuses or no longer has, is asked for by messages.get, one at a time: what the batch stores, skips and
   * quarantines is what a get each would have given.
   */
  const thread = async (fetch: ThreadFetch) => {
    let messages: gmail_v1.Schema$Message[] | undefined;
    try {
      messages = await gmail.getThread(input.account, fetch.threadId, input.format as 'full' | 'metadata' | 'minimal', new Set(fetch.ids));
    } catch (err) {
      // Refused (400 or 5xx after the retries): a get each. Rate limits and the network past the retries fail the
      // batch, as they would fail a get.
      if (messageRefusal(err) === undefined || signal?.aborted) throw err;
    }
    const byId = new Map((messages ?? []).map((m) => [m.id, m]));
    for (const id of fetch.ids) {
      const message = byId.get(id);
      byId.delete(id);
      // Not raw (threads.get does not serve it): no staged file.
      if (!message) {
        await single(id, -1);
        continue;
      }
      let got;
      try {
        got = await complete(id, message);
      } catch (err) {
        refused(id, err); // an attachment's bytes (ATTACHMENTS=content) refused: as single() counts it
        continue;
      }
      await stage(got.message, got.bytes, '', got.held);
      progress(counts);
    }
  };
  const fetches = planFetches(input.ids, input.format === 'raw' ? undefined : input.threadIds);
  const worker = async () => {
    while (next < fetches.length) {
      const seq = next++;
      const f = fetches[seq]!;
      await ('threadId' in f ? thread(f) : single(f.id, seq));
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.fetchConcurrency, fetches.length) }, worker));
  return counts;
}

/** Fewest of a thread's messages in one batch for which one threads.get (as many units as two gets) is the cheaper. */
export const THREAD_FETCH_MIN = 3;

/** Messages fetched together by one threads.get. */
export interface ThreadFetch {
  threadId: string;
  ids: string[];
}

/**
 * How a batch fetches its messages, in the listing's order: a thread with THREAD_FETCH_MIN or more of the batch's ids is
 * one threads.get (10 units where a messages.get each costs 5: 3 messages cost 10 instead of 15), every other id one
 * messages.get. Without threads (raw, which threads.get does not serve, or a batch of an older workflow), a get each.
 */
export function planFetches(ids: string[], threadIds: string[] | undefined): ({ id: string } | ThreadFetch)[] {
  // Each id once, whatever the listing repeated.
  const first = new Map<string, string>();
  for (const [i, id] of ids.entries()) if (!first.has(id)) first.set(id, threadIds?.length === ids.length ? threadIds[i]! : '');
  const byThread = new Map<string, string[]>();
  for (const [id, t] of first) if (t) byThread.set(t, [...(byThread.get(t) ?? []), id]);
  const planned: ({ id: string } | ThreadFetch)[] = [];
  const done = new Set<string>();
  for (const [id, t] of first) {
    const members = t ? byThread.get(t)! : undefined;
    if (!members || members.length < THREAD_FETCH_MIN) planned.push({ id });
    else if (!done.has(t)) {
      done.add(t);
      planned.push({ threadId: t, ids: members });
    }
  }
  return planned;
}

/**
 * What becomes of the messages Gmail refused in this attempt. Before attempt GMAIL_QUARANTINE_AFTER: the batch fails and
 * Temporal retries it whole (an intermittent refusal passes). From then on they are quarantined and the batch commits
 * the rest — unless Gmail refused every message and refuses the mailbox's profile too: then it is the mailbox (or
 * Gmail) that fails, not these messages, and the batch keeps failing with Gmail's answer.
 */
async function quarantineOrRetry(
  deps: ActivityDeps,
  gmail: GmailApi,
  account: string,
  counts: FetchCounts,
  attempt: number,
  logger: Logger,
): Promise<void> {
  const { failures } = counts;
  const sample = failures
    .slice(0, 3)
    .map((f) => `${f.id} (${f.reason})`)
    .join(', ');
  const summary = `Gmail refused ${failures.length} message(s) of the batch: ${sample}${failures.length > 3 ? ', …' : ''}`;
  if (attempt < deps.quarantineAfter)
    throw ApplicationFailure.retryable(
      `${summary}; attempt ${attempt} of ${deps.quarantineAfter} before they are quarantined`,
      FAILURE.messagesRefused,
    );
  if (counts.fetched + counts.skipped === 0) await gmail.profile(account); // throws when the mailbox itself is refused
  logger.warn(
    { account, failed: failures.map((f) => f.id), reasons: [...new Set(failures.map((f) => f.reason))] },
    `${summary}; quarantined`,
  );
}

/**
 * What committing a batch whose largest staged message is `largest` bytes takes of the worker's message memory:
 * DuckDB's INSERT of a large message holds several copies of it outside its memory limit (the Parquet page, its
 * compression), about eight times the message in steady state (measured on 24–34 MB messages). Taken from the budget
 * the parsing of messages takes from, so that a commit of large messages and the parsing of the next batch's do not
 * peak together; 0 for small ones.
 */
const commitMemory = (largest: number): number => (largest >= 1024 * 1024 ? largest * 8 : 0);

/** Where one attempt of one batch stages: unique per extraction, batch and attempt, so nothing stale is ever loaded. */
export function attemptDir(stagingDir: string, extractionId: string, batchId: string, attempt: number): string {
  return join(stagingDir, encodeURIComponent(extractionId), `${batchId}-a${attempt}-${randomBytes(4).toString('hex')}`);
}

/**
 * Removes staged batches older than `olderThanMs` (left by a worker that died mid-batch; a live attempt never lasts
 * that long: see the batch activity's start-to-close timeout). Called when a worker starts.
 */
export async function removeOrphanedStaging(stagingDir: string, olderThanMs: number, logger: Logger): Promise<number> {
  let removed = 0;
  const cutoff = Date.now() - olderThanMs;
  for (const extraction of await readdir(stagingDir).catch(() => [] as string[])) {
    for (const batch of await readdir(join(stagingDir, extraction)).catch(() => [] as string[])) {
      const path = join(stagingDir, extraction, batch);
      const s = await stat(path).catch(() => undefined);
      if (s && s.mtimeMs < cutoff) {
        await rm(path, { recursive: true, force: true });
        removed++;
      }
    }
  }
  if (removed) logger.info({ removed, stagingDir }, 'removed orphaned staged batches');
  return removed;
}

/** The batch activity: fetch and persist on one worker, so no batch ever depends on another host's disk. */
export function batchActivities(deps: ActivityDeps) {
  return {
    /**
     * Fetches the batch's ids that the lake does not hold yet and commits them with the checkpoint in one lake
     * transaction. Host-independent: it stages only on its own worker's disk for the span of this attempt and removes
     * that in every case; any worker can run any attempt. Idempotent: a re-run (retry, crash, re-run of a completed
     * mailbox) fetches only what is missing and inserts each (account, id) once, even against a concurrent writer.
     * Heartbeats every second (progress as details), also while requests back off; stops promptly when cancelled.
     * Retries: transient Gmail errors per request, then Temporal's policy; permanent ones are non-retryable.
     */
    async extractBatch(input: BatchInput): Promise<BatchResult> {
      const ctx = Context.current();
      // Each concurrent request and backoff listens on the cancellation signal: more than Node's default of 10.
      setMaxListeners(4 * deps.fetchConcurrency + 10, ctx.cancellationSignal);
      const logger = activityLog(deps);
      const { workflowId, runId } = execution();
      // A retry first asks whether an earlier attempt committed (and only its completion was lost): then it reports
      // what that attempt did, so the counts equal the lake.
      if (ctx.info.attempt > 1) {
        const earlier = await committedAttempt(deps.lake, input.account, { workflowId, runId, batchId: input.batchId }, input.ids);
        if (earlier) {
          logger.info({ batchId: input.batchId, attempt: ctx.info.attempt, ...earlier }, 'batch committed by an earlier attempt');
          return {
            fetched: earlier.inserted,
            inserted: earlier.inserted,
            present: earlier.stored - earlier.inserted,
            skipped: input.ids.length - earlier.stored - earlier.failed,
            malformed: earlier.malformed,
            failed: earlier.failed,
            // What the attempts spent, as far as their last heartbeats said (see attemptMeter).
            units: attemptMeter().units,
          };
        }
      }
      // listPage left out the ids stored when it listed; a retry asks again (its earlier attempt may have committed).
      const known = ctx.info.attempt > 1 ? await storedIds(deps.lake, input.account, input.ids) : new Set<string>();
      const wanted = input.ids.filter((id) => !known.has(id));
      const detail = { batchId: input.batchId, phase: 'fetching', done: 0, of: wanted.length, present: known.size };
      const dir = attemptDir(deps.stagingDir, workflowId, input.batchId, ctx.info.attempt);
      const meter = attemptMeter();
      try {
        return await heartbeating(
          async () => {
            let counts: FetchCounts = { fetched: 0, skipped: 0, malformed: 0, bytes: 0, largest: 0, failures: [] };
            if (wanted.length) {
              const staged = await openStagedBatch(dir);
              // No heartbeat per retry needed: `heartbeating` beats every second, request backoffs included.
              const gmail = deps.gmail.scoped({ share: input.quotaShare ?? 1, signal: ctx.cancellationSignal, meter });
              try {
                counts = await fetchToStaging(
                  deps,
                  gmail,
                  staged,
                  {
                    ...input,
                    ids: wanted,
                    threadIds: input.threadIds?.filter((_, i) => !known.has(input.ids[i]!)),
                    extractionId: workflowId,
                  },
                  (c) => {
                    detail.done = c.fetched + c.skipped + c.failures.length;
                  },
                  ctx.cancellationSignal,
                );
                if (counts.failures.length) await quarantineOrRetry(deps, gmail, input.account, counts, ctx.info.attempt, logger);
              } catch (err) {
                await staged.close().catch(() => undefined);
                if (err instanceof ApplicationFailure) throw err;
                rethrowGmail(err, logger);
              }
              await staged.close();
              ctx.cancellationSignal.throwIfAborted();
            } else {
              await openStagedBatch(dir).then((s) => s.close());
            }
            detail.phase = 'persisting';
            const commitBytes = commitMemory(counts.largest);
            const release = commitBytes ? await deps.messageMemory.take(commitBytes) : () => undefined;
            const { inserted } = await span('lake commit', { 'lake.batch': input.batchId, 'lake.messages': wanted.length }, () => {
              if (commitBytes) collectGarbage();
              return persistStaged(
                deps.lake,
                dir,
                { ...input.checkpoint, batchId: input.batchId, workflowId, runId },
                wanted.filter((id) => !counts.failures.some((f) => f.id === id)),
                counts.failures,
              );
            })
              .finally(release)
              .catch((err: unknown) => {
                if (err instanceof StagedBatchMismatch) throw ApplicationFailure.retryable(err.message, FAILURE.stagedBatchMismatch);
                throw err;
              });
            const result = {
              fetched: counts.fetched,
              inserted,
              present: known.size + (counts.fetched - inserted),
              skipped: counts.skipped,
              malformed: counts.malformed,
              failed: counts.failures.length,
              units: meter.units,
            };
            logger.debug({ batchId: input.batchId, ...result }, 'batch committed');
            for (const stage of ['fetched', 'present', 'skipped', 'failed'] as const) messagesTotal.inc({ stage }, result[stage]);
            messagesTotal.inc({ stage: 'persisted' }, inserted);
            return result;
          },
          () => ({ ...detail, meter }),
        );
      } finally {
        await dropStaged(dir);
      }
    },
  };
}
