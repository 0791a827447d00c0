/**
 * One message, or one thread, read back from the lake: what the reader (GET /messages/{account}/{id}, the /ui reader,
 * the MCP tools) shows, and a message's stored bytes.
 */
import { listValue } from '@duckdb/node-api';
import type { Lake } from './lake.js';

export interface StoredAttachment {
  partId: string;
  filename: string | null;
  mimeType: string | null;
  size: number | null;
  contentId: string | null;
  disposition: string | null;
  /** Whether its bytes are stored (ATTACHMENTS=content): GET …/attachments/{partId} serves them. */
  stored: boolean;
}

export interface StoredMessage {
  account: string;
  id: string;
  threadId: string | null;
  internalDate: string | null;
  labelIds: string[];
  snippet: string | null;
  sizeEstimate: number | null;
  subject: string | null;
  from: { name: string | null; address: string | null };
  to: string[];
  cc: string[];
  messageId: string | null;
  inReplyTo: string | null;
  references: string | null;
  date: string | null;
  headers: { name: string; value: string }[];
  bodyText: string | null;
  bodyHtml: string | null;
  format: string | null;
  parseError: string | null;
  /** True when the stored row holds the message's bytes (format raw): `message/rfc822` can return them. */
  hasRaw: boolean;
  deletedAt: string | null;
  attachments: StoredAttachment[];
}

/** A DuckDB TIMESTAMP as JSON gives it ('2024-01-02 03:04:05', UTC) as ISO 8601. */
export const iso = (ts: string | null) => (ts === null ? null : new Date(`${ts.replace(' ', 'T')}Z`).toISOString());

type Row = Record<string, unknown> & { id: string };

const COLUMNS = `m.account, m.id, m.thread_id, m.internal_date, m.label_ids, m.snippet, m.size_estimate, m.subject, m.from_name,
  m.from_address, m.to_addresses, m.cc_addresses, m.message_id_header, m.in_reply_to, m.references_header, m.date_header,
  m.headers, m.body_text, m.body_html, m.format, m.parse_error, m.raw IS NOT NULL AS has_raw, m.deleted_at`;

async function attachmentsOf(lake: Lake, account: string, ids: string[]): Promise<Map<string, StoredAttachment[]>> {
  if (!ids.length) return new Map();
  const rows = await lake.query<Record<string, unknown> & { message_id: string }>(
    `SELECT message_id, part_id, filename, mime_type, size, content_id, disposition, content_sha256 IS NOT NULL AS stored
      FROM lake.attachments WHERE account = $account AND message_id IN (SELECT unnest($ids::VARCHAR[])) ORDER BY message_id, part_id`,
    { account, ids: listValue(ids) },
  );
  const out = new Map<string, StoredAttachment[]>();
  for (const r of rows) {
    const list = out.get(r.message_id) ?? [];
    list.push({
      partId: r.part_id as string,
      filename: (r.filename as string | null) ?? null,
      mimeType: (r.mime_type as string | null) ?? null,
      size: r.size === null ? null : Number(r.size),
      contentId: (r.content_id as string | null) ?? null,
      disposition: (r.disposition as string | null) ?? null,
      stored: r.stored === true,
    });
    out.set(r.message_id, list);
  }
  return out;
}

