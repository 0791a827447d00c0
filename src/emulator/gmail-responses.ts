import { parseMime } from '../mime/parse.js';
import type { Mailbox, MessageView } from './mailbox.js';
import { decode as qpDecode } from 'libqp';

/** Google's JSON error shape. */
export function googleError(code: number, message: string, reason: string, domain = 'global', status?: string) {
  const statusByCode: Record<number, string> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL',
    503: 'UNAVAILABLE',
  };
  return { error: { code, message, errors: [{ message, domain, reason }], status: status ?? statusByCode[code] ?? 'UNKNOWN' } };
}

/** Parts without a filename are inline (base64url `data`) up to this size; larger ones, and all attachments, get an attachmentId. */
export const INLINE_LIMIT = 1024 * 1024;

/** attachmentId of a part: opaque to clients, decodable by the emulator. */
export function attachmentIdFor(messageId: string, partId: string): string {
  return 'ANGjdJ' + Buffer.from(`${messageId}:${partId}`).toString('base64url');
}
export function parseAttachmentId(attachmentId: string): { messageId: string; partId: string } | undefined {
  if (!attachmentId.startsWith('ANGjdJ')) return undefined;
  const [messageId, partId] = Buffer.from(attachmentId.slice(6), 'base64url').toString().split(':');
  return messageId !== undefined && partId !== undefined ? { messageId, partId } : undefined;
}

/**
 * A ~200-character snippet from the first text part without a full MIME parse (Gmail computes it once at delivery;
 * we compute it per response, so it must be cheap). Same function for every format, so formats agree.
 */
export function snippetOf(raw: Buffer): string {
  const s = raw.toString('latin1', 0, Math.min(raw.length, 64 * 1024));
  const at = s.search(/content-type:\s*text\/(plain|html)/i);
  const from = at < 0 ? s.indexOf('\r\n\r\n') : s.indexOf('\r\n\r\n', at);
  if (from < 0) return '';
  const headerBlock = at < 0 ? '' : s.slice(at, from);
  let chunk = s.slice(from + 4, from + 4 + 900);
  if (/quoted-printable/i.test(headerBlock)) chunk = qpDecode(chunk.replace(/=?\r?\n?$/, '')).toString('utf8');
  else if (/base64/i.test(headerBlock)) chunk = Buffer.from(chunk.replace(/[^A-Za-z0-9+/]/g, '').slice(0, 800), 'base64').toString('utf8');
  else chunk = Buffer.from(chunk, 'latin1').toString('utf8');
  return chunk
    .replace(/<[^>]*>?/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

export type Format = 'minimal' | 'metadata' | 'full' | 'raw';

/** users.messages.get in the requested format. */
export function messageResource(mailbox: Mailbox, view: MessageView, format: Format, metadataHeaders: string[]) {
  const raw = mailbox.raw(view.index);
  const base = {
    id: view.id,
    threadId: view.threadId,
    labelIds: view.labelIds,
    snippet: snippetOf(raw),
    sizeEstimate: raw.length,
    historyId: String(view.historyId),
    internalDate: String(view.internalDate),
  };
  if (format === 'minimal') return base;
  if (format === 'raw') return { ...base, raw: raw.toString('base64url') };
  const { payload } = parseMime(raw, { inlineLimit: INLINE_LIMIT, attachmentId: (partId) => attachmentIdFor(view.id, partId) });
  if (format === 'full') return { ...base, payload };
  const wanted = metadataHeaders.map((h) => h.toLowerCase());
  const headers = wanted.length ? payload.headers.filter((h) => wanted.includes(h.name.toLowerCase())) : payload.headers;
  return { ...base, payload: { partId: '', mimeType: payload.mimeType, filename: '', headers, body: { size: 0 } } };
}
