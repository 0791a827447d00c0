import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type GmailApi, type HistoryRef, type MessageFormat, newMeter } from '../gmail/client.js';
import { classifyGmailError, describeGmailError } from '../gmail/errors.js';
import { storeLabels } from '../lake/runs.js';
import { dropStaged, openStagedBatch } from '../lake/staging.js';
import {
  type Change,
  commitFetched,
  commitMirror,
  handOverToMirror,
  mailboxState,
  recordSyncRun,
  type SyncRunRecord,
  storedMirror,
} from '../lake/mirror.js';
import { describeSyncSchedule, isWorkflowRunning, upsertSyncSchedule } from '../schedules.js';
import { storedWatch, storeWatch } from '../lake/watches.js';
import { attemptDir, fetchToStaging } from './batch.js';
import { type ActivityDeps, activityLog, attemptMeter, execution, heartbeating, rethrowGmail } from './context.js';
import {
  noChanges,
  type BeginSyncResult,
  type ChangeCounts,
  type SyncStepResult,
  type UnitMeter,
  type WatchStatus,
} from '../workflows/contracts.js';

const PAGE_SIZE = 500;
const RECONCILE_CHUNK = 500;

function count(changes: Change[]): ChangeCounts {
  const c = noChanges();
  for (const x of changes) {
    if (x.kind === 'added') c.added++;
    else if (x.kind === 'deleted') c.deleted++;
    else if (x.kind === 'labels_added') c.labelsAdded++;
    else c.labelsRemoved++;
  }
  return c;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** A watch is renewed once a day (Google's advice), and always when it would lapse within a day. */
const RENEW_AFTER_MS = 24 * 3600 * 1000;

/**
 * Keeps the mailbox watched on `topic` (users.watch, 100 units) when its watch is older than a day, lapses within
 * one, or is on another topic: at the end of a backfill that keeps the mailbox in sync, and in each sync of a mailbox
 * whose schedule is not paused. A watch Gmail refuses (the topic missing, or Gmail not allowed to publish to it) is
 * reported and logged, never a failed sync: the schedule still syncs the mailbox.
 */
async function keepWatched(deps: ActivityDeps, account: string, topic: string, meter: UnitMeter): Promise<WatchStatus> {
  const now = Date.now();
  const stored = await storedWatch(deps.lake, account);
  if (
    stored &&
    stored.topic === topic &&
    now - stored.renewedAt.getTime() < RENEW_AFTER_MS &&
    stored.expiresAt.getTime() - now > RENEW_AFTER_MS
  )
    return { topic, expiresAt: stored.expiresAt.toISOString(), renewed: false, error: null };
  let w;
  try {
    w = await deps.gmail.scoped({ meter, signal: Context.current().cancellationSignal }).watch(account, topic);
  } catch (err) {
    if (Context.current().cancellationSignal.aborted) throw err;
    // Tried again at the next sync (100 units each time): what refuses it (the topic, its permission) needs a person.
    const error = `users.watch on ${topic} failed: ${describeGmailError(err)}`;
    activityLog(deps).warn({ topic, err: describeGmailError(err) }, 'mailbox not watched: syncs run on their schedule only');
    const live = stored?.topic === topic && stored.expiresAt.getTime() > now;
    return { topic, expiresAt: live ? stored.expiresAt.toISOString() : null, renewed: false, error };
  }
  // Outside the try: a lake that cannot record the watch fails the activity (retried), not the watch.
  await storeWatch(deps.lake, account, { topic, ...w });
  activityLog(deps).info({ topic, expiresAt: new Date(w.expiration).toISOString() }, 'mailbox watched for push');
  return { topic, expiresAt: new Date(w.expiration).toISOString(), renewed: true, error: null };
}

/** Whether the mailbox has a sync schedule that is not paused: push serves those (a paused one's watch lapses). */
async function scheduled(deps: ActivityDeps, account: string): Promise<boolean> {
  if (!deps.temporal) return true;
  const schedule = await describeSyncSchedule(deps.temporal, deps.ids, account);
  return !!schedule && !schedule.paused;
}

/** Mirror activities: a sync by history, a reconciliation by listing, and their run records and schedule. */
export function syncActivities(deps: ActivityDeps) {
  /** Fetches `ids` into a staged batch; returns its folder and the ids Gmail still had. */
  async function fetchStaged(gmail: GmailApi, account: string, ids: string[], format: MessageFormat, workflowId: string) {
    const dir = attemptDir(deps.stagingDir, workflowId, 'sync', Context.current().info.attempt);
    const staged = await openStagedBatch(dir);
    try {
      const counts = await fetchToStaging(deps, gmail, staged, { account, ids, format, extractionId: workflowId }, () => undefined);
      await staged.close();
      return { dir, fetched: counts.fetched };
    } catch (err) {
      await staged.close().catch(() => undefined);
      await dropStaged(dir);
      throw err;
    }
  }

  return {
    /**
     * Starts a sync: refuses (busy) while the mailbox's backfill runs — the two never write at once — and reads where
     * the mirror stands. Refreshes the labels table (1 unit).
     */
    async beginSync(input: { account: string }): Promise<BeginSyncResult> {
      const meter = newMeter();
      const backfill = deps.ids.extraction(input.account);
      if (deps.temporal && (await isWorkflowRunning(deps.temporal, backfill)))
        return { busy: `the backfill ${backfill} of this mailbox is running`, historyId: null, format: null, meter };
      try {
        const gmail = deps.gmail.scoped({ meter, signal: Context.current().cancellationSignal });
        await storeLabels(deps.lake, input.account, await gmail.labels(input.account));
      } catch (err) {
        rethrowGmail(err, activityLog(deps));
      }
      const state = await mailboxState(deps.lake, input.account);
      const watch =
        deps.pushTopic && (await scheduled(deps, input.account))
          ? await keepWatched(deps, input.account, deps.pushTopic, meter)
          : undefined;
      return { busy: null, historyId: state?.historyId ?? null, format: state?.format ?? null, meter, ...(watch ? { watch } : {}) };
    },

    /**
     * Applies one page of `users.history.list` after `startHistoryId`: adds are fetched (ids stored already are not),
     * deletions soft-delete, label changes set `label_ids` from the records themselves (no messages.get); all of it and
     * the new historyId in one lake transaction, which commits only if the stored historyId is still
     * `startHistoryId` (so a retried page is never applied twice). 404 → `expired` (the workflow reconciles).
     */
    async syncHistoryPage(input: { account: string; startHistoryId: string; format: MessageFormat }): Promise<SyncStepResult> {
      const ctx = Context.current();
      const logger = activityLog(deps);
      const { workflowId } = execution();
      const meter = attemptMeter();
      const gmail = deps.gmail.scoped({ meter, signal: ctx.cancellationSignal });
      const detail = { phase: 'listing history', from: input.startHistoryId, records: 0 };
      return heartbeating(
        async () => {
          let page;
          try {
            page = await gmail.history(input.account, { startHistoryId: input.startHistoryId, maxResults: PAGE_SIZE });
          } catch (err) {
            // An expected outcome, not a failure: the workflow reconciles.
            if (classifyGmailError(err) === 'notFound') {
              logger.info({ startHistoryId: input.startHistoryId, err: describeGmailError(err) }, 'history expired; reconciling');
              return {
                historyId: input.startHistoryId,
                more: false,
                changes: noChanges(),
                rows: { inserted: 0, deleted: 0, relabeled: 0 },
                fetched: 0,
                meter,
                applied: false,
                expired: true,
              };
            }
            rethrowGmail(err, logger);
          }
          detail.records = page.records.length;
          const changes: Change[] = [];
          const added = new Map<string, HistoryRef>();
          const deleted = new Map<string, HistoryRef>();
          const lastLabels = new Map<string, string[]>();
          for (const r of page.records) {
            for (const m of r.added) {
              added.set(m.id, m);
              lastLabels.set(m.id, m.labelIds);
              changes.push({ messageId: m.id, kind: 'added', labelIds: m.labelIds, historyId: r.id });
            }
            const labelChanges = [
              ...r.labelsAdded.map((e) => ({ e, kind: 'labels_added' as const, labelsAdded: e.labelIds })),
              ...r.labelsRemoved.map((e) => ({ e, kind: 'labels_removed' as const, labelsRemoved: e.labelIds })),
            ];
            for (const { e, ...change } of labelChanges) {
              lastLabels.set(e.message.id, e.message.labelIds);
              changes.push({ messageId: e.message.id, labelIds: e.message.labelIds, historyId: r.id, ...change });
            }
            for (const m of r.deleted) {
              deleted.set(m.id, { ...m, labelIds: lastLabels.get(m.id) ?? m.labelIds });
              changes.push({ messageId: m.id, kind: 'deleted', labelIds: m.labelIds, historyId: r.id });
            }
          }
          const referenced = [...new Set(changes.map((c) => c.messageId))];
          const stored = referenced.length
            ? await storedMirror(deps.lake, input.account, referenced)
            : { live: new Map(), deleted: new Set() };
          const known = (id: string) => stored.live.has(id) || stored.deleted.has(id);
          // Added and not deleted within this page: fetch (a 404 means deleted since: a later page says so).
          const toFetch = [...added.keys()].filter((id) => !known(id) && !deleted.has(id));
          detail.phase = `fetching ${toFetch.length}`;
          let staged: { dir: string; fetched: number } | undefined;
          try {
            if (toFetch.length) staged = await fetchStaged(gmail, input.account, toFetch, input.format, workflowId);
          } catch (err) {
            rethrowGmail(err, logger);
          }
          const fetchedNow = new Set(toFetch);
          try {
            detail.phase = 'committing';
            const newHistoryId = page.nextPageToken ? page.records[page.records.length - 1]!.id : page.historyId;
            const r = await commitMirror(deps.lake, {
              account: input.account,
              syncId: workflowId,
              source: 'history',
              expectedHistoryId: input.startHistoryId,
              newHistoryId,
              format: input.format,
              stagedDir: staged?.dir,
              // Messages fetched now carry their current labels already.
              labels: [...lastLabels].filter(([id]) => !fetchedNow.has(id) && !deleted.has(id)).map(([id, labelIds]) => ({ id, labelIds })),
              deleted: [...deleted.keys()],
              // Deleted before any sync fetched it: a row without content, so the lake still knows it existed.
              tombstones: [...deleted.values()]
                .filter((m) => !known(m.id))
                .map((m) => ({ id: m.id, threadId: m.threadId, labelIds: m.labelIds })),
              changes,
            });
            if (!r.applied) logger.info({ stored: r.storedHistoryId }, 'history page committed by an earlier attempt');
            return {
              historyId: r.storedHistoryId ?? newHistoryId,
              more: r.applied ? !!page.nextPageToken : true,
              changes: r.applied ? count(changes) : noChanges(),
              rows: { inserted: r.inserted, deleted: r.deleted, relabeled: r.labelsChanged },
              fetched: staged?.fetched ?? 0,
              meter,
              applied: r.applied,
            };
          } finally {
            if (staged) await dropStaged(staged.dir);
          }
        },
        () => ({ ...detail, meter }),
      );
    },

    /**
     * Brings the mirror to Gmail's state without history (none recorded, or expired): lists every id (SPAM and TRASH
     * included), fetches the ones the lake lacks, soft-deletes the ones Gmail no longer has, and rebuilds label
     * membership by listing each label (5 units per 500 ids, never a get per message). The new historyId is the
     * profile's, read before listing, committed with the deletions and label changes; changes after it are replayed by
     * the next sync. A retried attempt lists again and skips what its predecessor stored.
     */
    async reconcileMailbox(input: { account: string; format: MessageFormat; expectedHistoryId: string | null }): Promise<SyncStepResult> {
      const ctx = Context.current();
      const logger = activityLog(deps);
      const { workflowId } = execution();
      const meter = attemptMeter();
      const gmail = deps.gmail.scoped({ meter, signal: ctx.cancellationSignal });
      const detail = { phase: 'profile', listed: 0, labels: 0, fetched: 0, toFetch: 0 };
      return heartbeating(
        async () => {
          const listAll = async (labelIds?: string[]) => {
            const ids: string[] = [];
            let pageToken = '';
            do {
              const p = await gmail.listPage(input.account, { pageToken, labelIds, includeSpamTrash: true, maxResults: 500 });
              ids.push(...p.ids);
              pageToken = p.nextPageToken ?? '';
              if (!labelIds) detail.listed = ids.length;
            } while (pageToken);
            return ids;
          };
          let historyId: string;
          let all: Set<string>;
          const membership = new Map<string, string[]>();
          try {
            historyId = (await gmail.profile(input.account)).historyId;
            detail.phase = 'listing ids';
            all = new Set(await listAll());
            detail.phase = 'listing labels';
            const labels = await gmail.labels(input.account);
            await storeLabels(deps.lake, input.account, labels);
            for (const l of labels) {
              for (const id of await listAll([l.id])) {
                const m = membership.get(id);
                if (m) m.push(l.id);
                else membership.set(id, [l.id]);
              }
              detail.labels++;
            }
          } catch (err) {
            rethrowGmail(err, logger);
          }
          const stored = await storedMirror(deps.lake, input.account);
          const missing = [...all].filter((id) => !stored.live.has(id) && !stored.deleted.has(id));
          detail.phase = 'fetching';
          detail.toFetch = missing.length;
          let inserted = 0;
          let fetched = 0;
          const addedChanges: string[] = [];
          for (let i = 0; i < missing.length; i += RECONCILE_CHUNK) {
            const chunk = missing.slice(i, i + RECONCILE_CHUNK);
            let staged;
            try {
              staged = await fetchStaged(gmail, input.account, chunk, input.format, workflowId);
            } catch (err) {
              rethrowGmail(err, logger);
            }
            try {
              inserted += await commitFetched(deps.lake, {
                account: input.account,
                syncId: workflowId,
                stagedDir: staged.dir,
                historyId,
                added: chunk.map((id) => ({ id, labelIds: membership.get(id) ?? [] })),
              });
            } finally {
              await dropStaged(staged.dir);
            }
            fetched += staged.fetched;
            detail.fetched = fetched;
            addedChanges.push(...chunk);
          }
          detail.phase = 'committing';
          const changes: Change[] = [];
          const labels: { id: string; labelIds: string[] }[] = [];
          for (const [id, current] of stored.live) {
            // A message an import stored that Gmail does not list was never Gmail's here: not a deletion.
            if (!all.has(id) && stored.imported.has(id)) continue;
            if (!all.has(id)) {
              changes.push({ messageId: id, kind: 'deleted', labelIds: current, historyId });
              continue;
            }
            const now = membership.get(id) ?? [];
            if (sameSet(now, current)) continue;
            labels.push({ id, labelIds: now });
            const plus = now.filter((l) => !current.includes(l));
            const minus = current.filter((l) => !now.includes(l));
            if (plus.length) changes.push({ messageId: id, kind: 'labels_added', labelsAdded: plus, labelIds: now, historyId });
            if (minus.length) changes.push({ messageId: id, kind: 'labels_removed', labelsRemoved: minus, labelIds: now, historyId });
          }
          const deletedIds = [...stored.live.keys()].filter((id) => !all.has(id) && !stored.imported.has(id));
          const r = await commitMirror(deps.lake, {
            account: input.account,
            syncId: workflowId,
            source: 'reconcile',
            expectedHistoryId: input.expectedHistoryId,
            newHistoryId: historyId,
            format: input.format,
            labels,
            deleted: deletedIds,
            tombstones: [],
            changes,
          });
          const counts = count(changes);
          counts.added = inserted;
          logger.info({ listed: all.size, fetched, ...counts, applied: r.applied }, 'mailbox reconciled');
          return {
            historyId: r.storedHistoryId ?? historyId,
            more: false,
            changes: counts,
            rows: { inserted, deleted: r.deleted, relabeled: r.labelsChanged },
            fetched,
            meter,
            applied: r.applied,
          };
        },
        () => ({ ...detail, meter }),
      );
    },

    /** Appends the sync's run record: what it applied and the quota units it spent, per method. */
    async recordSync(input: Omit<SyncRunRecord, 'workflowId' | 'runId'>): Promise<void> {
      const { workflowId, runId } = execution();
      await recordSyncRun(deps.lake, { ...input, workflowId, runId });
      activityLog(deps).info({ status: input.status, mode: input.mode, units: input.units }, 'sync recorded');
    },

    /** A whole-mailbox backfill that completed hands its historyId to the mirror (unless a later one is stored). */
    async handOverToSync(input: { account: string; historyId: string; format: string }): Promise<boolean> {
      return handOverToMirror(deps.lake, input.account, input.historyId, input.format);
    },

    /** Creates or updates the mailbox's sync schedule (a backfill with keepInSync, when it completes). */
    async ensureSyncSchedule(input: { account: string; every: string; format?: MessageFormat }): Promise<void> {
      if (!deps.temporal) throw ApplicationFailure.nonRetryable('this worker has no Temporal client', 'NoTemporalClient');
      await upsertSyncSchedule(deps.temporal, deps.ids, deps.taskQueue, input);
      // Pushes from now on, not from the schedule's first sync.
      if (deps.pushTopic) await keepWatched(deps, input.account, deps.pushTopic, newMeter());
    },
  };
}