function toMessage(r: Row, attachments: StoredAttachment[]): StoredMessage {
  return {
    account: r.account as string,
    id: r.id,
    threadId: (r.thread_id as string | null) ?? null,
    internalDate: iso(r.internal_date as string | null),
    labelIds: (r.label_ids as string[] | null) ?? [],
    snippet: (r.snippet as string | null) ?? null,
    sizeEstimate: r.size_estimate === null ? null : Number(r.size_estimate),
    subject: (r.subject as string | null) ?? null,
    from: { name: (r.from_name as string | null) ?? null, address: (r.from_address as string | null) ?? null },
    to: (r.to_addresses as string[] | null) ?? [],
    cc: (r.cc_addresses as string[] | null) ?? [],
    messageId: (r.message_id_header as string | null) ?? null,
    inReplyTo: (r.in_reply_to as string | null) ?? null,
    references: (r.references_header as string | null) ?? null,
    date: (r.date_header as string | null) ?? null,
    headers: (r.headers as { name: string; value: string }[] | null) ?? [],
    bodyText: (r.body_text as string | null) ?? null,
    bodyHtml: (r.body_html as string | null) ?? null,
    format: (r.format as string | null) ?? null,
    parseError: (r.parse_error as string | null) ?? null,
    hasRaw: r.has_raw === true,
    deletedAt: iso(r.deleted_at as string | null),
    attachments,
  };
}

/** The message, or undefined when the lake has no such message of the account. */
export async function readMessage(lake: Lake, account: string, id: string): Promise<StoredMessage | undefined> {
  const [row] = await lake.query<Row>(`SELECT ${COLUMNS} FROM lake.messages m WHERE m.account = $account AND m.id = $id LIMIT 1`, {
    account,
    id,
  });
  if (!row) return undefined;
  return toMessage(row, (await attachmentsOf(lake, account, [id])).get(id) ?? []);
}

/** The thread's messages, oldest first (empty when the lake has none of it). */
export async function readThread(lake: Lake, account: string, threadId: string): Promise<StoredMessage[]> {
  const rows = await lake.query<Row>(
    `SELECT ${COLUMNS} FROM lake.messages m WHERE m.account = $account AND m.thread_id = $thread
      ORDER BY m.internal_date, m.id LIMIT 1000`,
    { account, thread: threadId },
  );
  const attachments = await attachmentsOf(
    lake,
    account,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toMessage(r, attachments.get(r.id) ?? []));
}

/** The message's stored bytes: a Buffer, `null` when it was stored without them (not format raw), undefined when absent. */
export async function readRaw(lake: Lake, account: string, id: string): Promise<Buffer | null | undefined> {
  const rows = await lake.queryValues(`SELECT raw FROM lake.messages WHERE account = $account AND id = $id LIMIT 1`, { account, id });
  if (!rows.length) return undefined;
  const raw = rows[0]![0] as { bytes: Uint8Array } | null;
  return raw ? Buffer.from(raw.bytes) : null;
}

/** The stored bytes of these messages (those stored with them), by id. */
export async function readRaws(lake: Lake, account: string, ids: string[]): Promise<Map<string, Buffer>> {
  const rows = await lake.queryValues(
    `SELECT id, raw FROM lake.messages WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[])) AND raw IS NOT NULL`,
    { account, ids: listValue(ids) },
  );
  return new Map(rows.map(([id, raw]) => [id as string, Buffer.from((raw as { bytes: Uint8Array }).bytes)]));
}

/** An attachment's metadata and stored bytes (ATTACHMENTS=content). */
export interface AttachmentBytes {
  filename: string | null;
  mimeType: string | null;
  /** null when the part is known but its bytes were not stored. */
  content: Buffer | null;
}

/** A message's attachment by part id: its bytes when stored; undefined when the lake has no such part. */
export async function readAttachment(lake: Lake, account: string, id: string, partId: string): Promise<AttachmentBytes | undefined> {
  const rows = await lake.queryValues(
    `SELECT a.filename, a.mime_type, c.content FROM lake.attachments a
       LEFT JOIN lake.attachment_contents c ON c.account = a.account AND c.sha256 = a.content_sha256
      WHERE a.account = $account AND a.message_id = $id AND a.part_id = $part LIMIT 1`,
    { account, id, part: partId },
  );
  if (!rows.length) return undefined;
  const [filename, mimeType, content] = rows[0]! as [string | null, string | null, { bytes: Uint8Array } | null];
  return { filename, mimeType, content: content ? Buffer.from(content.bytes) : null };
}
