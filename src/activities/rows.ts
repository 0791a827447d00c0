import { createHash } from 'node:crypto';
import type { gmail_v1 } from '@googleapis/gmail';
import type { AttachmentRow, MessageRow } from '../lake/staging.js';
import { parseAddresses } from '../mime/addresses.js';
import { attachmentParts, findBody, headerValue, partText, treeProblems } from '../mime/content.js';
import { decodeWords } from '../mime/headers.js';
import { type GmailPart, parseMime, partContent } from '../mime/parse.js';

export interface RowContext {
  account: string;
  format: string;
  extractionId: string;
  fetchedAt: number;
  /** ATTACHMENTS=content: the attachments' bytes too (from the raw bytes, or the data a `full` payload carries). */
  attachmentContent?: boolean;
}

/** An attachment's decoded bytes, by their SHA-256 (what attachment rows reference with content_sha256). */
export interface AttachmentContent {
  sha256: string;
  bytes: Buffer;
}

function addresses(value: string | null): string[] {
  return parseAddresses(value).map((a) => a.address);
}

/**
 * Maps one Gmail message resource (any format) to a lake row and its attachment rows. A `raw` message is parsed into
 * the payload tree Gmail's `full` format carries and read from there, so both formats give the same row. Never throws
 * on bad MIME: what cannot be read is named in `parse_error` and the row is stored anyway. `streamed`: the raw bytes
 * of a message streamed into a staged file (see GmailApi.getRawMessage), which the commit reads from there.
 */
export function toRows(
  msg: gmail_v1.Schema$Message,
  ctx: RowContext,
  streamed?: { bytes: Buffer; file: string },
): { message: MessageRow; attachments: AttachmentRow[]; contents: AttachmentContent[] } {
  const problems: string[] = [];
  let payload: GmailPart | undefined;
  const raw = streamed?.bytes ?? (msg.raw ? Buffer.from(msg.raw, 'base64url') : undefined);
  try {
    payload = raw ? parseMime(raw, { omitData: true }).payload : (msg.payload as GmailPart | undefined);
  } catch (e) {
    problems.push(`unparseable message: ${e instanceof Error ? e.message : String(e)}`);
  }
  // Header values as Gmail carries them (encoded words possibly kept): addresses are split before decoding, the
  // rest is decoded for the row.
  const carried = payload?.headers ?? [];
  const headers = carried.map((h) => ({ name: h.name, value: decodeWords(h.value) }));
  const header = (name: string) => headerValue(headers, name);
  const undecoded = (name: string) => headerValue(carried, name);
  const withBody = payload && (ctx.format === 'full' || ctx.format === 'raw') ? payload : undefined;
  if (withBody) {
    treeProblems(withBody, problems);
    if (header('from') === null) problems.push('no From header');
  }
  const textPart = withBody && findBody(withBody, 'plain');
  const htmlPart = withBody && findBody(withBody, 'html');
  const sender = parseAddresses(undecoded('from'))[0];
  const message: MessageRow = {
    account: ctx.account,
    id: msg.id!,
    thread_id: msg.threadId ?? null,
    history_id: msg.historyId ? Number(msg.historyId) : null,
    internal_date: msg.internalDate ? Number(msg.internalDate) : null,
    label_ids: msg.labelIds ?? [],
    snippet: msg.snippet ?? null,
    size_estimate: msg.sizeEstimate ?? null,
    subject: header('subject'),
    from_address: sender?.address ?? null,
    from_name: sender?.name ?? null,
    to_addresses: addresses(undecoded('to')),
    cc_addresses: addresses(undecoded('cc')),
    message_id_header: header('message-id'),
    in_reply_to: header('in-reply-to'),
    references_header: header('references'),
    date_header: header('date'),
    body_text: textPart ? partText(textPart) : null,
    body_html: htmlPart ? partText(htmlPart) : null,
    headers,
    raw: raw && !streamed ? raw.toString('base64') : null,
    raw_file: streamed?.file ?? null,
    raw_sha256: raw ? createHash('sha256').update(raw).digest('hex') : null,
    format: ctx.format,
    fetched_at: ctx.fetchedAt,
    parse_error: problems.length ? problems.join('; ') : null,
    extraction_id: ctx.extractionId,
  };
  const contents = new Map<string, AttachmentContent>();
  /** The part's bytes stored (ATTACHMENTS=content): their SHA-256, or null when not asked or not at hand. */
  const stored = (p: GmailPart): string | null => {
    if (!ctx.attachmentContent) return null;
    const bytes = partContent(p) ?? (p.body.data !== undefined && p.body.data !== null ? Buffer.from(p.body.data, 'base64url') : undefined);
    if (!bytes) return null;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    contents.set(sha256, { sha256, bytes });
    return sha256;
  };
  const attachments: AttachmentRow[] = (withBody ? attachmentParts(withBody) : []).map((p) => ({
    account: ctx.account,
    message_id: msg.id!,
    part_id: p.partId,
    filename: p.filename,
    mime_type: p.mimeType,
    size: p.body.size,
    attachment_id: p.body.attachmentId ?? null,
    content_id: headerValue(p.headers, 'content-id'),
    disposition: headerValue(p.headers, 'content-disposition')?.split(';')[0]!.trim().toLowerCase() ?? null,
    content_sha256: stored(p),
  }));
  return { message, attachments, contents: [...contents.values()] };
}
