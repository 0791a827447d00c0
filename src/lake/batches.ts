import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, type DuckDBListValue, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { Lake } from './lake.js';
import {
  ATTACHMENT_COLUMNS,
  CONTENT_COLUMNS,
  CONTENTS,
  ID_COLUMNS,
  IDS,
  longestLine,
  MESSAGE_COLUMNS,
  readJson,
  STAGED_MESSAGE_COLUMNS,
} from './staging.js';
import { guardedWrite } from './write-guard.js';
import type { Checkpoint } from '../workflows/contracts.js';

// A staged batch committed to the lake exactly once: the ids checked, the messages not stored yet inserted with their
// attachments and the checkpoint, in one guarded transaction.

/** Thrown when a staged batch holds ids the workflow did not ask for (a stale or foreign batch): never loaded. */
export class StagedBatchMismatch extends Error {
  override name = 'StagedBatchMismatch';
}

/** The subset of `ids` already stored for `account` (one probe; the lake answers from file statistics). */
export async function storedIds(lake: Lake, account: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await lake.query<{ id: string }>(
    `SELECT DISTINCT id FROM lake.messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))`,
    {
      account,
      ids: listValue(ids),
    },
  );
  return new Set(rows.map((r) => r.id));
}

/** What an earlier attempt of a batch committed, read back from the lake (see `committedAttempt`). */
export interface CommittedAttempt {
  inserted: number;
  /** Of the batch's ids: rows the earlier attempt inserted that carry a parse_error. */
  malformed: number;
  /** Of the batch's ids: stored (by it or before it). */
  stored: number;
  /** Of the batch's ids: quarantined in failed_messages. */
  failed: number;
}

/**
 * Whether an earlier attempt of this batch (same workflow run and batch id) committed — its checkpoint row is written
 * in the same transaction as its rows — and what it inserted. An attempt whose commit succeeded but whose completion
 * never reached Temporal (a worker killed, a server down at that moment) is re-run: this lets the re-run report what
 * the earlier one did, so the counts equal the lake instead of counting its rows `present`.
 */
export async function committedAttempt(
  lake: Lake,
  account: string,
  at: { workflowId: string; runId: string; batchId: string },
  ids: string[],
): Promise<CommittedAttempt | undefined> {
  const [row] = await lake.query<{ inserted: bigint; committed_at: string }>(
    `SELECT inserted, committed_at::VARCHAR AS committed_at FROM lake.extraction_batches
     WHERE account = $account AND workflow_id = $wf AND run_id = $run AND batch_id = $batch LIMIT 1`,
    { account, wf: at.workflowId, run: at.runId, batch: at.batchId },
  );
  if (!row) return undefined;
  const [counts] = await lake.query<{ stored: bigint; malformed: bigint; failed: bigint }>(
    `SELECT
       (SELECT count(DISTINCT id) FROM lake.messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))) AS stored,
       (SELECT count(DISTINCT id) FROM lake.messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))
          AND parse_error IS NOT NULL AND first_seen_at = $at::TIMESTAMP) AS malformed,
       (SELECT count(DISTINCT id) FROM lake.failed_messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))) AS failed`,
    { account, ids: listValue(ids), at: row.committed_at },
  );
  return {
    inserted: Number(row.inserted),
    malformed: Number(counts?.malformed ?? 0),
    stored: Number(counts?.stored ?? 0),
    failed: Number(counts?.failed ?? 0),
  };
}

/** A message Gmail refused through every attempt of its batch: recorded in failed_messages (see sql/schema.sql). */
export interface MessageFailure {
  id: string;
  format: string;
  status: number;
  reason: string;
}

/**
 * Commits a staged batch in one transaction: messages whose (account, id) is not in the lake yet, their attachments,
 * the checkpoint row, and a bump of the account's write_guard row. The staged ids are first checked against
 * `expected` (what the workflow asked for): a batch with any other id is refused, never loaded. Exactly once across
 * processes: a concurrent transaction of the same account makes DuckLake refuse one commit, which `lake.write` runs
 * again, and the re-run sees the other's ids and skips them. Returns the rows it really inserted.
 */
