import { buildRaw, type GeneratedMeta, latin1Text, type MessageKind, poolsFor, type Pools } from './generated-mime.js';
import { hash32, intBetween, pick, rng } from './random.js';

export type { GeneratedMeta, MessageKind } from './generated-mime.js';

/**
 * Deterministic, lazy mailbox content: message i of (seed, size) is computed on demand, so a 1,000,000-message mailbox
 * costs no more memory than a small one. `meta(i)` is cheap (used for listing and filtering); `raw(i)` builds the
 * RFC 5322 bytes. Dates rise with i, so "newest first" is simply descending index.
 */
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

const START = Date.UTC(2019, 0, 1);
const END = Date.UTC(2026, 10, 1);

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

/** Large messages: every `every`-th one (index 0, every, 2·every…) carries an attachment of minBytes to maxBytes. */
export interface LargeMessages {
  every: number;
  minBytes: number;
  maxBytes: number;
}

export class GeneratedMailbox {
  private readonly pools: Pools;
  constructor(
    readonly seed: string,
    readonly size: number,
    readonly owner: string,
    readonly large?: LargeMessages,
    /** Share of messages that reply to the one before (a thread is a run of replies, at most 9 long). */
    readonly replyRate = 0.35,
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
    return i > 0 && rng(hash32(this.seed, i, 2))() < this.replyRate;
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
    const person = (rand = r) => {
      const first = pick(rand, FIRST);
      const last = pick(rand, LAST);
      const domain = pick(rand, DOMAINS);
      const ascii = (w: string) =>
        w
          .normalize('NFD')
          .replace(/[^a-zA-Z]/g, '')
          .toLowerCase();
      const local = [ascii(first), ascii(last)].filter(Boolean).join('.') || `user${intBetween(rand, 1, 99)}`;
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
    // Drawn from their own stream, so adding them changed nothing else of a seed's messages.
    const extra = rng(hash32(this.seed, i, 8));
    const bcc = sent && extra() < 0.3 ? [person(extra).address] : [];
    const listId = topic === 'Weekly newsletter' ? `Weekly newsletter <weekly.${from.address.split('@')[1]}>` : undefined;
    return {
      index: i,
      id,
      threadId: messageIdFor(this.seed, root),
      internalDate: this.internalDate(i),
      labelIds: labels,
      from,
      to,
      cc,
      bcc,
      ...(listId ? { listId } : {}),
      subject,
      ...(this.large && i % this.large.every === 0
        ? {
            hasAttachment: true,
            kind: 'mixed' as const,
            attachmentBytes: intBetween(rng(hash32(this.seed, i, 6)), this.large.minBytes, this.large.maxBytes),
          }
        : { hasAttachment: kind === 'mixed' || kind === 'nested', kind }),
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
