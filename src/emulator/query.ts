import { USER_LABELS } from './generate.js';
import type { MessageView } from './mailbox.js';

/**
 * The subset of Gmail search syntax the emulator understands: after:/before: (YYYY/MM/DD, YYYY-MM-DD or epoch
 * seconds; dates are UTC midnight), newer_than:/older_than: (Nd, Nm, Ny), label:/in:/is:, from:, to:, cc:, subject:,
 * has:attachment, quoted phrases, bare words (subject or sender), and negation with "-". Terms are ANDed.
 */
export interface ParsedQuery {
  after?: number;
  before?: number;
  predicates: ((m: MessageView) => boolean)[];
  /** True when the query names spam, trash or anywhere, which lifts the default exclusion of SPAM/TRASH. */
  mentionsSpamTrash: boolean;
}

export class QueryError extends Error {}

const SYSTEM_NAMES: Record<string, string> = {
  inbox: 'INBOX',
  sent: 'SENT',
  draft: 'DRAFT',
  drafts: 'DRAFT',
  spam: 'SPAM',
  trash: 'TRASH',
  unread: 'UNREAD',
  starred: 'STARRED',
  important: 'IMPORTANT',
  personal: 'CATEGORY_PERSONAL',
  social: 'CATEGORY_SOCIAL',
  promotions: 'CATEGORY_PROMOTIONS',
  updates: 'CATEGORY_UPDATES',
  forums: 'CATEGORY_FORUMS',
};

/** The user labels of a mailbox nothing renamed or deleted, id → name. */
const GENERATED_LABELS: ReadonlyMap<string, string> = new Map(USER_LABELS.map((l) => [l.id, l.name]));

/**
 * Resolves a label name or id as Gmail's search does (case-insensitive; "/" and " " may be written "-"), among the
 * mailbox's user labels (`labels`, id → name, as renamed and deleted).
 */
export function resolveLabel(name: string, labels: ReadonlyMap<string, string> = GENERATED_LABELS): string | undefined {
  const n = name.toLowerCase();
  if (SYSTEM_NAMES[n]) return SYSTEM_NAMES[n];
  if (n.startsWith('category_') || n.startsWith('category-')) return n.toUpperCase().replace('-', '_');
  const norm = (s: string) => s.toLowerCase().replace(/[/ ]/g, '-');
  return [...labels].find(([id, label]) => id.toLowerCase() === n || norm(label) === norm(name))?.[0];
}

function parseDate(value: string): number {
  if (/^\d{9,11}$/.test(value)) return Number(value) * 1000;
  const m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(value);
  if (!m) throw new QueryError(`Invalid date "${value}"`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

function parseAge(value: string, now: number): number {
  const m = /^(\d+)([dmy])$/.exec(value);
  if (!m) throw new QueryError(`Invalid age "${value}" (use e.g. 7d, 2m, 1y)`);
  const n = Number(m[1]);
  const d = new Date(now);
  if (m[2] === 'd') return now - n * 86_400_000;
  if (m[2] === 'm') return d.setUTCMonth(d.getUTCMonth() - n);
  return d.setUTCFullYear(d.getUTCFullYear() - n);
}

function tokenize(q: string): string[] {
  return q.match(/-?[a-zA-Z_]+:"[^"]*"|-?"[^"]*"|\S+/g) ?? [];
}

const contains = (hay: string, needle: string) => hay.toLowerCase().includes(needle.toLowerCase());

/** Parses a Gmail `q`; throws QueryError (400 invalidArgument) on what it cannot read. */
export function parseQuery(q: string | undefined, now = Date.now(), labels?: ReadonlyMap<string, string>): ParsedQuery {
  const out: ParsedQuery = { predicates: [], mentionsSpamTrash: false };
  for (const token of tokenize(q ?? '')) {
    const negate = token.startsWith('-') && token.length > 1;
    const body = negate ? token.slice(1) : token;
    const colon = body.indexOf(':');
    const op = colon > 0 && !body.startsWith('"') ? body.slice(0, colon).toLowerCase() : '';
    const value = (op ? body.slice(colon + 1) : body).replace(/^"|"$/g, '');
    if (op && value === '') throw new QueryError(`Empty value for ${op}:`);
    let test: (m: MessageView) => boolean;
    switch (op) {
      case 'after':
      case 'before':
      case 'newer_than':
      case 'older_than': {
        const t = op === 'after' || op === 'before' ? parseDate(value) : parseAge(value, now);
        const isLowerBound = op === 'after' || op === 'newer_than';
        if (!negate) {
          if (isLowerBound) out.after = Math.max(out.after ?? -Infinity, t);
          else out.before = Math.min(out.before ?? Infinity, t);
        }
        test = isLowerBound ? (m) => m.internalDate >= t : (m) => m.internalDate < t;
        break;
      }
      case 'label':
      case 'in':
      case 'is': {
        if (value.toLowerCase() === 'anywhere') {
          out.mentionsSpamTrash = true;
          continue;
        }
        const id = resolveLabel(value, labels);
        if (!id && op !== 'label') throw new QueryError(`Unknown label "${value}"`);
        // As Gmail: a label no mailbox label answers to (deleted, renamed, never made) matches nothing, no error.
        if (!id) {
          test = () => false;
          break;
        }
        if (id === 'SPAM' || id === 'TRASH') out.mentionsSpamTrash = true;
        test = (m) => m.labelIds.includes(id);
        break;
      }
      case 'from':
        test = (m) => contains(m.from.address, value) || contains(m.from.name, value);
        break;
      case 'to':
        test = (m) => m.to.some((a) => contains(a, value));
        break;
      case 'cc':
        test = (m) => m.cc.some((a) => contains(a, value));
        break;
      case 'subject':
        test = (m) => contains(m.subject, value);
        break;
      case 'has':
        if (value.toLowerCase() !== 'attachment') throw new QueryError(`Unsupported has:${value}`);
        test = (m) => m.hasAttachment;
        break;
      case '':
        test = (m) => contains(m.subject, value) || contains(m.from.address, value) || contains(m.from.name, value);
        break;
      default:
        throw new QueryError(`Unsupported search operator "${op}:"`);
    }
    out.predicates.push(negate ? (m) => !test(m) : test);
  }
  return out;
}
