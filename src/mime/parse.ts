import { decodeQuotedPrintable } from './quoted-printable.js';
import { charsetKnown } from './charsets.js';
import { headerTransport, parseStructured, readHeaderSection, unknownWordCharsets } from './headers.js';
import { uudecode } from './uuencode.js';

/**
 * A MIME tree in the shape of Gmail's `payload` (format=full): partId numbering ("" for the root, "0", "1.0"…),
 * decoded header values, `body.size` of the transfer-decoded bytes, and either inline base64url `data` or an
 * `attachmentId`. Header values are carried as {@link headerTransport} makes them (encoded words kept); readers
 * decode them. Used by the emulator to derive `full` from `raw` (as Gmail does) and by the pipeline to read `raw`
 * into the very same tree, so both formats give the same rows and attachment part ids.
 *
 * The reading follows RFC 5322/2045/2046 where they decide and Python's `email` package (the fidelity test's
 * reference) where they leave a malformed message open: where a header section without its empty line ends, which
 * lines delimit parts, that a part's last line break belongs to the delimiter after it, that an invalid Content-Type
 * means text/plain (RFC 2045 §5.2). Bytes inside parts are never changed (LF stays LF). Why not mailparser or
 * postal-mime: both flatten the tree and drop the part ids Gmail's attachment ids hang on.
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
  content: Buffer;
}

export interface ParsedMessage {
  payload: GmailPart;
  /** Transfer-decoded bytes of every leaf part (the emulator serves attachments from them). */
  leaves: ParsedLeaf[];
  /** Problems found reading the bytes (empty for a well-formed message). Never thrown: malformed mail is still mail. */
  problems: string[];
}

export interface ParseOptions {
  /** Parts with a filename, or larger than this many bytes, get an attachmentId instead of inline data. */
  inlineLimit?: number;
  /** Builds the attachmentId of a part. Without it, every part keeps inline data. */
  attachmentId?: (partId: string) => string;
  /** Leave `body.data` out (a reader in this process takes the bytes from {@link partContent} instead). */
  omitData?: boolean;
}

const contents = new WeakMap<GmailPart, Buffer>();

/** The transfer-decoded bytes of a leaf part parsed in this process (undefined for parts from Gmail's JSON). */
export function partContent(part: GmailPart): Buffer | undefined {
  return contents.get(part);
}

const MAX_DEPTH = 20;

/** Parses RFC 5322/MIME bytes into Gmail's payload tree; tolerant of malformed input. */
export function parseMime(raw: Buffer, options: ParseOptions = {}): ParsedMessage {
  const problems: string[] = [];
  const leaves: ParsedLeaf[] = [];
  const payload = parseEntity(raw.toString('latin1'), '', 0, 'text/plain', options, problems, leaves);
  return { payload, leaves, problems };
}

function where(partId: string): string {
  return partId === '' ? 'message' : `part ${partId}`;
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
  const { headers, bodyStart } = readHeaderSection(text, problems, where(partId));
  const body = text.slice(bodyStart);
  const raw = (name: string) => headers.find((h) => h.name.toLowerCase() === name)?.value;
  const ctRaw = raw('content-type');
  const ct = ctRaw !== undefined ? parseStructured(ctRaw) : { value: defaultType, params: {} as Record<string, string> };
  // The type is the text before the first ";" (RFC 2045 §5.1), as it stands: a missing ";" leaves junk in it, kept.
  let mimeType = ctRaw !== undefined ? ctRaw.split(';')[0]!.trim().toLowerCase() : defaultType;
  if (mimeType.split('/').length !== 2) {
    problems.push(`${where(partId)}: invalid Content-Type "${(ctRaw ?? '').slice(0, 60)}", read as text/plain`);
    mimeType = 'text/plain';
  }
  const dispRaw = raw('content-disposition');
  const disp = dispRaw !== undefined ? parseStructured(dispRaw) : undefined;
  const filename = (disp?.params.filename ?? ct.params.name ?? '').trim();
  for (const h of headers)
    for (const c of unknownWordCharsets(h.value)) problems.push(`${where(partId)}: unknown charset "${c}" in ${h.name}`);
  const decodedHeaders = headers.map((h) => ({ name: h.name, value: headerTransport(h.value) }));

  if (mimeType.startsWith('multipart/') && depth < MAX_DEPTH) {
    const boundary = ct.params.boundary?.trimEnd();
    // An empty boundary (`boundary=""`) is still one: its delimiter lines are `--` and `----`, as Python reads them.
    const split = boundary !== undefined ? splitMultipart(body, boundary) : undefined;
    if (!split) {
      problems.push(`${where(partId)}: multipart ${boundary !== undefined ? `boundary "${boundary}" not found` : 'without a boundary'}`);
    } else {
      if (!split.closed) problems.push(`${where(partId)}: multipart not closed by "--${boundary}--"`);
      const childDefault = mimeType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const prefix = partId === '' ? '' : `${partId}.`;
      const parts = split.parts.map((c, i) => parseEntity(c, `${prefix}${i}`, depth + 1, childDefault, options, problems, leaves));
      return { partId, mimeType, filename, headers: decodedHeaders, body: { size: 0 }, parts };
    }
  }

  const content = decodeBody(body, raw('content-transfer-encoding'), partId, problems);
  const charset = ct.params.charset;
  if (charset && mimeType.startsWith('text/') && !charsetKnown(charset)) {
    problems.push(`${where(partId)}: unknown charset "${charset}"`);
  }
  leaves.push({ partId, content });
  const asAttachment = options.attachmentId && (filename !== '' || content.length > (options.inlineLimit ?? Infinity));
  const bodyOut = asAttachment
    ? { size: content.length, attachmentId: options.attachmentId!(partId) }
    : content.length > 0 && !options.omitData
      ? { size: content.length, data: content.toString('base64url') }
      : { size: content.length };
  const part = { partId, mimeType, filename, headers: decodedHeaders, body: bodyOut };
  contents.set(part, content);
  return part;
}

