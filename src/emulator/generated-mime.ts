import { encode as qpEncode, wrap as qpWrap } from 'libqp';
import libmime from 'libmime';
import { hash32, intBetween, pick, rng } from './random.js';

/**
 * The bytes of a generated message: RFC 5322 headers and MIME bodies of each kind (plain, alternative, mixed, related,
 * legacy 8-bit, nested, malformed), sliced from text and byte pools shared by a seed's messages.
 */
export type MessageKind = 'plain' | 'alternative' | 'mixed' | 'related' | 'legacy' | 'nested' | 'malformed';

export interface GeneratedMeta {
  index: number;
  id: string;
  threadId: string;
  internalDate: number;
  labelIds: string[];
  from: { name: string; address: string };
  to: string[];
  cc: string[];
  /** Blind copies: written in the sender's own copy (a sent message), as Gmail keeps them. */
  bcc: string[];
  /** A mailing list's List-Id (newsletters). */
  listId?: string;
  subject: string;
  hasAttachment: boolean;
  kind: MessageKind;
  /** A large message's attachment size in bytes (EmulatorOptions.large): its one attachment, whatever the kind drew. */
  attachmentBytes?: number;
  messageIdHeader: string;
  inReplyTo: string | undefined;
}

const WORDS =
  'the of and to in is that for it as with was on be at by this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );
const ACCENTED = ['naïve', 'café', 'crème', 'façade', 'Grüße', 'año', 'smörgåsbord', 'déjà', 'Ærø'];

/** Text and byte pools shared by all messages of a seed, sliced at random offsets (fast enough for ≥5k msg/s). */
export class Pools {
  readonly text: string;
  readonly latinText: string;
  readonly bytes: Buffer;
  /** The pools pre-encoded as wrapped lines, so a message body is a slice of lines, not a fresh encoding. */
  readonly qpLines: string[];
  readonly latinQpLines: string[];
  readonly b64Lines: string[];
  constructor(seed: string) {
    const r = rng(hash32(seed, 0xc0ffee));
    const words: string[] = [];
    let len = 0;
    while (len < 96 * 1024) {
      const w = r() < 0.03 ? pick(r, ACCENTED) : pick(r, WORDS);
      words.push(r() < 0.08 ? `${w}.\n` : w);
      len += w.length + 1;
    }
    this.text = words.join(' ');
    this.latinText = this.text.replace(/[\u0100-\uffff]/g, '?');
    this.bytes = Buffer.alloc(128 * 1024);
    for (let i = 0; i < this.bytes.length; i += 4) this.bytes.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
    this.qpLines = qpText(this.text).split('\r\n');
    this.latinQpLines = qpWrap(qpEncode(Buffer.from(this.latinText, 'latin1')), 76).split('\r\n');
    this.b64Lines = this.bytes.toString('base64').match(/.{1,76}/g)!;
  }
  /** About `bytes` worth of consecutive lines from a pre-encoded pool, joined with CRLF. */
  lines(r: () => number, pool: string[], bytes: number): string {
    const count = Math.max(1, Math.min(pool.length - 1, Math.round(bytes / 76)));
    const start = Math.floor(r() * (pool.length - count));
    return pool.slice(start, start + count).join('\r\n');
  }
  /**
   * About `bytes` of base64 lines, cycling through the pool's full ones (76 characters, no padding: a padded line in
   * the middle would end the data there) as often as it takes (large attachments).
   */
  repeated(pool: string[], bytes: number): string {
    const full = pool.filter((l) => /^[A-Za-z0-9+/]{76}$/.test(l));
    const count = Math.max(1, Math.round(bytes / 76));
    return Array.from({ length: count }, (_, k) => full[k % full.length]).join('\r\n');
  }
  slice(r: () => number, source: string, length: number): string {
    const start = Math.floor(r() * (source.length - length - 1));
    return source.slice(start, start + length);
  }
}

const poolCache = new Map<string, Pools>();
export function poolsFor(seed: string): Pools {
  let p = poolCache.get(seed);
  if (!p) {
    p = new Pools(seed);
    poolCache.set(seed, p);
  }
  return p;
}

function address(name: string, addr: string): string {
  return /^[\x20-\x7e]*$/.test(name) ? `"${name}" <${addr}>` : `${libmime.encodeWord(name, 'Q')} <${addr}>`;
}

function fold(name: string, values: string[]): string {
  return `${name}: ${values.join('\r\n ')}`;
}