export async function persistStaged(
  lake: Lake,
  dir: string,
  checkpoint: Checkpoint,
  expected?: string[],
  failures: MessageFailure[] = [],
): Promise<{ inserted: number; staged: number }> {
  const stagedIds = await lake.query<{ id: string; account: string }>(`SELECT id, account FROM ${readJson('m', ID_COLUMNS)}`, {
    m: join(dir, IDS),
  });
  if (expected) {
    const want = new Set(expected);
    const foreign = stagedIds.filter((r) => !want.has(r.id) || r.account !== checkpoint.account);
    if (foreign.length)
      throw new StagedBatchMismatch(
        `staged batch ${checkpoint.batchId} holds ${foreign.length} message(s) not asked for (e.g. ${foreign[0]!.account}/${foreign[0]!.id})`,
      );
  }
  const result = await guardedWrite(lake, checkpoint.account, async (conn) => {
    const inserted = await insertStaged(conn, dir, checkpoint.account);
    await recordFailures(conn, dir, checkpoint.account, failures);
    await conn.run(
      `INSERT INTO lake.extraction_batches VALUES ($account, $key, $wf, $run, $batch, $page, $hist, $listed, $persisted, $skipped, $failed, $inserted, now()::TIMESTAMP)`,
      {
        account: checkpoint.account,
        key: checkpoint.extractionKey,
        wf: checkpoint.workflowId,
        run: checkpoint.runId,
        batch: checkpoint.batchId,
        page: checkpoint.pageToken,
        hist: checkpoint.historyId,
        listed: checkpoint.listed,
        persisted: checkpoint.persisted,
        skipped: checkpoint.skipped,
        failed: checkpoint.failed,
        inserted,
      },
    );
    return { inserted };
  });
  return { inserted: result.inserted, staged: stagedIds.length };
}

/**
 * Inside the caller's transaction: the quarantine rows of the messages now staged go (they are stored), and each of
 * `failures` is recorded — its first failure kept, its attempts counted up — so failed_messages holds exactly the
 * messages refused and not stored.
 */
async function recordFailures(conn: DuckDBConnection, dir: string, account: string, failures: MessageFailure[]): Promise<void> {
  const failed = listValue(failures.map((f) => f.id));
  const types = { failed: LIST(VARCHAR) };
  const earlier = new Map<string, { first: string; attempts: number }>();
  if (!failures.length) {
    // The common case: nothing refused in this batch, and nothing of the account in quarantine to clear.
    const held = await conn.runAndReadAll(`SELECT count(*) FROM lake.failed_messages WHERE account = $account`, { account });
    if (Number(held.getRows()[0]?.[0] ?? 0) === 0) return;
  } else {
    const rows = await conn.runAndReadAll(
      `SELECT id, first_failed_at::VARCHAR, attempts FROM lake.failed_messages WHERE account = $account AND list_contains($failed, id)`,
      { account, failed },
      types,
    );
    for (const [id, first, attempts] of rows.getRows()) earlier.set(String(id), { first: String(first), attempts: Number(attempts) });
  }
  await conn.run(
    `DELETE FROM lake.failed_messages WHERE account = $account
       AND (list_contains($failed, id) OR id IN (SELECT id FROM ${readJson('m', ID_COLUMNS)}))`,
    { account, failed, m: join(dir, IDS) },
    types,
  );
  for (const f of failures) {
    const before = earlier.get(f.id);
    await conn.run(
      `INSERT INTO lake.failed_messages VALUES ($account, $id, $format, COALESCE($first::TIMESTAMP, now()::TIMESTAMP), now()::TIMESTAMP, $attempts, $status, $reason)`,
      {
        account,
        id: f.id,
        format: f.format,
        first: before?.first ?? null,
        attempts: (before?.attempts ?? 0) + 1,
        status: f.status,
        reason: f.reason,
      },
      { first: VARCHAR },
    );
  }
}