const EOL_AT_END = /(\r\n|\r|\n)$/;

interface Delimiter {
  start: number;
  /** where the line after it starts */
  next: number;
  close: boolean;
}

/** Delimiter lines of a multipart body: `--boundary` at a line start, then only whitespace (or `--` and whitespace). */
function delimiters(body: string, boundary: string): Delimiter[] {
  const delimiter = `--${boundary}`;
  const found: Delimiter[] = [];
  for (let i = body.indexOf(delimiter); i !== -1; i = body.indexOf(delimiter, i + delimiter.length)) {
    if (i > 0 && body[i - 1] !== '\n' && body[i - 1] !== '\r') continue;
    let end = i + delimiter.length;
    while (end < body.length && body[end] !== '\r' && body[end] !== '\n') end++;
    const rest = body.slice(i + delimiter.length, end);
    const close = /^--[ \t]*$/.test(rest);
    if (!close && !/^[ \t]*$/.test(rest)) continue;
    const next = body.startsWith('\r\n', end) ? end + 2 : end < body.length ? end + 1 : end;
    found.push({ start: i, next, close });
  }
  return found;
}

/**
 * The parts of a multipart body (RFC 2046 §5.1.1): a delimiter line is `--boundary` plus optional whitespace, the
 * line break before it belongs to it, consecutive delimiters make no empty parts. Undefined when no delimiter opens a
 * part (the body is then not read as parts at all).
 */
function splitMultipart(body: string, boundary: string): { parts: string[]; closed: boolean } | undefined {
  const found = delimiters(body, boundary);
  if (found.length === 0 || found[0]!.close) return undefined;
  const parts: string[] = [];
  let k = 0;
  while (k < found.length) {
    if (found[k]!.close) return { parts, closed: true };
    while (k + 1 < found.length && found[k + 1]!.start === found[k]!.next) k++; // delimiter lines right after it
    const from = found[k]!.next;
    const to = k + 1 < found.length ? found[k + 1]!.start : body.length;
    parts.push(body.slice(from, to).replace(EOL_AT_END, ''));
    k++;
  }
  return { parts, closed: false };
}

function decodeBase64(body: string, partId: string, problems: string[]): Buffer {
  // "=" ends the data (RFC 2045 §6.8): what follows the padding is not part of it. Characters outside the alphabet
  // are ignored (§6.8 says so too), but data one character longer than a multiple of four cannot be base64 at all:
  // such a body is kept as its text without line breaks (the lines of a base64 body carry no meaning), as Python's
  // `email` keeps it.
  const data = body.replace(/=[^]*$/, '').replace(/[^A-Za-z0-9+/]/g, '');
  if (data.length % 4 === 1) {
    problems.push(`${where(partId)}: body is not base64, kept as text`);
    return Buffer.from(body.replace(/\r\n|\r|\n/g, ''), 'latin1');
  }
  if (/[^A-Za-z0-9+/=\r\n]/.test(body)) problems.push(`${where(partId)}: characters outside base64 ignored`);
  return Buffer.from(data, 'base64');
}

function decodeBody(body: string, encodingHeader: string | undefined, partId: string, problems: string[]): Buffer {
  const encoding = (encodingHeader ?? '7bit').trim().toLowerCase();
  switch (encoding) {
    case 'base64':
      return decodeBase64(body, partId, problems);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'x-uuencode':
    case 'uuencode':
    case 'uue':
    case 'x-uue':
      return uudecode(Buffer.from(body, 'latin1'));
    case '7bit':
    case '8bit':
    case 'binary':
      return Buffer.from(body, 'latin1');
    default:
      problems.push(`${where(partId)}: unknown Content-Transfer-Encoding "${encoding.slice(0, 40)}"`);
      return Buffer.from(body, 'latin1');
  }
}
