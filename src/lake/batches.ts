import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { type DuckDBConnection, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { Lake } from './lake.js';
import type { Checkpoint } from '../workflows/contracts.js';

/** A message row as staged by fetch (JSON lines) and loaded by persist; see sql/schema.sql for meanings. */
export interface MessageRow {
  account: string;
  id: string;
  thread_id: string | null;
  history_id: number | null;
  internal_date: number | null;
  label_ids: string[];
  snippet: string | null;
  size_estimate: number | null;
  subject: string | null;
  from_address: string | null;
  from_name: string | null;
  to_addresses: string[];
  cc_addresses: string[];
  message_id_header: string | null;
  in_reply_to: string | null;
  references_header: string | null;
  date_header: string | null;
  body_text: string | null;
  body_html: string | null;
  headers: { name: string; value: string }[];
  /** base64 of the raw bytes (format=raw only). */
  raw: string | null;
  format: string;
  fetched_at: number;
  parse_error: string | null;
  extraction_id: string;
}

export interface AttachmentRow {
  account: string;
  message_id: string;
  part_id: string;
  filename: string;
  mime_type: string;
  size: number;
  attachment_id: string | null;
  content_id: string | null;
  disposition: string | null;
}

const MESSAGE_COLUMNS: [string, string, string?][] = [
  ['account', 'VARCHAR'],
  ['id', 'VARCHAR'],
  ['thread_id', 'VARCHAR'],
  ['history_id', 'BIGINT'],
  ['internal_date', 'BIGINT', 'epoch_ms(s.internal_date)::TIMESTAMP'],
  ['label_ids', 'VARCHAR[]'],
  ['snippet', 'VARCHAR'],
  ['size_estimate', 'BIGINT'],
  ['subject', 'VARCHAR'],
  ['from_address', 'VARCHAR'],
  ['from_name', 'VARCHAR'],
  ['to_addresses', 'VARCHAR[]'],
  ['cc_addresses', 'VARCHAR[]'],
  ['message_id_header', 'VARCHAR'],
  ['in_reply_to', 'VARCHAR'],
  ['references_header', 'VARCHAR'],
  ['date_header', 'VARCHAR'],
  ['body_text', 'VARCHAR'],
  ['body_html', 'VARCHAR'],
  ['headers', 'STRUCT(name VARCHAR, value VARCHAR)[]'],
  ['raw', 'VARCHAR', 'from_base64(s.raw)'],
  ['format', 'VARCHAR'],
  ['fetched_at', 'BIGINT', 'epoch_ms(s.fetched_at)::TIMESTAMP'],
  ['parse_error', 'VARCHAR'],
  ['extraction_id', 'VARCHAR'],
];
const ATTACHMENT_COLUMNS: [string, string][] = [
  ['account', 'VARCHAR'],
  ['message_id', 'VARCHAR'],
  ['part_id', 'VARCHAR'],
  ['filename', 'VARCHAR'],
  ['mime_type', 'VARCHAR'],
  ['size', 'BIGINT'],
  ['attachment_id', 'VARCHAR'],
  ['content_id', 'VARCHAR'],
  ['disposition', 'VARCHAR'],
];

/** `read_json` of a staged file whose path is the bound parameter `$<param>` (never spliced into the SQL). */
function readJson(param: string, columns: [string, string, string?][]): string {
  const spec = columns.map(([n, t]) => `${n}: '${t}'`).join(', ');
  return `read_json($${param}, format = 'newline_delimited', columns = {${spec}})`;
}

/** JSON-lines writer with backpressure. */
class LineWriter {
  private readonly out: WriteStream;
  constructor(path: string) {
    this.out = createWriteStream(path);
  }
  private drained: Promise<unknown> | undefined;
  /** Concurrent writers share one wait for 'drain' (one listener, not one per writer). */
  async write(item: unknown): Promise<void> {
    if (this.drained) await this.drained;
    if (!this.out.write(JSON.stringify(item) + '\n')) {
      this.drained ??= once(this.out, 'drain').finally(() => (this.drained = undefined));
      await this.drained;
    }
  }
  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

/**
 * A batch being staged: rows are written as they are fetched (a batch is never held in memory whole). The messages
 * file is renamed into place on close, so a half-written batch is never taken for a staged one.
 */
export async function openStagedBatch(dir: string) {
  await mkdir(dir, { recursive: true });
  const messages = new LineWriter(join(dir, 'messages.ndjson.part'));
  const attachments = new LineWriter(join(dir, 'attachments.ndjson'));
  return {
    dir,
    message: (row: MessageRow) => messages.write(row),
    attachment: (row: AttachmentRow) => attachments.write(row),
    async close(): Promise<string> {
      await Promise.all([messages.close(), attachments.close()]);
      await rename(join(dir, 'messages.ndjson.part'), join(dir, 'messages.ndjson'));
      return dir;
    },
  };
}

/** Stages a whole batch at once (benchmarks and tests). */
export async function stageBatch(dir: string, messages: MessageRow[], attachments: AttachmentRow[]): Promise<string> {
  const batch = await openStagedBatch(dir);
  for (const a of attachments) await batch.attachment(a);
  for (const m of messages) await batch.message(m);
  return batch.close();
}

export async function dropStaged(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

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

const guarded = new Set<string>();
/** Makes sure the account has its write_guard row (its own transaction, so later batches conflict on a committed row). */
async function ensureGuard(lake: Lake, account: string): Promise<void> {
  const key = guardKey(lake, account);
  if (guarded.has(key)) return;
  await lake.write((conn) => insertGuard(conn, account));
  guarded.add(key);
}

const guardKey = (lake: Lake, account: string) => `${lake.config.catalogPath}|${lake.config.pgDsn}|${account}`;

const insertGuard = (conn: DuckDBConnection, account: string) =>
  conn.run(`INSERT INTO lake.write_guard SELECT $account, 0 WHERE NOT EXISTS (SELECT 1 FROM lake.write_guard WHERE account = $account)`, {
    account,
  });

/**
 * Runs `fn` in one lake transaction that first bumps the account's write_guard row. Every transaction that changes an
 * account's messages goes through here: DuckLake then refuses the later of two concurrent ones of that account, and
 * `lake.write` runs it again against what the other committed (so `fn` must read what it depends on inside it).
 */
export async function guardedWrite<T>(lake: Lake, account: string, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  await ensureGuard(lake, account);
  return lake.write(async (conn) => {
    await conn.run(`UPDATE lake.write_guard SET seq = seq + 1 WHERE account = $account`, { account });
    return fn(conn);
  });
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
): Promise<{ inserted: number; staged: number }> {
  const stagedIds = await lake.query<{ id: string; account: string }>(`SELECT id, account FROM ${readJson('m', MESSAGE_COLUMNS)}`, {
    m: join(dir, 'messages.ndjson'),
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
 * Inserts, inside the caller's transaction, the staged messages of `dir` whose (account, id) the lake does not hold
 * yet, with their attachments; returns the rows inserted. `first_seen_at` is the commit time.
 */
export async function insertStaged(conn: DuckDBConnection, dir: string, account: string): Promise<number> {
  const m = readJson('m', MESSAGE_COLUMNS);
  const a = readJson('a', ATTACHMENT_COLUMNS);
  const files = { m: join(dir, 'messages.ndjson'), a: join(dir, 'attachments.ndjson') };
  const probe = await conn.runAndReadAll(
    `SELECT DISTINCT l.id FROM lake.messages l WHERE l.account = $account AND l.id IN (SELECT id FROM ${m})`,
    { account, m: files.m },
  );
  // Every value bound: the staged files' paths and the ids already stored (a typed list, possibly empty).
  const stored = listValue(probe.getRows().map(([id]) => String(id)));
  const types = { stored: LIST(VARCHAR) };
  await conn.run(
    `INSERT INTO lake.attachments SELECT ${ATTACHMENT_COLUMNS.map(([n]) => `a.${n}`).join(', ')} FROM ${a} a
     WHERE NOT list_contains($stored, a.message_id)`,
    { a: files.a, stored },
    types,
  );
  const result = await conn.run(
    `INSERT INTO lake.messages (${MESSAGE_COLUMNS.map(([n]) => n).join(', ')}, first_seen_at)
     SELECT ${MESSAGE_COLUMNS.map(([n, , expr]) => expr ?? `s.${n}`).join(', ')}, now()::TIMESTAMP FROM ${m} s
     WHERE NOT list_contains($stored, s.id)`,
    { m: files.m, stored },
    types,
  );
  return Number(result.rowsChanged);
}

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

/** Replaces the labels snapshot of an account. */
export async function storeLabels(lake: Lake, account: string, labels: { id: string; name: string; type: string }[]): Promise<void> {
  await lake.write((conn) => replaceLabels(conn, account, labels));
}

async function replaceLabels(conn: DuckDBConnection, account: string, labels: { id: string; name: string; type: string }[]): Promise<void> {
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