/**
 * Inserts, inside the caller's transaction, the staged messages of `dir` whose (account, id) the lake does not hold
 * yet, with their attachments; returns the rows inserted. `first_seen_at` is the commit time. Which ids are stored and
 * how the insert goes are read from the batch's keys (ids.ndjson), not from its rows. Messages go in slices of at most
 * INSERT_SLICE_BYTES of raw bytes (one statement each, one transaction for all): a batch of large messages is never
 * loaded into DuckDB at once. Raw bytes streamed to files are read from there (read_blob).
 *
 * A batch of small rows and no raw files (`full`, `metadata`: the common case) is inserted straight from its JSON
 * lines, parsed once. Any other is first read into a temporary table: DuckDB's JSON reader holds buffers of twice the
 * longest line, and beside a 35 MB blob in one statement they took a commit past DuckDB's default memory limit
 * (measured: a 34 MB message failed at 256 MB with read_json in its statement and commits with the table).
 * `sameBytes`: a message whose raw bytes the account already holds (same raw_sha256, under any id) is not inserted
 * either (imports).
 */
export async function insertStaged(conn: DuckDBConnection, dir: string, account: string, sameBytes = false): Promise<number> {
  const longest = await longestLine(dir);
  const a = readJson('a', ATTACHMENT_COLUMNS, longest);
  const files = { m: join(dir, 'messages.ndjson'), a: join(dir, 'attachments.ndjson') };
  // The batch's keys, read once: its ids, where their raw bytes are, how large they are.
  const keys = (
    await conn.runAndReadAll(`SELECT id, raw_file, coalesce(size_estimate, 0) FROM ${readJson('keys', ID_COLUMNS)}`, {
      keys: join(dir, IDS),
    })
  )
    .getRows()
    .map(([id, file, size]) => ({ id: String(id), file: file === null ? null : String(file), size: Number(size) }));
  /** The staged ids the account holds already (`staged`: the rows' table, which an import's probe by bytes needs). */
  const storedOf = async (staged?: string): Promise<string[]> => {
    const probe = await conn.runAndReadAll(
      sameBytes
        ? `SELECT s.id FROM ${staged} s
           WHERE s.id IN (SELECT l.id FROM lake.messages l WHERE l.account = $account AND l.id IN (SELECT id FROM ${staged}))
              OR s.raw_sha256 IN (SELECT l.raw_sha256 FROM lake.messages l
                                  WHERE l.account = $account AND l.raw_sha256 IN (SELECT raw_sha256 FROM ${staged}))`
        : `SELECT DISTINCT l.id FROM lake.messages l WHERE l.account = $account AND l.id IN (SELECT unnest($ids))`,
      { account, ...(sameBytes ? {} : { ids: listValue(keys.map((k) => k.id)) }) },
      sameBytes ? {} : { ids: LIST(VARCHAR) },
    );
    return probe.getRows().map(([id]) => String(id));
  };
  // Every value bound: the staged files' paths and the ids already stored (a typed list, possibly empty).
  const types = { stored: LIST(VARCHAR) };
  const attachmentsAndContents = async (stored: DuckDBListValue) => {
    await conn.run(
      `INSERT INTO lake.attachments SELECT ${ATTACHMENT_COLUMNS.map(([n]) => `a.${n}`).join(', ')} FROM ${a} a
       WHERE NOT list_contains($stored, a.message_id)`,
      { a: files.a, stored },
      types,
    );
    await insertContents(conn, dir, account, stored, a);
  };
  const columns = MESSAGE_COLUMNS.map(([n]) => n).join(', ');
  if (!sameBytes && longest < DIRECT_LINE_BYTES && keys.every((k) => k.file === null) && slices(keys).length <= 1) {
    const ids = await storedOf();
    const stored = listValue(ids);
    await attachmentsAndContents(stored);
    if (ids.length === new Set(keys.map((k) => k.id)).size) return 0; // every staged id is stored
    const result = await conn.run(
      `INSERT INTO lake.messages (${columns}, first_seen_at)
       SELECT ${MESSAGE_COLUMNS.map(([n, , expr]) => expr ?? `s.${n}`).join(', ')}, now()::TIMESTAMP
       FROM ${readJson('m', MESSAGE_COLUMNS, longest)} s WHERE NOT list_contains($stored, s.id)`,
      { m: files.m, stored },
      types,
    );
    return Number(result.rowsChanged);
  }
  const staged = `staged_${randomBytes(8).toString('hex')}`;
  await conn.run(`CREATE TEMP TABLE ${staged} AS SELECT * FROM ${readJson('m', STAGED_MESSAGE_COLUMNS, longest)}`, { m: files.m });
  try {
    const ids = new Set(await storedOf(staged));
    await attachmentsAndContents(listValue([...ids]));
    let inserted = 0;
    for (const slice of slices(keys.filter((k) => !ids.has(k.id)))) {
      const blobs = slice.map((r) => r.file).filter((f): f is string => f !== null);
      const values = MESSAGE_COLUMNS.map(([n, , expr]) =>
        n === 'raw' && blobs.length ? 'coalesce(from_base64(s.raw), b.content)' : (expr ?? `s.${n}`),
      );
      const result = await conn.run(
        `INSERT INTO lake.messages (${columns}, first_seen_at)
         SELECT ${values.join(', ')}, now()::TIMESTAMP FROM ${staged} s
         ${blobs.length ? 'LEFT JOIN read_blob($blobs) b ON b.filename = s.raw_file' : ''}
         WHERE list_contains($ids, s.id)`,
        { ids: listValue(slice.map((r) => r.id)), ...(blobs.length ? { blobs: listValue(blobs) } : {}) },
        { ids: LIST(VARCHAR), ...(blobs.length ? { blobs: LIST(VARCHAR) } : {}) },
      );
      inserted += Number(result.rowsChanged);
    }
    return inserted;
  } finally {
    // Gone with the transaction when it rolls back; dropped here when it goes on.
    await conn.run(`DROP TABLE IF EXISTS ${staged}`).catch(() => undefined);
  }
}