function qpText(text: string): string {
  return qpWrap(qpEncode(Buffer.from(text, 'utf8')), 76);
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

/** Builds the message; returns a latin1 string (one char per byte). */
export function buildRaw(m: GeneratedMeta, pools: Pools, r: () => number): string {
  const date = new Date(m.internalDate).toUTCString().replace('GMT', '+0000');
  const subject = /^[\x20-\x7e]*$/.test(m.subject) ? m.subject : libmime.encodeWords(m.subject, 'B', 60);
  const headers = [
    `Delivered-To: ${m.to[0]}`,
    fold('Received', [
      `from mx${intBetween(r, 1, 9)}.${m.from.address.split('@')[1]} (mx.example.com [192.0.2.${intBetween(r, 1, 254)}])`,
      `by mail.example.com with ESMTPS id ${m.id}`,
      `for <${m.to[0]}>; ${date}`,
    ]),
    `Date: ${date}`,
    `From: ${latin(address(m.from.name, m.from.address))}`,
    `To: ${m.to.join(', ')}`,
    ...(m.cc.length ? [`Cc: ${m.cc.join(', ')}`] : []),
    ...(m.bcc.length ? [`Bcc: ${m.bcc.join(', ')}`] : []),
    `Subject: ${m.kind === 'legacy' ? latin1Word(m.subject) : subject}`,
    `Message-ID: ${m.messageIdHeader}`,
    ...(m.listId ? [`List-Id: ${m.listId}`] : []),
    ...(m.inReplyTo
      ? [
          `In-Reply-To: ${m.inReplyTo}`,
          fold('References', [m.inReplyTo, ...Array.from({ length: intBetween(r, 0, 3) }, (_, k) => `<ref${k}.${m.id}@mail.example.com>`)]),
        ]
      : []),
    'MIME-Version: 1.0',
  ];
  const textLen = intBetween(r, 1000, 16000);
  const textQp = pools.lines(r, pools.qpLines, textLen);
  const text = pools.slice(r, pools.text, Math.min(textLen, 4000));
  const boundary = (tag: string) => `=_${tag}_${m.id}`;
  /** A multipart body: its Content-Type, each part after a delimiter line, the close delimiter. */
  const multipart = (subtype: string, b: string, parts: string[]) =>
    [`Content-Type: multipart/${subtype}; boundary="${b}"`, '', ...parts.flatMap((p) => [`--${b}`, p]), `--${b}--`, ''].join('\r\n');
  const qpPart = (type: string, text: string) =>
    [`Content-Type: ${type}; charset="UTF-8"`, 'Content-Transfer-Encoding: quoted-printable', '', text].join('\r\n');
  const html = (img = '') => `<html><body>${img}<pre>=\r\n${textQp}=\r\n</pre></body></html>`;
  const alternative = () => multipart('alternative', boundary('alt'), [qpPart('text/plain', textQp), qpPart('text/html', html())]);
  const attachment = (name: string, type: string, size: number, inline = false) =>
    [
      `Content-Type: ${type}; name="${name}"`,
      `Content-Disposition: ${inline ? 'inline' : 'attachment'}; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      ...(inline ? [`Content-ID: <img-${m.id}@example.com>`] : []),
      '',
      size > 1_000_000 ? pools.repeated(pools.b64Lines, (size * 4) / 3) : pools.lines(r, pools.b64Lines, (size * 4) / 3),
    ].join('\r\n');
  let body: string;
  switch (m.kind) {
    case 'plain':
      body = qpPart('text/plain', textQp);
      break;
    case 'legacy':
      body = [
        'Content-Type: text/plain; charset="ISO-8859-1"',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        pools.lines(r, pools.latinQpLines, textLen),
      ].join('\r\n');
      break;
    case 'alternative':
      body = alternative();
      break;
    case 'mixed': {
      const name = pick(r, ['report.pdf', 'invoice.pdf', 'photo.jpg', 'data.csv', 'Résumé.pdf']);
      const fileName = /^[\x20-\x7e]*$/.test(name) ? name : libmime.encodeWord(name, 'Q');
      const type = name.endsWith('.jpg') ? 'image/jpeg' : name.endsWith('.csv') ? 'text/csv' : 'application/pdf';
      const size = intBetween(r, 3000, 40000);
      body = multipart('mixed', boundary('mix'), [alternative(), attachment(fileName, type, m.attachmentBytes ?? size)]);
      break;
    }
    case 'related':
      body = multipart('related', boundary('rel'), [
        qpPart('text/html', html(`<img src=3D"cid:img-${m.id}@example.com">`)),
        attachment('logo.png', 'image/png', intBetween(r, 1000, 8000), true),
      ]);
      break;
    case 'nested':
      body = multipart('mixed', boundary('mix'), [
        multipart('related', boundary('rel'), [alternative(), attachment('chart.png', 'image/png', intBetween(r, 1000, 6000), true)]),
        attachment('notes.txt', 'text/plain', intBetween(r, 500, 3000)),
        attachment('archive.zip', 'application/zip', intBetween(r, 5000, 30000)),
      ]);
      break;
    case 'malformed': {
      const variant = intBetween(r, 0, 2);
      if (variant === 0) {
        body = [
          `Content-Type: multipart/mixed; boundary="declared-${m.id}"`,
          '',
          '--actual-boundary',
          'Content-Type: text/plain',
          '',
          text,
          '--actual-boundary--',
          '',
        ].join('\r\n');
      } else if (variant === 1) {
        // A type without its subtype (read as text/plain, RFC 2045 §5.2) over a base64 body with junk after it.
        body = [
          'Content-Type: text; charset="UTF-8"',
          'Content-Transfer-Encoding: base64',
          '',
          `${b64(Buffer.from(text))}\r\n!!not*base64~~`,
        ].join('\r\n');
      } else {
        // An unknown charset, and a stray line that ends the header section early (it starts the body).
        body = ['Content-Type: text/plain; charset="x-unknown-charset"', 'this line is not a header', '', text].join('\r\n');
      }
      // Each variant is damage Gmail's `full` tree shows too, so `raw` and `full` rows both flag it.
      body = latin(body);
      break;
    }
  }
  return latin(headers.join('\r\n')) + '\r\n' + body;
}

/** Text as ISO-8859-1 can hold it: every other character (an emoji is one) becomes "?". */
export function latin1Text(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\u0000-\u00ff]/gu, '?');
}

/** An RFC 2047 Q-encoded word in ISO-8859-1, as legacy mailers write them. */
function latin1Word(text: string): string {
  const bytes = Buffer.from(latin1Text(text), 'latin1');
  let out = '';
  for (const b of bytes)
    out += /[A-Za-z0-9]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : b === 32
        ? '_'
        : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return `=?ISO-8859-1?Q?${out}?=`;
}

/** Converts a JS string holding UTF-8 text to a latin1 byte string (one char per byte). */
function latin(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
