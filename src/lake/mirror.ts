import { type DuckDBConnection, type DuckDBValue, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import { insertStaged } from './batches.js';
import { guardedWrite } from './write-guard.js';
import type { Lake } from './lake.js';
import { IMPORT_ID_PREFIX } from '../workflows/ids.js';

/** Where a mailbox's mirror stands: every change up to `historyId` is in the lake. */
export interface MailboxState {
  historyId: string;
  format: string | null;
  source: string | null;
  updatedAt: string | null;
}

export type ChangeKind = 'added' | 'deleted' | 'labels_added' | 'labels_removed';

/** One row of lake.message_changes. */
export interface Change {
  messageId: string;
  kind: ChangeKind;
  labelsAdded?: string[];
  labelsRemoved?: string[];
  labelIds: string[];
  historyId: string;
}

/** A message known only from history (deleted before any sync could fetch it): stored as a row without content. */
export interface Tombstone {
  id: string;
  threadId: string;
  labelIds: string[];
}

/** What one sync step commits: the changes and the historyId they bring the mirror to, in one transaction. */
export interface MirrorCommit {
  account: string;
  syncId: string;
  source: 'history' | 'reconcile';
  /** The mailbox's stored historyId this step started from (null: none yet); a different one means another step won. */
  expectedHistoryId: string | null;
  newHistoryId: string;
  format: string;
  /** Staged messages to insert (those not stored yet). */
  stagedDir?: string;
  /** Final labels of stored messages (updated only where they differ). */
  labels: { id: string; labelIds: string[] }[];
  /** Ids deleted in Gmail: their rows get deleted_at. */
  deleted: string[];
  tombstones: Tombstone[];
  changes: Change[];
}

export interface MirrorCommitResult {
  /** False when the stored historyId was no longer `expectedHistoryId` (a retried step already committed): nothing written. */
  applied: boolean;
  storedHistoryId: string | null;
  inserted: number;
  deleted: number;
  labelsChanged: number;
}

/** The mailbox's mirror state, if it has one. */
export async function mailboxState(lake: Lake, account: string): Promise<MailboxState | undefined> {
  const rows = await lake.query<{ history_id: number | string; format: string | null; source: string | null; updated_at: string | null }>(
    `SELECT history_id, format, source, updated_at FROM lake.mailbox_state WHERE account = $account ORDER BY updated_at DESC LIMIT 1`,
    { account },
  );
  const r = rows[0];
  return r && { historyId: String(r.history_id), format: r.format, source: r.source, updatedAt: r.updated_at };
}

async function storedHistoryId(conn: DuckDBConnection, account: string): Promise<string | null> {
  const r = await conn.runAndReadAll(`SELECT history_id FROM lake.mailbox_state WHERE account = $account`, { account });
  const v = r.getRows()[0]?.[0];
  return v === undefined || v === null ? null : String(v);
}

async function setState(conn: DuckDBConnection, account: string, historyId: string, format: string, source: string): Promise<void> {
  await conn.run(`DELETE FROM lake.mailbox_state WHERE account = $account`, { account });
  await conn.run(`INSERT INTO lake.mailbox_state VALUES ($account, $hist::BIGINT, $format, $source, now()::TIMESTAMP)`, {
    account,
    hist: historyId,
    format,
    source,
  });
}

/**
 * A completed whole-mailbox backfill hands its historyId (captured before it listed) to the mirror, unless the mailbox
 * has a mirror state already (a later one). Changes between that historyId and the end of the backfill are replayed
 * by the first sync; replaying one the backfill already saw changes nothing.
 */
export async function handOverToMirror(lake: Lake, account: string, historyId: string, format: string): Promise<boolean> {
  return guardedWrite(lake, account, async (conn) => {
    if ((await storedHistoryId(conn, account)) !== null) return false;
    await setState(conn, account, historyId, format, 'backfill');
    return true;
  });
}

/**
 * Ids of the account's rows (all, or those among `ids`): live ones with their labels, the soft-deleted ones, and those an
 * import stored (from an mbox: Gmail's listing not having them does not mean they were deleted there).
 */
export async function storedMirror(
  lake: Lake,
  account: string,
  ids?: string[],
): Promise<{ live: Map<string, string[]>; deleted: Set<string>; imported: Set<string> }> {
  const rows = await lake.query<{ id: string; label_ids: string[] | null; deleted: boolean; imported: boolean }>(
    `SELECT id, label_ids, deleted_at IS NOT NULL AS deleted, starts_with(coalesce(extraction_id, ''), $prefix) AS imported
     FROM lake.messages WHERE account = $account ${ids ? 'AND id IN (SELECT unnest($ids::VARCHAR[]))' : ''}`,
    ids ? { account, prefix: IMPORT_ID_PREFIX, ids: listValue(ids) } : { account, prefix: IMPORT_ID_PREFIX },
  );
  const live = new Map<string, string[]>();
  const deleted = new Set<string>();
  const imported = new Set<string>();
  for (const r of rows) {
    if (r.deleted) deleted.add(r.id);
    else live.set(r.id, r.label_ids ?? []);
    if (r.imported) imported.add(r.id);
  }
  return { live, deleted, imported };
}

const strings = (xs: string[]) => listValue(xs);
const stringLists = (xs: string[][]) => listValue(xs.map((x) => listValue(x)));
const LIST_TYPES = { 1: LIST(VARCHAR), 2: LIST(LIST(VARCHAR)) };

/** Runs `sql` with its list parameters typed (an empty label list has no type DuckDB could infer). */
function runTyped(conn: DuckDBConnection, sql: string, values: Record<string, DuckDBValue>, lists: Record<string, 1 | 2>) {
  return conn.run(sql, values, Object.fromEntries(Object.entries(lists).map(([k, depth]) => [k, LIST_TYPES[depth]])));
}

/**
 * Commits one sync step in one lake transaction: new messages, tombstones, soft deletes, label updates, one change row
 * per change, and the new historyId — or nothing, when the stored historyId is no longer the one the step started from
 * (its earlier attempt committed). Bumps the account's write_guard row, so it conflicts with any concurrent writer of
 * the account (a backfill batch, another sync) and is re-run against what that writer committed.
 */
export async function commitMirror(lake: Lake, c: MirrorCommit): Promise<MirrorCommitResult> {
  const account = c.account;
  return guardedWrite(lake, account, async (conn) => {
    const stored = await storedHistoryId(conn, account);
    if (stored !== c.expectedHistoryId) return { applied: false, storedHistoryId: stored, inserted: 0, deleted: 0, labelsChanged: 0 };
    const inserted = c.stagedDir ? await insertStaged(conn, c.stagedDir, account) : 0;
    if (c.tombstones.length)
      await runTyped(
        conn,
        `INSERT INTO lake.messages (account, id, thread_id, label_ids, format, extraction_id, first_seen_at)
         SELECT $account, t.id, t.thread_id, t.label_ids, 'none', $sync, now()::TIMESTAMP
         FROM (SELECT unnest($ids::VARCHAR[]) AS id, unnest($threads::VARCHAR[]) AS thread_id, unnest($labels::VARCHAR[][]) AS label_ids) t
         WHERE t.id NOT IN (SELECT id FROM lake.messages WHERE account = $account)`,
        {
          account,
          sync: c.syncId,
          ids: strings(c.tombstones.map((t) => t.id)),
          threads: strings(c.tombstones.map((t) => t.threadId)),
          labels: stringLists(c.tombstones.map((t) => t.labelIds)),
        },
        { ids: 1, threads: 1, labels: 2 },
      );
    let labelsChanged = 0;
    if (c.labels.length) {
      const r = await runTyped(
        conn,
        `UPDATE lake.messages SET label_ids = u.label_ids, labels_updated_at = now()::TIMESTAMP
         FROM (SELECT unnest($ids::VARCHAR[]) AS id, unnest($labels::VARCHAR[][]) AS label_ids) u
         WHERE messages.account = $account AND messages.id = u.id
           AND list_sort(coalesce(messages.label_ids, [])) IS DISTINCT FROM list_sort(u.label_ids)`,
        { account, ids: strings(c.labels.map((l) => l.id)), labels: stringLists(c.labels.map((l) => l.labelIds)) },
        { ids: 1, labels: 2 },
      );
      labelsChanged = Number(r.rowsChanged);
    }
    let deleted = 0;
    if (c.deleted.length) {
      const r = await runTyped(
        conn,
        `UPDATE lake.messages SET deleted_at = now()::TIMESTAMP
         WHERE account = $account AND deleted_at IS NULL AND id IN (SELECT unnest($ids::VARCHAR[]))`,
        { account, ids: strings(c.deleted) },
        { ids: 1 },
      );
      deleted = Number(r.rowsChanged);
    }
    if (c.changes.length)
      await runTyped(
        conn,
        `INSERT INTO lake.message_changes
         SELECT $account, t.message_id, t.kind, t.labels_added, t.labels_removed, t.label_ids, t.history_id::BIGINT, $source, $sync, now()::TIMESTAMP
         FROM (SELECT unnest($ids::VARCHAR[]) AS message_id, unnest($kinds::VARCHAR[]) AS kind, unnest($added::VARCHAR[][]) AS labels_added,
                      unnest($removed::VARCHAR[][]) AS labels_removed, unnest($labels::VARCHAR[][]) AS label_ids,
                      unnest($hist::VARCHAR[]) AS history_id) t`,
        {
          account,
          source: c.source,
          sync: c.syncId,
          ids: strings(c.changes.map((x) => x.messageId)),
          kinds: strings(c.changes.map((x) => x.kind)),
          added: stringLists(c.changes.map((x) => x.labelsAdded ?? [])),
          removed: stringLists(c.changes.map((x) => x.labelsRemoved ?? [])),
          labels: stringLists(c.changes.map((x) => x.labelIds)),
          hist: strings(c.changes.map((x) => x.historyId)),
        },
        { ids: 1, kinds: 1, added: 2, removed: 2, labels: 2, hist: 1 },
      );
    await setState(conn, account, c.newHistoryId, c.format, c.source);
    return { applied: true, storedHistoryId: c.newHistoryId, inserted, deleted, labelsChanged };
  });
}

/**
 * Inserts staged messages a reconciliation fetched (not stored yet), with an `added` change row each, without moving
 * the historyId: the reconciliation's last commit does that.
 */
export async function commitFetched(
  lake: Lake,
  c: { account: string; syncId: string; stagedDir: string; historyId: string; added: { id: string; labelIds: string[] }[] },
): Promise<number> {
  return guardedWrite(lake, c.account, async (conn) => {
    const before = await conn.runAndReadAll(
      `SELECT id FROM lake.messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))`,
      { account: c.account, ids: strings(c.added.map((a) => a.id)) },
    );
    const had = new Set(before.getRows().map(([id]) => String(id)));
    const inserted = await insertStaged(conn, c.stagedDir, c.account);
    const fresh = c.added.filter((a) => !had.has(a.id));
    if (fresh.length)
      await runTyped(
        conn,
        `INSERT INTO lake.message_changes
         SELECT $account, t.id, 'added', [], [], t.label_ids, $hist::BIGINT, 'reconcile', $sync, now()::TIMESTAMP
         FROM (SELECT unnest($ids::VARCHAR[]) AS id, unnest($labels::VARCHAR[][]) AS label_ids) t
         WHERE t.id IN (SELECT id FROM lake.messages WHERE account = $account)`,
        {
          account: c.account,
          hist: c.historyId,
          sync: c.syncId,
          ids: strings(fresh.map((a) => a.id)),
          labels: stringLists(fresh.map((a) => a.labelIds)),
        },
        { ids: 1, labels: 2 },
      );
    return inserted;
  });
}

/** One finished sync run (its counts and the quota units it spent, per method). */
export interface SyncRunRecord {
  account: string;
  workflowId: string;
  runId: string;
  mode: string;
  status: string;
  historyIdFrom: string | null;
  historyIdTo: string | null;
  added: number;
  deleted: number;
  labelsChanged: number;
  units: Record<string, number>;
  detail?: string;
  startedAt: number;
}

export async function recordSyncRun(lake: Lake, r: SyncRunRecord): Promise<void> {
  await lake.write(async (conn) => {
    await conn.run(
      `INSERT INTO lake.sync_runs VALUES ($account, $wf, $run, $mode, $status, $from::BIGINT, $to::BIGINT, $added, $deleted, $labels,
         $units, $detail, epoch_ms($started::BIGINT)::TIMESTAMP, now()::TIMESTAMP)`,
      {
        account: r.account,
        wf: r.workflowId,
        run: r.runId,
        mode: r.mode,
        status: r.status,
        from: r.historyIdFrom,
        to: r.historyIdTo,
        added: r.added,
        deleted: r.deleted,
        labels: r.labelsChanged,
        units: JSON.stringify(r.units),
        detail: r.detail ?? null,
        started: r.startedAt,
      },
    );
  });
}
