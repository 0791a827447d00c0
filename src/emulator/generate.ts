import { encode as qpEncode, wrap as qpWrap } from 'libqp';
import libmime from 'libmime';
import { hash32, intBetween, pick, rng } from './random.js';

/**
 * Deterministic, lazy mailbox content: message i of (seed, size) is computed on demand, so a 1,000,000-message mailbox
 * costs no more memory than a small one. `meta(i)` is cheap (used for listing and filtering); `raw(i)` builds the
 * RFC 5322 bytes. Dates rise with i, so "newest first" is simply descending index.
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
  subject: string;
  hasAttachment: boolean;
  kind: MessageKind;
  messageIdHeader: string;
  inReplyTo: string | undefined;
}

export const SYSTEM_LABELS = [
  'INBOX',
  'SENT',
  'DRAFT',
  'SPAM',
  'TRASH',
  'UNREAD',
  'STARRED',
  'IMPORTANT',
  'CATEGORY_PERSONAL',
  'CATEGORY_SOCIAL',
  'CATEGORY_PROMOTIONS',
  'CATEGORY_UPDATES',
  'CATEGORY_FORUMS',
] as const;
export const USER_LABELS = [
  { id: 'Label_1', name: 'Projects' },
  { id: 'Label_2', name: 'Receipts' },
  { id: 'Label_3', name: 'Travel' },
  { id: 'Label_4', name: 'Family' },
  { id: 'Label_5', name: 'Newsletters' },
  { id: 'Label_6', name: 'Archive/2019' },
] as const;

const FIRST = [
  'Alice',
  'Bob',
  'Chloé',
  'Dmitri',
  'Eve',
  'François',
  'Grace',
  'Hiro',
  'Ines',
  'Jürgen',
  'Kasia',
  'Liam',
  'María',
  'Noor',
  'Olu',
  'Priya',
  'Quentin',
  'Rosa',
  'Sven',
  'Tomás',
  '李',
  'Ørjan',
];
const LAST = [
  'Anderson',
  'Baker',
  'Castillo',
  'Dubois',
  'Eriksen',
  'Fischer',
  'García',
  'Hansen',
  'Ivanova',
  'Jones',
  'Kowalski',
  'Lefèvre',
  'Müller',
  'Nakamura',
  'Okafor',
  'Patel',
  'Rossi',
  'Smith',
  '王',
];
const DOMAINS = ['example.org', 'acme.test', 'mail.example.net', 'shop.example', 'news.example.com', 'univ.example.edu'];
const TOPICS = [
  'Quarterly report',
  'Lunch on Friday?',
  'Invoice #',
  'Your order has shipped',
  'Meeting notes',
  'Trip to Zürich',
  'Re: budget',
  'Weekly newsletter',
  'Photos from the weekend',
  'Contract draft',
  'Server maintenance window',
  'Café opening — invitation',
  'Password reset',
  'Flight itinerary',
  'Über die Planung',
  'Résumé attached',
  'Project kickoff',
  'Happy birthday! 🎉',
];
const WORDS =
  'the of and to in is that for it as with was on be at by this had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );
const ACCENTED = ['naïve', 'café', 'crème', 'façade', 'Grüße', 'año', 'smörgåsbord', 'déjà', 'Ærø'];

const START = Date.UTC(2019, 0, 1);
const END = Date.UTC(2026, 10, 1);

/** Text and byte pools shared by all messages of a seed, sliced at random offsets (fast enough for ≥5k msg/s). */
class Pools {
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
  slice(r: () => number, source: string, length: number): string {
    const start = Math.floor(r() * (source.length - length - 1));
    return source.slice(start, start + length);
  }
}

const poolCache = new Map<string, Pools>();
function poolsFor(seed: string): Pools {
  let p = poolCache.get(seed);
  if (!p) {
    p = new Pools(seed);
    poolCache.set(seed, p);
  }
  return p;
}

/** Encodes a message index as a 16-hex-digit Gmail-style id carrying its own check digits. */
export function messageIdFor(seed: string, index: number): string {
  return hash32(seed, index, 7).toString(16).padStart(8, '0') + index.toString(16).padStart(8, '0');
}