/** The longest staged line a batch inserted straight from its JSON lines may have (see insertStaged). */
const DIRECT_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Inside the caller's transaction: the staged attachments' bytes (ATTACHMENTS=content) that the inserted messages'
 * attachments reference and the account does not hold yet, one row per SHA-256, in slices of INSERT_SLICE_BYTES.
 */
async function insertContents(conn: DuckDBConnection, dir: string, account: string, stored: DuckDBListValue, attachments: string) {
  const file = join(dir, CONTENTS);
  // Nothing staged (ATTACHMENTS=content off, or no attachment): no statement, which would cost the lake's writer as
  // much as one that finds something (each reads the catalog: ~12–45 ms).
  if (!existsSync(file) || statSync(file).size === 0) return;
  const c = readJson('c', CONTENT_COLUMNS);
  const types = { stored: LIST(VARCHAR) };
  const wanted = await conn.runAndReadAll(
    `SELECT c.sha256, c.file, c.size FROM ${c} c
     WHERE c.sha256 IN (SELECT a.content_sha256 FROM ${attachments} a WHERE NOT list_contains($stored, a.message_id))
       AND c.sha256 NOT IN (SELECT sha256 FROM lake.attachment_contents WHERE account = $account)`,
    { c: file, a: join(dir, 'attachments.ndjson'), stored, account },
    types,
  );
  const rows = wanted.getRows().map(([sha, f, size]) => ({ sha: String(sha), file: String(f), size: Number(size) }));
  for (const slice of slices(rows)) {
    await conn.run(
      `INSERT INTO lake.attachment_contents
       SELECT $account, c.sha256, c.size, b.content, now()::TIMESTAMP FROM ${c} c JOIN read_blob($files) b ON b.filename = c.file
       WHERE list_contains($shas, c.sha256)`,
      { account, c: file, files: listValue(slice.map((r) => r.file)), shas: listValue(slice.map((r) => r.sha)) },
      { files: LIST(VARCHAR), shas: LIST(VARCHAR) },
    );
  }
}

/** Raw bytes one INSERT of messages loads at most (a larger message goes alone): DuckDB holds a few copies of them. */
const INSERT_SLICE_BYTES = 32 * 1024 * 1024;

/** Consecutive slices of `rows` whose sizes sum to at most INSERT_SLICE_BYTES (each holds at least one). */
function slices<T extends { size: number }>(rows: T[]): T[][] {
  const out: T[][] = [];
  let bytes = Infinity;
  for (const r of rows) {
    if (bytes + r.size > INSERT_SLICE_BYTES) {
      out.push([]);
      bytes = 0;
    }
    out.at(-1)!.push(r);
    bytes += r.size;
  }
  return out;
}
