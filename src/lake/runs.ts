import { type DuckDBConnection, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { Lake } from './lake.js';
import { guarded, guardKey, insertGuard } from './write-guard.js';
import type { Checkpoint } from '../workflows/contracts.js';

// An extraction's runs in the lake: their start (with the labels snapshot and the checkpoint to resume from) and end.

/** The newest checkpoint of an extraction that has not completed since, if any. */
async function resumableCheckpoint(conn: DuckDBConnection, account: string, extractionKey: string): Promise<Checkpoint | undefined> {
  const reader = await conn.runAndReadAll(
    `WITH last_done AS (
       SELECT max(event_at) AS at FROM lake.extraction_runs WHERE account = $account AND extraction_key = $key AND event = 'completed')
     SELECT b.* FROM lake.extraction_batches b, last_done
     WHERE b.account = $account AND b.extraction_key = $key AND (last_done.at IS NULL OR b.committed_at > last_done.at)
     ORDER BY b.committed_at DESC, b.persisted DESC LIMIT 1`,
    { account, key: extractionKey },
  );
  const rows = reader.getRowObjectsJson() as Record<string, string | number>[];
  const r = rows[0];
  if (!r) return undefined;
  return {
    account,
    extractionKey,
    workflowId: String(r.workflow_id),
    runId: String(r.run_id),
    batchId: String(r.batch_id),
    pageToken: String(r.page_token ?? ''),
    historyId: String(r.history_id ?? ''),
    listed: Number(r.listed),
    persisted: Number(r.persisted),
    skipped: Number(r.skipped),
    failed: Number(r.failed),
  };
}

/** A row of extraction_runs: an extraction's run started, completed, failed or was canceled. */
type RunRecord = { account: string; extractionKey: string; workflowId: string; runId: string; event: string; detail?: string };

const insertRun = (conn: DuckDBConnection, r: RunRecord) =>
  conn.run(`INSERT INTO lake.extraction_runs VALUES ($account, $key, $wf, $run, $event, $detail, now()::TIMESTAMP)`, {
    account: r.account,
    key: r.extractionKey,
    wf: r.workflowId,
    run: r.runId,
    event: r.event,
    detail: r.detail ?? null,
  });

/** Appends a run record (completed, failed, canceled). */
export async function recordRun(lake: Lake, r: RunRecord): Promise<void> {
  await lake.write((conn) => insertRun(conn, r));
}

/**
 * An extraction run begins, in one lake transaction (one commit where a fleet of small mailboxes would queue four
 * per mailbox behind each other): the account's write_guard row is made sure of (committed before any batch of the
 * run, as `guardedWrite` needs), its labels snapshot replaced, the checkpoint to resume from (if any) read, and the
 * `started` record appended.
 */
export async function startRun(
  lake: Lake,
  r: Omit<RunRecord, 'event' | 'detail'>,
  labels: { id: string; name: string; type: string }[],
): Promise<Checkpoint | undefined> {
  const checkpoint = await lake.write(async (conn) => {
    await insertGuard(conn, r.account);
    await replaceLabels(conn, r.account, labels);
    const checkpoint = await resumableCheckpoint(conn, r.account, r.extractionKey);
    await insertRun(conn, { ...r, event: 'started', detail: checkpoint ? `resuming at ${checkpoint.persisted}` : undefined });
    return checkpoint;
  });
  guarded.add(guardKey(lake, r.account));
  return checkpoint;
}

/** Labels as one comparable string (order-free): two lists with equal keys name the same labels, with the same names and types. */
export function labelsKey(labels: { id: string; name: string; type: string }[]): string {
  return JSON.stringify(labels.map((l) => [l.id, l.name, l.type]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)));
}

/**
 * Whether the account's current labels snapshot holds exactly `labels` as Gmail answers them (the labels an import
 * created aside, which every snapshot keeps): then writing them again would change nothing. One read, whoever wrote
 * the snapshot last.
 */
export async function snapshotHolds(lake: Lake, account: string, labels: { id: string; name: string; type: string }[]): Promise<boolean> {
  const stored = await lake.query<{ id: string; name: string; type: string }>(
    `SELECT id, name, type FROM ${CURRENT_LABELS} WHERE type <> 'imported'`,
    { account },
  );
  return labelsKey(stored) === labelsKey(labels.filter((l) => l.type !== 'imported'));
}

/** Replaces the labels snapshot of an account. */
export async function storeLabels(lake: Lake, account: string, labels: { id: string; name: string; type: string }[]): Promise<void> {
  await lake.write((conn) => replaceLabels(conn, account, labels));
}

/** The account's labels (bound `$account`) as last saved: its latest snapshot. */
export const CURRENT_LABELS = `(SELECT * FROM lake.labels WHERE account = $account
     AND fetched_at = (SELECT max(fetched_at) FROM lake.labels WHERE account = $account))`;

/** Inside the caller's transaction: the account's labels snapshot becomes `labels`. */
export async function replaceLabels(
  conn: DuckDBConnection,
  account: string,
  given: { id: string; name: string; type: string }[],
): Promise<void> {
  // Labels an import created (type `imported`: names from an mbox that Gmail does not have) stay in every snapshot.
  const ids = new Set(given.map((l) => l.id));
  const kept = await conn.runAndReadAll(`SELECT id, name, type FROM ${CURRENT_LABELS} WHERE type = 'imported'`, { account });
  const labels = [
    ...given,
    ...kept
      .getRows()
      .map(([id, name, type]) => ({ id: String(id), name: String(name), type: String(type) }))
      .filter((l) => !ids.has(l.id)),
  ];
  await conn.run(`DELETE FROM lake.labels WHERE account = $account`, { account });
  if (labels.length === 0) return;
  // One statement for the whole snapshot (typed lists, every value bound): a row per INSERT cost a fleet's shared
  // lake a statement per label per mailbox.
  await conn.run(
    `INSERT INTO lake.labels SELECT $account, unnest($ids), unnest($names), unnest($types), now()::TIMESTAMP`,
    {
      account,
      ids: listValue(labels.map((l) => l.id)),
      names: listValue(labels.map((l) => l.name)),
      types: listValue(labels.map((l) => l.type)),
    },
    { ids: LIST(VARCHAR), names: LIST(VARCHAR), types: LIST(VARCHAR) },
  );
}
