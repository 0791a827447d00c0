import libmime from 'libmime';
import { charsetKnown, decodeCharset } from './charsets.js';
import { ParseMemo } from './memo.js';

/** A header field as it stands in the message: the name, and the value unfolded but not decoded (latin1 = bytes). */
export interface RawHeader {
  name: string;
  value: string;
}

const FIELD = /^[\x21-\x39\x3b-\x7e]*:/;
const LINE = /\r\n|\r|\n/g;

/**
 * Reads a header section (RFC 5322 §2.2) from `text` (latin1, so one character is one byte), as Python's `email`
 * feed parser does: a line starting with whitespace continues the field before it (unfolding removes only the line
 * break, RFC 5322 §2.2.3), the section ends at an empty line or at the first line that is neither a field nor a
 * continuation (that line starts the body: nothing is dropped), and an mbox `From ` line first is skipped.
 */
export function readHeaderSection(text: string, problems: string[], where: string): { headers: RawHeader[]; bodyStart: number } {
  const headers: RawHeader[] = [];
  let pos = 0;
  let first = true;
  let current: { name: string; parts: string[] } | undefined;
  const flush = () => {
    if (current) headers.push({ name: current.name, value: current.parts.join('') });
    current = undefined;
  };
  while (pos < text.length) {
    LINE.lastIndex = pos;
    const eol = LINE.exec(text);
    const end = eol ? eol.index : text.length;
    const next = eol ? end + eol[0].length : text.length;
    const line = text.slice(pos, end);
    if (line === '') {
      flush();
      return { headers, bodyStart: next };
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (current) current.parts.push(line);
      else problems.push(`${where}: header section starts with a continuation line`);
    } else if (line.startsWith('From ')) {
      if (!first) problems.push(`${where}: misplaced "From " line in the header section`);
    } else if (FIELD.test(line)) {
      flush();
      const colon = line.indexOf(':');
      if (colon === 0) problems.push(`${where}: header line without a field name`);
      else current = { name: line.slice(0, colon), parts: [line.slice(colon + 1).replace(/^[ \t]+/, '')] };
    } else {
      flush();
      problems.push(`${where}: header section not ended by an empty line (body starts at "${line.slice(0, 40)}")`);
      return { headers, bodyStart: pos };
    }
    first = false;
    pos = next;
  }
  flush();
  return { headers, bodyStart: text.length };
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=/g;

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding === 'b' || encoding === 'B') return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

function bytesToText(bytes: Buffer, charset: string): string {
  return decodeCharset(bytes, charset) ?? bytes.toString('utf8');
}

const utf8 = (latin1: string) => Buffer.from(latin1, 'latin1').toString('utf8');

/**
 * A header value (latin1 = the message's bytes) as text fit for JSON, the form Gmail's payload carries: raw 8-bit
 * text read as UTF-8 (RFC 6532), RFC 2047 encoded words kept as they stand (so a reader can still split an address
 * list before decoding names), except words holding raw 8-bit bytes, which only this byte-level view can decode.
 */
export function headerTransport(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(value)) return value;
  let out = '';
  let last = 0;
  for (const m of value.matchAll(ENCODED_WORD)) {
    out += utf8(value.slice(last, m.index));
    // eslint-disable-next-line no-control-regex
    out += /[^\x00-\x7f]/.test(m[0]) ? bytesToText(wordBytes(m[2]!, m[3]!), m[1]!.split('*')[0]!) : m[0];
    last = m.index + m[0].length;
  }
  return out + utf8(value.slice(last));
}

/**
 * Decodes the RFC 2047 encoded words of a header text, each in its charset; whitespace between two words is dropped
 * (RFC 2047 §6.2) and adjacent words of one charset are joined before decoding, so a character split across two
 * words survives. Idempotent on text without encoded words, so values Gmail already decoded pass unchanged.
 */
export function decodeWords(text: string): string {
  if (!text.includes('=?')) return text;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  const flushWords = () => {
    if (pending) out += bytesToText(Buffer.concat(pending.bytes), pending.charset);
    pending = undefined;
  };
  for (const m of text.matchAll(ENCODED_WORD)) {
    const between = text.slice(last, m.index);
    const charset = m[1]!.split('*')[0]!.toLowerCase();
    const bytes = wordBytes(m[2]!, m[3]!);
    const joinsPrevious = last > 0 && /^[ \t]*$/.test(between);
    if (joinsPrevious && pending?.charset === charset) {
      pending.bytes.push(bytes);
    } else {
      flushWords();
      if (!joinsPrevious) out += between;
      pending = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  flushWords();
  return out + text.slice(last);
}

/** A header value (latin1) decoded to text: {@link headerTransport} then {@link decodeWords}. */
export function decodeHeaderText(value: string): string {
  return decodeWords(headerTransport(value));
}

/** Charsets named by the encoded words of a value that cannot be decoded. */
export function unknownWordCharsets(value: string): string[] {
  if (!value.includes('=?')) return [];
  return [...value.matchAll(ENCODED_WORD)].map((m) => m[1]!.split('*')[0]!).filter((c) => !charsetKnown(c));
}

export interface StructuredValue {
  value: string;
  params: Record<string, string>;
}

/**
 * A parameterised header (Content-Type, Content-Disposition) read from its raw value (latin1; pass `decodeWords` for
 * a value already in text form): parameters split before any
 * decoding (a decoded name may hold `;` or quotes), RFC 2231 continuations and charsets by libmime, and RFC 2047
 * words inside plain values decoded after (as Python's `email` does, though RFC 2047 §5 does not allow them there).
 */
export function parseStructured(raw: string, decode: (v: string) => string = decodeHeaderText): StructuredValue {
  // Content-Type and Content-Disposition values repeat across parts and messages, and each part is asked several
  // times (body choice, attachments, problems): parses are remembered, per decoder.
  const cache = decode === decodeHeaderText ? rawCache : decode === decodeWords ? textCache : undefined;
  const known = cache?.get(raw);
  if (known) return known;
  const parsed = libmime.parseHeaderValue(raw) as { value: string; params: Record<string, string>; decodedParams?: string[] };
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.params)) params[k] = parsed.decodedParams?.includes(k) ? v : decode(v);
  const result = { value: parsed.value.trim().toLowerCase(), params };
  cache?.set(raw, result);
  return result;
}

const rawCache = new ParseMemo<StructuredValue>(5_000);
const textCache = new ParseMemo<StructuredValue>(5_000);
