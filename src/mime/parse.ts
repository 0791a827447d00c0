import iconv from 'iconv-lite';
import libmime from 'libmime';
import { decode as decodeQuotedPrintable } from 'libqp';

/**
 * A MIME tree in the shape of Gmail's `payload` (format=full): partId numbering ("" for the root, "0", "1.0"…),
 * decoded header values, `body.size` of the transfer-decoded bytes, and either inline base64url `data` or an
 * `attachmentId`. Used by the emulator to derive `full` from `raw` (as Gmail does) and by the pipeline to read `raw`
 * into the very same tree, so both formats give the same rows and attachment part ids.
 *
 * Why not mailparser: it flattens the tree and drops part ids; the decoding pieces (charsets, RFC 2047, QP) come from
 * libmime, libqp and iconv-lite, which mailparser itself uses.
 */
export interface GmailHeader {
  name: string;
  value: string;
}
export interface GmailPart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: GmailHeader[];
  body: { size: number; data?: string; attachmentId?: string };
  parts?: GmailPart[];
}

export interface ParsedLeaf {
  partId: string;
  mimeType: string;
  filename: string;
  charset: string | undefined;
  disposition: string | undefined;
  contentId: string | undefined;
  content: Buffer;
}

export interface ParsedMessage {
  payload: GmailPart;
  leaves: ParsedLeaf[];
  /** Structural problems found (empty for a well-formed message). Never thrown: malformed mail is still mail. */
  problems: string[];
}

export interface ParseOptions {
  /** Parts with a filename, or larger than this many bytes, get an attachmentId instead of inline data. */
  inlineLimit?: number;
  /** Builds the attachmentId of a part. Without it, attachments keep inline data. */
  attachmentId?: (partId: string) => string;
}

const MAX_DEPTH = 20;

/** Parses RFC 5322/MIME bytes into Gmail's payload tree; tolerant of malformed input. */
export function parseMime(raw: Buffer, options: ParseOptions = {}): ParsedMessage {
  const problems: string[] = [];
  const leaves: ParsedLeaf[] = [];
  const payload = parseEntity(raw.toString('latin1'), '', 0, 'text/plain', options, problems, leaves);
  return { payload, leaves, problems };
}

function parseEntity(
  text: string,
  partId: string,
  depth: number,
  defaultType: string,
  options: ParseOptions,
  problems: string[],
  leaves: ParsedLeaf[],
): GmailPart {
  const { headers, body } = splitHeaders(text, partId, problems);
  const header = (name: string) => headers.find((h) => h.name.toLowerCase() === name)?.value;
  const ctRaw = header('content-type');
  const ct = ctRaw ? libmime.parseHeaderValue(ctRaw) : { value: defaultType, params: {} as Record<string, string> };
  let mimeType = (ct.value || defaultType).toLowerCase();
  if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(mimeType)) {
    problems.push(`part "${partId}": invalid Content-Type "${ctRaw ?? ''}"`);
    mimeType = 'application/octet-stream';
  }
  const disp = header('content-disposition');
  const dispParsed = disp ? libmime.parseHeaderValue(disp) : undefined;
  const filename = decodeHeaderText(dispParsed?.params.filename ?? ct.params.name ?? '');
  const decodedHeaders = headers.map((h) => ({ name: h.name, value: decodeHeaderText(h.value) }));

  if (mimeType.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = ct.params.boundary;
    const chunks = boundary ? splitMultipart(body, boundary) : undefined;
    if (!chunks || chunks.length === 0) {
      problems.push(`part "${partId}": multipart boundary ${boundary ? `"${boundary}" not found` : 'missing'}`);
    } else {
      const childDefault = mimeType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const prefix = partId === '' ? '' : `${partId}.`;
      const parts = chunks.map((c, i) => parseEntity(c, `${prefix}${i}`, depth + 1, childDefault, options, problems, leaves));
      return { partId, mimeType, filename, headers: decodedHeaders, body: { size: 0 }, parts };
    }
  }

  const content = decodeBody(body, header('content-transfer-encoding'), partId, problems);
  const charset = ct.params.charset;
  if (charset && mimeType.startsWith('text/') && !iconv.encodingExists(charset)) {
    problems.push(`part "${partId}": unknown charset "${charset}"`);
  }
  leaves.push({
    partId,
    mimeType,
    filename,
    charset,
    disposition: dispParsed?.value.toLowerCase(),
    contentId: header('content-id'),
    content,
  });
  const asAttachment = options.attachmentId && (filename !== '' || content.length > (options.inlineLimit ?? Infinity));
  const bodyOut = asAttachment
    ? { size: content.length, attachmentId: options.attachmentId!(partId) }
    : content.length > 0
      ? { size: content.length, data: content.toString('base64url') }
      : { size: 0 };
  return { partId, mimeType, filename, headers: decodedHeaders, body: bodyOut };
}

function splitHeaders(text: string, partId: string, problems: string[]): { headers: GmailHeader[]; body: string } {
  let end = text.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = text.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf;
    sep = 2;
  }
  if (text.startsWith('\r\n') || text.startsWith('\n')) return { headers: [], body: text.replace(/^\r?\n/, '') };
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + sep);
  const headers: GmailHeader[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]!.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || !/^[\x21-\x39\x3b-\x7e]+$/.test(line.slice(0, colon))) {
      if (line.trim() !== '') problems.push(`part "${partId}": header line without a field name: "${line.slice(0, 60)}"`);
      continue;
    }
    headers.push({ name: line.slice(0, colon), value: line.slice(colon + 1).trim() });
  }
  return { headers, body };
}

function splitMultipart(body: string, boundary: string): string[] | undefined {
  const delimiter = `--${boundary}`;
  const lines = body.split(/\r?\n/);
  const parts: string[] = [];
  let current: string[] | undefined;
  let sawDelimiter = false;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      sawDelimiter = true;
      if (current) parts.push(current.join('\r\n'));
      current = trimmed === delimiter ? [] : undefined;
      if (!current) break;
      continue;
    }
    current?.push(line);
  }
  if (current) parts.push(current.join('\r\n'));
  return sawDelimiter ? parts : undefined;
}

function decodeBody(body: string, encodingHeader: string | undefined, partId: string, problems: string[]): Buffer {
  const encoding = (encodingHeader ?? '7bit').trim().toLowerCase();
  if (encoding === 'base64') {
    const compact = body.replace(/[\r\n\t ]+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) {
      problems.push(`part "${partId}": invalid base64 body`);
    }
    return Buffer.from(compact.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  }
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (!['7bit', '8bit', 'binary'].includes(encoding)) {
    problems.push(`part "${partId}": unknown Content-Transfer-Encoding "${encoding}"`);
  }
  return Buffer.from(body, 'latin1');
}

/** Decodes RFC 2047 words and raw 8-bit UTF-8 in a header value kept as latin1 text. */
export function decodeHeaderText(value: string): string {
  // eslint-disable-next-line no-control-regex
  const text = /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
  return text.includes('=?') ? libmime.decodeWords(text) : text;
}

/** Text of a leaf in its declared charset (UTF-8 when unknown). */
export function leafText(leaf: Pick<ParsedLeaf, 'content' | 'charset'>): string {
  const charset = leaf.charset && iconv.encodingExists(leaf.charset) ? leaf.charset : 'utf-8';
  return iconv.decode(leaf.content, charset);
}
