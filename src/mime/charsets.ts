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
  if (JIS.test(name)) return decodeJis(bytes);
  if (!iconv.encodingExists(name)) return undefined;
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
}

/**
 * ISO-2022-JP is seven-bit: a byte of 0x80 or more is not in it (typically EUC-JP or Shift_JIS text mislabelled) and
 * becomes U+FFFD, one per byte, as Python's codec replaces it. encoding-japanese would turn it into unassigned code
 * points, so the text around each such byte is decoded on its own, starting in the shift state it was in.
 */
function decodeJis(bytes: Uint8Array): string {
  const jis = (b: Uint8Array) => (b.length ? Encoding.convert(b, { from: 'JIS', to: 'UNICODE', type: 'string' }) : '');
  if (bytes.every((b) => b < 0x80)) return jis(bytes);
  let out = '';
  let shift: number[] = []; // the escape sequence in force, repeated at the start of each piece
  let piece: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x1b) {
      // ESC, intermediates (0x20–0x2f), final byte: e.g. ESC $ B, ESC ( B, ESC $ ( D
      let j = i + 1;
      while (j < bytes.length && bytes[j]! >= 0x20 && bytes[j]! <= 0x2f) j++;
      shift = [...bytes.subarray(i, j + 1)];
    }
    if (b >= 0x80) {
      out += jis(Uint8Array.from(piece)) + '\uFFFD';
      piece = [...shift];
      continue;
    }
    piece.push(b);
  }
  return out + jis(Uint8Array.from(piece));
}
