import type { gmail_v1 } from 'googleapis/build/src/apis/gmail/index.js';
import type { AttachmentRow, MessageRow } from '../lake/batches.js';
import { parseAddresses } from '../mime/addresses.js';
import { type GmailHeader, type GmailPart, leafText, parseMime, type ParsedLeaf } from '../mime/parse.js';
import iconv from 'iconv-lite';
import libmime from 'libmime';

export interface RowContext {
  account: string;
  format: string;
  extractionId: string;
  fetchedAt: number;
}

function header(headers: GmailHeader[], name: string): string | null {
  return headers.find((h) => h.name.toLowerCase() === name)?.value ?? null;
}

function addresses(value: string | null): string[] {
  return parseAddresses(value).map((a) => a.address);
}

/** Leaves of Gmail's `full` payload, with their transfer-decoded bytes. */
function leavesOfPayload(part: GmailPart, out: ParsedLeaf[] = [], problems: string[] = []): ParsedLeaf[] {
  if (part.mimeType.startsWith('multipart/')) {
    if (!part.parts?.length) problems.push(`part "${part.partId}": multipart without parts (boundary not found)`);
    for (const p of part.parts ?? []) leavesOfPayload(p, out, problems);
    return out;
  }
  const ct = header(part.headers, 'content-type');
  const params = ct ? libmime.parseHeaderValue(ct).params : {};
  const disp = header(part.headers, 'content-disposition');
  if (params.charset && part.mimeType.startsWith('text/') && !iconv.encodingExists(params.charset)) {
    problems.push(`part "${part.partId}": unknown charset "${params.charset}"`);
  }
  out.push({
    partId: part.partId,
    mimeType: part.mimeType,
    filename: part.filename,
    charset: params.charset,
    disposition: disp ? libmime.parseHeaderValue(disp).value.toLowerCase() : undefined,
    contentId: header(part.headers, 'content-id') ?? undefined,
    content: part.body.data ? Buffer.from(part.body.data, 'base64url') : Buffer.alloc(0),
  });
  return out;
}

function attachmentIdsOf(part: GmailPart, out = new Map<string, { id?: string; size: number }>()) {
  out.set(part.partId, { id: part.body.attachmentId, size: part.body.size });
  for (const p of part.parts ?? []) attachmentIdsOf(p, out);
  return out;
}

/**
 * Maps one Gmail message resource (any format) to a lake row and its attachment rows. Never throws on bad MIME:
 * what cannot be read is named in `parse_error` and the row is stored anyway.
 */
export function toRows(msg: gmail_v1.Schema$Message, ctx: RowContext): { message: MessageRow; attachments: AttachmentRow[] } {
  const problems: string[] = [];
  let headers: GmailHeader[] = [];
  let leaves: ParsedLeaf[] = [];
  let bodySizes = new Map<string, { id?: string; size: number }>();
  try {
    if (msg.raw) {
      const parsed = parseMime(Buffer.from(msg.raw, 'base64url'));
      headers = parsed.payload.headers;
      leaves = parsed.leaves;
      problems.push(...parsed.problems);
    } else if (msg.payload) {
      const payload = msg.payload as GmailPart;
      headers = payload.headers ?? [];
      if (ctx.format === 'full') {
        leaves = leavesOfPayload(payload, [], problems);
        bodySizes = attachmentIdsOf(payload);
      }
    }
  } catch (e) {
    problems.push(`unparseable message: ${e instanceof Error ? e.message : String(e)}`);
  }
  const isAttachment = (l: ParsedLeaf) => l.filename !== '' || l.disposition === 'attachment';
  const textLeaf = leaves.find((l) => l.mimeType === 'text/plain' && !isAttachment(l));
  const htmlLeaf = leaves.find((l) => l.mimeType === 'text/html' && !isAttachment(l));
  const from = header(headers, 'from');
  const sender = parseAddresses(from)[0];
  const message: MessageRow = {
    account: ctx.account,
    id: msg.id!,
    thread_id: msg.threadId ?? null,
    history_id: msg.historyId ? Number(msg.historyId) : null,
    internal_date: msg.internalDate ? Number(msg.internalDate) : null,
    label_ids: msg.labelIds ?? [],
    snippet: msg.snippet ?? null,
    size_estimate: msg.sizeEstimate ?? null,
    subject: header(headers, 'subject'),
    from_address: sender?.address ?? null,
    from_name: sender?.name ?? null,
    to_addresses: addresses(header(headers, 'to')),
    cc_addresses: addresses(header(headers, 'cc')),
    message_id_header: header(headers, 'message-id'),
    in_reply_to: header(headers, 'in-reply-to'),
    references_header: header(headers, 'references'),
    date_header: header(headers, 'date'),
    body_text: textLeaf ? leafText(textLeaf) : null,
    body_html: htmlLeaf ? leafText(htmlLeaf) : null,
    headers,
    raw: msg.raw ? Buffer.from(msg.raw, 'base64url').toString('base64') : null,
    format: ctx.format,
    fetched_at: ctx.fetchedAt,
    parse_error: problems.length ? problems.join('; ') : null,
    extraction_id: ctx.extractionId,
  };
  if ((ctx.format === 'full' || ctx.format === 'raw') && !from) problems.push('no From header');
  message.parse_error = problems.length ? problems.join('; ') : null;
  const attachments: AttachmentRow[] = leaves.filter(isAttachment).map((l) => ({
    account: ctx.account,
    message_id: msg.id!,
    part_id: l.partId,
    filename: l.filename,
    mime_type: l.mimeType,
    size: bodySizes.get(l.partId)?.size ?? l.content.length,
    attachment_id: bodySizes.get(l.partId)?.id ?? null,
    content_id: l.contentId ?? null,
    disposition: l.disposition ?? null,
  }));
  return { message, attachments };
}
