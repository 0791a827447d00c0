import { charsetKnown, decodeCharset } from './charsets.js';
import { decodeWords, parseStructured } from './headers.js';
import { type GmailHeader, type GmailPart, partContent } from './parse.js';

/**
 * What the lake reads from a Gmail payload tree — the same tree for `full` (from Gmail) and `raw` (parsed here), so
 * both formats give the same columns, including the problems named in `parse_error`.
 */
export function headerValue(headers: GmailHeader[] | undefined, name: string): string | null {
  return headers?.find((h) => h.name.toLowerCase() === name)?.value ?? null;
}

function params(part: GmailPart, name: string) {
  const value = headerValue(part.headers, name);
  return value === null ? undefined : parseStructured(value, decodeWords);
}

/** Content-Disposition: attachment (RFC 2183), the test Python's `is_attachment` makes. */
function isAttachment(part: GmailPart): boolean {
  return params(part, 'content-disposition')?.value === 'attachment';
}

/**
 * The part holding the message's text/`kind` body, chosen as Python's `get_body` does: depth first, skipping parts
 * disposed as attachments and message/* parts (a forwarded message's body is not this message's), and inside
 * multipart/related only its root (the part named by `start`, else the first; RFC 2387).
 */
export function findBody(part: GmailPart, kind: 'plain' | 'html'): GmailPart | undefined {
  if (isAttachment(part)) return undefined;
  const [main, sub] = part.mimeType.split('/');
  if (main === 'text') return sub === kind ? part : undefined;
  if (main !== 'multipart' || !part.parts?.length) return undefined;
  if (sub !== 'related') {
    for (const p of part.parts) {
      const found = findBody(p, kind);
      if (found) return found;
    }
    return undefined;
  }
  const start = params(part, 'content-type')?.params.start;
  const root = (start && part.parts.find((p) => headerValue(p.headers, 'content-id') === start)) || part.parts[0]!;
  return findBody(root, kind);
}

/** The parts holding the text and HTML bodies (at most two). */
export function bodyParts(payload: GmailPart): GmailPart[] {
  return [...new Set([findBody(payload, 'plain'), findBody(payload, 'html')].filter((p): p is GmailPart => !!p))];
}

/**
 * Text of a part in its declared charset. Without one (or with US-ASCII) 8-bit bytes are read as UTF-8: RFC 2045's
 * default is US-ASCII, which has no reading for them, and such mail is UTF-8 far more often than not.
 */
export function partText(part: GmailPart): string | null {
  const parsed = partContent(part);
  if (!parsed && part.body.data === undefined && part.body.size > 0) return null; // served by attachmentId, not fetched
  const bytes = parsed ?? (part.body.data ? Buffer.from(part.body.data, 'base64url') : Buffer.alloc(0));
  const charset = params(part, 'content-type')?.params.charset?.trim().toLowerCase();
  const plain = !charset || charset === 'us-ascii' || charset === 'ascii' || !charsetKnown(charset);
  return (plain ? undefined : decodeCharset(bytes, charset)) ?? bytes.toString('utf8');
}

/** Leaf parts (message/* parts are leaves) with a filename or disposed as attachments, in document order. */
export function attachmentParts(part: GmailPart, out: GmailPart[] = []): GmailPart[] {
  if (part.mimeType.startsWith('multipart/') && part.parts?.length) {
    for (const p of part.parts) attachmentParts(p, out);
  } else if (part.filename !== '' || isAttachment(part)) {
    out.push(part);
  }
  return out;
}

/** Problems a payload tree shows (so `raw` and `full` name the same ones). */
export function treeProblems(part: GmailPart, out: string[] = []): string[] {
  const at = part.partId === '' ? 'message' : `part ${part.partId}`;
  const ct = headerValue(part.headers, 'content-type');
  if (ct !== null && ct.split(';')[0]!.split('/').length !== 2) out.push(`${at}: invalid Content-Type, read as text/plain`);
  if (part.mimeType.startsWith('multipart/') && !part.parts?.length) out.push(`${at}: multipart body without parts`);
  const charset = params(part, 'content-type')?.params.charset;
  if (charset && part.mimeType.startsWith('text/') && !charsetKnown(charset)) out.push(`${at}: unknown charset "${charset.slice(0, 40)}"`);
  const cte = headerValue(part.headers, 'content-transfer-encoding')?.trim().toLowerCase();
  if (cte && !/^(7bit|8bit|binary|base64|quoted-printable|x-uuencode|uuencode|x-uue|uue)$/.test(cte)) {
    out.push(`${at}: unknown Content-Transfer-Encoding "${cte.slice(0, 40)}"`);
  }
  for (const p of part.parts ?? []) treeProblems(p, out);
  return out;
}