/** The index inside an id made by messageIdFor, or undefined when the id is not one of this seed's. */
export function indexOfId(seed: string, id: string): number | undefined {
  if (!/^[0-9a-f]{16}$/.test(id)) return undefined;
  const index = parseInt(id.slice(8), 16);
  return messageIdFor(seed, index) === id ? index : undefined;
}

export class GeneratedMailbox {
  private readonly pools: Pools;
  constructor(
    readonly seed: string,
    readonly size: number,
    readonly owner: string,
  ) {
    this.pools = poolsFor(seed);
  }

  /** Milliseconds between consecutive messages' dates. */
  private get step(): number {
    return (END - START) / Math.max(this.size, 1);
  }

  internalDate(i: number): number {
    const r = rng(hash32(this.seed, i, 1));
    return Math.floor(START + (i + r() * 0.9) * this.step);
  }

  /** Smallest index whose date is ≥ t (binary search over the monotonic dates). */
  firstIndexAtOrAfter(t: number, upper = this.size): number {
    let lo = 0;
    let hi = upper;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.internalDate(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private isReply(i: number): boolean {
    return i > 0 && rng(hash32(this.seed, i, 2))() < 0.35;
  }

  private threadRoot(i: number): number {
    let j = i;
    for (let steps = 0; steps < 8 && this.isReply(j); steps++) j--;
    return j;
  }

  meta(i: number): GeneratedMeta {
    const r = rng(hash32(this.seed, i, 3));
    const root = this.threadRoot(i);
    const rootR = rng(hash32(this.seed, root, 3));
    const sent = r() < 0.1;
    const person = () => {
      const first = pick(r, FIRST);
      const last = pick(r, LAST);
      const domain = pick(r, DOMAINS);
      const ascii = (w: string) =>
        w
          .normalize('NFD')
          .replace(/[^a-zA-Z]/g, '')
          .toLowerCase();
      const local = [ascii(first), ascii(last)].filter(Boolean).join('.') || `user${intBetween(r, 1, 99)}`;
      return { name: `${first} ${last}`, address: `${local}@${domain}` };
    };
    const other = person();
    const from = sent ? { name: 'Mailbox Owner', address: this.owner } : other;
    const to = sent ? [other.address] : [this.owner];
    const cc = r() < 0.2 ? [person().address] : [];
    const topic = pick(rootR, TOPICS);
    const baseSubject = topic.endsWith('#') ? `${topic}${intBetween(rootR, 1000, 99999)}` : `${topic} ${intBetween(rootR, 1, 500)}`;
    const k = r();
    const kind: MessageKind =
      k < 0.02
        ? 'malformed'
        : k < 0.3
          ? 'plain'
          : k < 0.58
            ? 'alternative'
            : k < 0.73
              ? 'mixed'
              : k < 0.8
                ? 'related'
                : k < 0.92
                  ? 'legacy'
                  : 'nested';
    // A legacy mailer's ISO-8859-1 cannot carry every character: the manifest records what the bytes say.
    const written = kind === 'legacy' ? latin1Text(baseSubject) : baseSubject;
    const subject = root === i ? written : `Re: ${written}`;
    const labels: string[] = [];
    const place = r();
    if (sent) labels.push('SENT');
    else if (place < 0.02) labels.push('SPAM');
    else if (place < 0.04) labels.push('TRASH');
    else if (place < 0.85) labels.push('INBOX');
    if (!sent) labels.push(pick(r, ['CATEGORY_PERSONAL', 'CATEGORY_SOCIAL', 'CATEGORY_PROMOTIONS', 'CATEGORY_UPDATES', 'CATEGORY_FORUMS']));
    if (r() < 0.3) labels.push('UNREAD');
    if (r() < 0.05) labels.push('STARRED');
    if (r() < 0.15) labels.push('IMPORTANT');
    for (const l of USER_LABELS) if (r() < 0.08) labels.push(l.id);
    const id = messageIdFor(this.seed, i);
    return {
      index: i,
      id,
      threadId: messageIdFor(this.seed, root),
      internalDate: this.internalDate(i),
      labelIds: labels,
      from,
      to,
      cc,
      subject,
      hasAttachment: kind === 'mixed' || kind === 'nested',
      kind,
      messageIdHeader: `<${id}.${hash32(this.seed, i, 4).toString(36)}@mail.example.com>`,
      inReplyTo:
        root === i ? undefined : `<${messageIdFor(this.seed, i - 1)}.${hash32(this.seed, i - 1, 4).toString(36)}@mail.example.com>`,
    };
  }

  /** RFC 5322 bytes of message i. */
  raw(i: number): Buffer {
    return Buffer.from(buildRaw(this.meta(i), this.pools, rng(hash32(this.seed, i, 5))), 'latin1');
  }
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
function buildRaw(m: GeneratedMeta, pools: Pools, r: () => number): string {
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
    `Subject: ${m.kind === 'legacy' ? latin1Word(m.subject) : subject}`,
    `Message-ID: ${m.messageIdHeader}`,
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
  const alternative = (b: string) =>
    [
      `Content-Type: multipart/alternative; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      textQp,
      `--${b}`,
      'Content-Type: text/html; charset="UTF-8"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `<html><body><pre>=\r\n${textQp}=\r\n</pre></body></html>`,
      `--${b}--`,
      '',
    ].join('\r\n');
  const attachment = (name: string, type: string, size: number, inline = false) =>
    [
      `Content-Type: ${type}; name="${name}"`,
      `Content-Disposition: ${inline ? 'inline' : 'attachment'}; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      ...(inline ? [`Content-ID: <img-${m.id}@example.com>`] : []),
      '',
      pools.lines(r, pools.b64Lines, (size * 4) / 3),
    ].join('\r\n');
  let body: string;
  switch (m.kind) {
    case 'plain':
      body = ['Content-Type: text/plain; charset="UTF-8"', 'Content-Transfer-Encoding: quoted-printable', '', textQp].join('\r\n');
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
      body = alternative(boundary('alt'));
      break;
    case 'mixed': {
      const b = boundary('mix');
      const name = pick(r, ['report.pdf', 'invoice.pdf', 'photo.jpg', 'data.csv', 'Résumé.pdf']);
      const fileName = /^[\x20-\x7e]*$/.test(name) ? name : libmime.encodeWord(name, 'Q');
      body = [
        `Content-Type: multipart/mixed; boundary="${b}"`,
        '',
        `--${b}`,
        alternative(boundary('alt')),
        `--${b}`,
        attachment(
          fileName,
          name.endsWith('.jpg') ? 'image/jpeg' : name.endsWith('.csv') ? 'text/csv' : 'application/pdf',
          intBetween(r, 3000, 40000),
        ),
        `--${b}--`,
        '',
      ].join('\r\n');
      break;
    }
    case 'related': {
      const b = boundary('rel');
      body = [
        `Content-Type: multipart/related; boundary="${b}"`,
        '',
        `--${b}`,
        'Content-Type: text/html; charset="UTF-8"',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        `<html><body><img src=3D"cid:img-${m.id}@example.com"><pre>=\r\n${textQp}=\r\n</pre></body></html>`,
        `--${b}`,
        attachment('logo.png', 'image/png', intBetween(r, 1000, 8000), true),
        `--${b}--`,
        '',
      ].join('\r\n');
      break;
    }
    case 'nested': {
      const outer = boundary('mix');
      const rel = boundary('rel');
      body = [
        `Content-Type: multipart/mixed; boundary="${outer}"`,
        '',
        `--${outer}`,
        `Content-Type: multipart/related; boundary="${rel}"`,
        '',
        `--${rel}`,
        alternative(boundary('alt')),
        `--${rel}`,
        attachment('chart.png', 'image/png', intBetween(r, 1000, 6000), true),
        `--${rel}--`,
        `--${outer}`,
        attachment('notes.txt', 'text/plain', intBetween(r, 500, 3000)),
        `--${outer}`,
        attachment('archive.zip', 'application/zip', intBetween(r, 5000, 30000)),
        `--${outer}--`,
        '',
      ].join('\r\n');
      break;
    }
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
function latin1Text(text: string): string {
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
