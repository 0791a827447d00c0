import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';

// A batch on its way from Gmail to the lake: rows written as JSON lines in the worker's staging folder by the fetch,
// read back by DuckDB's read_json in the commit (batches.ts).

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
  /** base64 of the raw bytes (format=raw only), unless they are in `raw_file`. */
  raw: string | null;
  /** The staged file holding the raw bytes (format=raw, streamed); never a lake column. */
  raw_file?: string | null;
  /** Hex SHA-256 of the raw bytes (null without them). */
  raw_sha256: string | null;
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
  /** SHA-256 of the part's bytes when they are stored (ATTACHMENTS=content). */
  content_sha256: string | null;
}

export const MESSAGE_COLUMNS: [string, string, string?][] = [
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
  ['raw_sha256', 'VARCHAR'],
  ['format', 'VARCHAR'],
  ['fetched_at', 'BIGINT', 'epoch_ms(s.fetched_at)::TIMESTAMP'],
  ['parse_error', 'VARCHAR'],
  ['extraction_id', 'VARCHAR'],
];
export const ATTACHMENT_COLUMNS: [string, string][] = [
  ['account', 'VARCHAR'],
  ['message_id', 'VARCHAR'],
  ['part_id', 'VARCHAR'],
  ['filename', 'VARCHAR'],
  ['mime_type', 'VARCHAR'],
  ['size', 'BIGINT'],
  ['attachment_id', 'VARCHAR'],
  ['content_id', 'VARCHAR'],
  ['disposition', 'VARCHAR'],
  ['content_sha256', 'VARCHAR'],
];
/** A staged attachment's bytes: a file of the batch's folder, loaded once per (account, sha256). */
export const CONTENT_COLUMNS: [string, string][] = [
  ['account', 'VARCHAR'],
  ['sha256', 'VARCHAR'],
  ['size', 'BIGINT'],
  ['file', 'VARCHAR'],
];

/** The staged message columns: the lake's, and where a streamed message's raw bytes are. */
export const STAGED_MESSAGE_COLUMNS: [string, string, string?][] = [...MESSAGE_COLUMNS, ['raw_file', 'VARCHAR']];

/** DuckDB's limit for one JSON value (maximum_object_size) by default: its read buffer is twice it. */
const DEFAULT_OBJECT_LIMIT = 16 * 1024 * 1024;

/**
 * `read_json` of a staged file whose path is the bound parameter `$<param>` (never spliced into the SQL). `longest`:
 * the file's longest line (see `longestLine`); above DuckDB's 16 MB default the limit is raised to fit it (a message
 * whose text or HTML body is most of Gmail's 25 MB), and DuckDB then reads with a buffer twice that size.
 */
export function readJson(param: string, columns: [string, string, string?][], longest = 0): string {
  const spec = columns.map(([n, t]) => `${n}: '${t}'`).join(', ');
  const limit = longest < DEFAULT_OBJECT_LIMIT ? '' : `, maximum_object_size = ${2 ** Math.ceil(Math.log2(longest + 1))}`;
  return `read_json($${param}, format = 'newline_delimited'${limit}, columns = {${spec}})`;
}

/** The longest line of a staged batch's files in bytes (0 when unknown: staged before this was recorded). */
export async function longestLine(dir: string): Promise<number> {
  return Number(await readFile(join(dir, LONGEST), 'utf8').catch(() => '0')) || 0;
}
const LONGEST = 'longest-line';
/**
 * The staged messages' keys, one short line each: what the commit checks, plans and clears by, without parsing the
 * rows (tens of KB each) more than the once that inserts them.
 */
export const IDS = 'ids.ndjson';
export const ID_COLUMNS: [string, string][] = [
  ['account', 'VARCHAR'],
  ['id', 'VARCHAR'],
  ['raw_file', 'VARCHAR'],
  ['size_estimate', 'BIGINT'],
];
/** The staged attachments' bytes: one line per file (see CONTENT_COLUMNS). */
export const CONTENTS = 'contents.ndjson';

/** Lines gathered before they are written: one write per ~256 KB rather than one per row (a syscall each). */
const WRITE_CHUNK = 256 * 1024;

/** JSON-lines writer with backpressure, writing lines in chunks. */
class LineWriter {
  private readonly out: WriteStream;
  constructor(path: string) {
    this.out = createWriteStream(path);
  }
  private drained: Promise<unknown> | undefined;
  private pending: string[] = [];
  private pendingLength = 0;
  /** The longest line written, in bytes. */
  longest = 0;
  /** Concurrent writers share one wait for 'drain' (one listener, not one per writer). */
  async write(item: unknown): Promise<void> {
    if (this.drained) await this.drained;
    const line = JSON.stringify(item) + '\n';
    // UTF-16 length bounds the bytes from below, and at most triples: measured only when it may set the record.
    if (line.length * 3 > this.longest) this.longest = Math.max(this.longest, Buffer.byteLength(line));
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength >= WRITE_CHUNK && !this.flush()) {
      this.drained ??= once(this.out, 'drain').finally(() => (this.drained = undefined));
      await this.drained;
    }
  }
  /** Writes the gathered lines; false when the stream asks to wait for 'drain'. */
  private flush(): boolean {
    if (!this.pending.length) return true;
    const chunk = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    return this.out.write(chunk);
  }
  async close(): Promise<void> {
    this.flush();
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
  const ids = new LineWriter(join(dir, IDS));
  const attachments = new LineWriter(join(dir, 'attachments.ndjson'));
  const contents = new LineWriter(join(dir, CONTENTS));
  const written = new Set<string>();
  return {
    dir,
    async message(row: MessageRow): Promise<void> {
      await ids.write({ account: row.account, id: row.id, raw_file: row.raw_file ?? null, size_estimate: row.size_estimate });
      await messages.write(row);
    },
    attachment: (row: AttachmentRow) => attachments.write(row),
    /** An attachment's bytes (ATTACHMENTS=content), written once per SHA-256 however many parts carry them. */
    async content(account: string, c: { sha256: string; bytes: Buffer }): Promise<void> {
      if (written.has(c.sha256)) return;
      written.add(c.sha256);
      const file = join(dir, `c-${c.sha256}.bin`);
      await writeFile(file, c.bytes);
      await contents.write({ account, sha256: c.sha256, size: c.bytes.length, file });
    },
    async close(): Promise<string> {
      await Promise.all([messages.close(), ids.close(), attachments.close(), contents.close()]);
      await writeFile(join(dir, LONGEST), String(Math.max(messages.longest, attachments.longest)));
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

/**
 * Removes a batch's staging. Retried (Node's own retry of ENOTEMPTY and EBUSY): a fetch aborted by a cancel or a
 * worker's shutdown may still create its file while the folder is being removed, and the removal then met a folder
 * that was no longer empty ("ENOTEMPTY: directory not empty, rmdir", seen once in CI on Ctrl-C of `npm start`).
 */
export async function dropStaged(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}
