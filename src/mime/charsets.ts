import Encoding from 'encoding-japanese';
import iconv from 'iconv-lite';

/** Names mail uses for charsets iconv-lite knows under another name. */
const ALIASES: Record<string, string> = {
  'iso-8859-8-i': 'iso-8859-8', // RFC 1556: logical-order Hebrew, the same bytes
  'iso-8859-6-i': 'iso-8859-6',
  'x-mac-cyrillic': 'maccyrillic',
  'x-mac-roman': 'macroman',
  'utf-7-imap': 'utf7imap',
};
const JIS = /^(cs)?iso-?2022-?jp(-\d)?$/;

function normalise(charset: string): string {
  const name = charset
    .trim()
    .replace(/^["']|["']$/g, '')
    .toLowerCase();
  return ALIASES[name] ?? name;
}

/** Whether text in this charset can be decoded (iconv-lite, plus ISO-2022-JP by encoding-japanese). */
export function charsetKnown(charset: string): boolean {
  const name = normalise(charset);
  return JIS.test(name) || iconv.encodingExists(name);
}

/**
 * Bytes in a charset to text; undecodable bytes become U+FFFD. ISO-2022-JP (which iconv-lite lacks) is decoded by
 * encoding-japanese, UTF-7 and the legacy single- and multi-byte charsets by iconv-lite. Returns undefined for an
 * unknown charset: the caller decides (and flags).
 */
export function decodeCharset(bytes: Uint8Array, charset: string): string | undefined {
  const name = normalise(charset);
  if (JIS.test(name)) return Encoding.convert(bytes, { from: 'JIS', to: 'UNICODE', type: 'string' });
  if (!iconv.encodingExists(name)) return undefined;
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
}
