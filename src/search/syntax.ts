/**
 * Gmail's search syntax, read once into a tree that two evaluators walk: the emulator's (Google's stand-in, over the
 * messages it serves) and the lake's (compiled to SQL over the stored rows). What each term means is defined here and
 * in ./words.ts, so the two can only differ in what they read, which is what the search tests compare.
 *
 * Grammar (as Gmail's help describes it): terms side by side are ANDed; `OR` (upper case) between two terms, and
 * `{a b}`, are OR, which binds tighter than the implicit AND; `( … )` groups; `-` negates the term or group after it;
 * `op:value`, `op:"a phrase"`, `op:(a b)` / `op:{a b}` (the operator applied to each term inside); `"a phrase"`; `AND`
 * is accepted and ignored. Words match whole words (case-insensitive), a phrase its words in order.
 */
import { words } from './words.js';

/** The operators that match words of a field. `text` is a bare word: subject, body and addresses. */
export const WORD_FIELDS = ['text', 'from', 'to', 'cc', 'bcc', 'subject', 'filename', 'list'] as const;
export type WordField = (typeof WORD_FIELDS)[number];

export type Term =
  /** Whole words, in this order, in the field. */
  | { kind: 'words'; field: WordField; words: string[] }
  /** A label as the user wrote it (label:, in:, is:, category:), resolved against the mailbox's labels. */
  | { kind: 'label'; name: string }
  /** in:anywhere: everything, spam and trash included. */
  | { kind: 'anywhere' }
  /** is:read (no UNREAD label). */
  | { kind: 'read' }
  | { kind: 'attachment' }
  /** internalDate ≥ at (after:, newer_than:) or < at (before:, older_than:), milliseconds. */
  | { kind: 'date'; bound: 'after' | 'before'; at: number }
  /** sizeEstimate > bytes (larger:, size:) or < bytes (smaller:). */
  | { kind: 'size'; bound: 'larger' | 'smaller'; bytes: number }
  /** The Message-ID header, without its angle brackets, compared case-insensitively. */
  | { kind: 'msgid'; id: string };

export type QueryNode =
  | { type: 'and'; children: QueryNode[] }
  | { type: 'or'; children: QueryNode[] }
  | { type: 'not'; child: QueryNode }
  | { type: 'term'; term: Term };

/** A query Gmail would refuse, with where (0-based character offset) and which operator. */
export class QueryError extends Error {
  constructor(
    readonly position: number,
    readonly detail: string,
    readonly operator?: string,
  ) {
    super(`at position ${position}${operator ? ` (${operator}:)` : ''}: ${detail}`);
  }
}

export interface ParseOptions {
  /** "now" for newer_than:/older_than:, in milliseconds. */
  now?: number;
  /** The IANA time zone dates (after:2024/01/31) are midnights of. Default DEFAULT_TIME_ZONE, as Gmail's API. */
  timeZone?: string;
}

const OPERATORS = new Set([
  ...WORD_FIELDS.filter((f) => f !== 'text'),
  'label',
  'in',
  'is',
  'category',
  'has',
  'after',
  'before',
  'newer',
  'older',
  'newer_than',
  'older_than',
  'larger',
  'smaller',
  'size',
  'rfc822msgid',
]);

/** Brackets nested deeper than this are refused: SQL has its own limit on how deep an expression goes. */
const MAX_DEPTH = 32;
/** A query of more terms than this is refused: each is a scan of the lake's text (no one types fifty). */
const MAX_TERMS = 50;

type Token =
  | { t: 'word'; text: string; at: number }
  | { t: 'phrase'; text: string; at: number }
  | { t: 'op'; op: string; at: number }
  | { t: '(' | ')' | '{' | '}' | '-' | 'OR'; at: number };

/** Splits a query into words, phrases, operators (`from:`), brackets, `-` and `OR`. */
function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if ('(){}'.includes(c)) {
      out.push({ t: c as '(' | ')' | '{' | '}', at: i++ });
    } else if (c === '"') {
      const end = q.indexOf('"', i + 1);
      if (end < 0) throw new QueryError(i, 'a quote is never closed');
      out.push({ t: 'phrase', text: q.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (c === '-' && i + 1 < q.length && !/\s/.test(q[i + 1]!) && (out.length === 0 || /[\s({]/.test(q[i - 1]!))) {
      out.push({ t: '-', at: i++ });
    } else {
      const m = /^[^\s(){}"]+/.exec(q.slice(i))!;
      const text = m[0];
      const op = /^([a-zA-Z][a-zA-Z0-9_]*):/.exec(text);
      if (op && OPERATORS.has(op[1]!.toLowerCase())) {
        out.push({ t: 'op', op: op[1]!.toLowerCase(), at: i });
        i += op[0].length;
        // The value runs to the next space or bracket, colons and all (subject:Re:budget).
        const value = /^[^\s(){}"]+/.exec(q.slice(i));
        if (value) {
          out.push({ t: 'word', text: value[0], at: i });
          i += value[0].length;
        }
        continue;
      }
      // A word before a colon that names no operator is refused, as the emulator's Gmail does; operators start with a
      // letter and a link is not one, so 10:30 and https://… are words.
      if (op && text.length > op[0].length && !text.startsWith(`${op[0]}//`))
        throw new QueryError(i, `unknown operator "${op[1]}:"`, op[1]);
      out.push(text === 'OR' ? { t: 'OR', at: i } : { t: 'word', text, at: i });
      i += text.length;
    }
  }
  return out;
}

/**
 * The zone of a query's dates when none is given: Gmail's API reads them as midnights "in the PST timezone" (its guide,
 * "Search and filter messages": dates in other zones are given as seconds instead), which is Pacific time. The web UI
 * reads them in the user's own zone: `tz` gives that.
 */
export const DEFAULT_TIME_ZONE = 'America/Los_Angeles';

/** Parses a Gmail query (`undefined` or blank: everything). Throws QueryError on what Gmail would refuse. */
export function parseQuery(q: string | undefined, options: ParseOptions = {}): QueryNode {
  const tokens = tokenize(q ?? '');
  let k = 0;
  const now = options.now ?? Date.now();
  const tz = options.timeZone ?? DEFAULT_TIME_ZONE;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new QueryError(0, `unknown time zone "${tz}" (an IANA name, e.g. Europe/Paris)`);
  }
  const peek = () => tokens[k];
  let depth = 0;

  /** and := or+ (up to a closing bracket or the end). */
  const and = (op: string | undefined, close?: ')' | '}'): QueryNode[] => {
    const items: QueryNode[] = [];
    for (let tok = peek(); tok && tok.t !== close; tok = peek()) {
      if (tok.t === ')' || tok.t === '}') throw new QueryError(tok.at, `"${tok.t}" closes nothing`);
      if (tok.t === 'word' && tok.text === 'AND') {
        k++;
        continue;
      }
      items.push(or(op));
    }
    return items;
  };
  /** or := unary ('OR' unary)*. */
  const or = (op: string | undefined): QueryNode => {
    const items = [unary(op)];
    while (peek()?.t === 'OR') {
      const at = tokens[k++]!.at;
      if (!peek() || peek()!.t === ')' || peek()!.t === '}') throw new QueryError(at, 'OR needs a term after it');
      items.push(unary(op));
    }
    return items.length === 1 ? items[0]! : { type: 'or', children: items };
  };
  const unary = (op: string | undefined): QueryNode => {
    const tok = tokens[k++]!;
    switch (tok.t) {
      case '-': {
        if (!peek()) throw new QueryError(tok.at, '"-" needs a term after it');
        return { type: 'not', child: unary(op) };
      }
      case '(':
      case '{': {
        if (++depth > MAX_DEPTH) throw new QueryError(tok.at, `brackets nested deeper than ${MAX_DEPTH}`);
        const close = tok.t === '(' ? ')' : '}';
        const items = and(op, close);
        if (peek()?.t !== close) throw new QueryError(tok.at, `"${tok.t}" is never closed`);
        k++;
        depth--;
        return { type: tok.t === '(' ? 'and' : 'or', children: items };
      }
      case 'op': {
        const next = peek();
        if (!next || next.t === ')' || next.t === '}' || next.t === 'OR' || next.at !== tok.at + tok.op.length + 1)
          throw new QueryError(tok.at, 'a value must follow the colon', tok.op);
        if (next.t === '(' || next.t === '{') return unary(tok.op);
        if (next.t !== 'word' && next.t !== 'phrase') throw new QueryError(next.at, 'a value must follow the colon', tok.op);
        k++;
        return term(tok.op, next.text, tok.at);
      }
      case 'word':
      case 'phrase':
        return term(op ?? 'text', tok.text, tok.at);
      case 'OR':
        throw new QueryError(tok.at, 'OR needs a term before it');
      default:
        throw new QueryError(tok.at, `"${tok.t}" closes nothing`);
    }
  };
  let terms = 0;
  const term = (op: string, value: string, at: number): QueryNode => {
    if (++terms > MAX_TERMS) throw new QueryError(at, `more than ${MAX_TERMS} terms`);
    const node = (t: Term): QueryNode => ({ type: 'term', term: t });
    const fail = (detail: string): never => {
      throw new QueryError(at, detail, op === 'text' ? undefined : op);
    };
    const v = value.toLowerCase();
    switch (op) {
      case 'text':
      case 'from':
      case 'to':
      case 'cc':
      case 'bcc':
      case 'subject':
      case 'filename':
      case 'list': {
        const w = words(value);
        // A bare "!!" has no word to look for: Gmail ignores it. A phrase and a bare value alike match their words in order.
        if (!w.length) return op === 'text' ? { type: 'and', children: [] } : fail('expects a word');
        return node({ kind: 'words', field: op, words: w });
      }
      case 'label':
        return node({ kind: 'label', name: value });
      case 'in':
        return node(v === 'anywhere' ? { kind: 'anywhere' } : { kind: 'label', name: value });
      case 'is':
        return node(v === 'read' ? { kind: 'read' } : { kind: 'label', name: value });
      case 'category':
        return node({ kind: 'label', name: `CATEGORY_${v === 'primary' ? 'PERSONAL' : v.toUpperCase()}` });
      case 'has':
        if (v !== 'attachment') fail(`has:${value} is not supported (has:attachment is)`);
        return node({ kind: 'attachment' });
      case 'after':
      case 'before':
        return node({
          kind: 'date',
          bound: op,
          at: dateValue(value, tz) ?? fail(`expects a date (2024/01/31, 2024-01-31 or seconds since 1970), not "${value}"`),
        });
      case 'newer':
      case 'older':
      case 'newer_than':
      case 'older_than':
        return node({
          kind: 'date',
          bound: op.startsWith('newer') ? 'after' : 'before',
          at: ageValue(value, now) ?? fail(`expects an age (7d, 2m, 1y), not "${value}"`),
        });
      case 'larger':
      case 'size':
      case 'smaller':
        return node({
          kind: 'size',
          bound: op === 'smaller' ? 'smaller' : 'larger',
          bytes: sizeValue(value) ?? fail(`expects a size (500, 20k, 10M), not "${value}"`),
        });
      case 'rfc822msgid':
        return node({ kind: 'msgid', id: value.replace(/^<|>$/g, '').toLowerCase() });
      default:
        return fail('unknown operator');
    }
  };

  const items = and(undefined);
  if (k < tokens.length) throw new QueryError(tokens[k]!.at, `"${(tokens[k] as { t: string }).t}" closes nothing`);
  return items.length === 1 ? items[0]! : { type: 'and', children: items };
}

/** Midnight starting a calendar day in a time zone, in milliseconds. */
function midnight(year: number, month: number, day: number, timeZone: string): number {
  const utc = Date.UTC(year, month - 1, day);
  if (timeZone === 'UTC') return utc;
  // The zone's offset at that instant, applied twice to land on its own midnight across an offset change.
  const offset = (t: number) => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    }).formatToParts(t);
    const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
    return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - t;
  };
  const first = utc - offset(utc);
  return utc - offset(first);
}

/** after:/before: a date (YYYY/MM/DD or YYYY-MM-DD, midnight in the zone) or seconds since 1970. */
export function dateValue(value: string, timeZone: string): number | undefined {
  if (/^\d{9,11}$/.test(value)) return Number(value) * 1000;
  const m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  return midnight(y, mo, d, timeZone);
}

/** newer_than:/older_than: N days, months or years before now. */
export function ageValue(value: string, now: number): number | undefined {
  const m = /^(\d+)([dmy])$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const d = new Date(now);
  const unit = m[2]!.toLowerCase();
  if (unit === 'd') return now - n * 86_400_000;
  if (unit === 'm') return d.setUTCMonth(d.getUTCMonth() - n);
  return d.setUTCFullYear(d.getUTCFullYear() - n);
}

/** larger:/smaller: bytes, with an optional K or M (1024-based, as Gmail). */
export function sizeValue(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([km]?)b?$/i.exec(value);
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1));
}

/** True when the query names spam, trash or anywhere outside a negation: Gmail then searches spam and trash too. */
export function mentionsSpamTrash(node: QueryNode, resolve: (name: string) => string | undefined): boolean {
  switch (node.type) {
    case 'not':
      return false;
    case 'and':
    case 'or':
      return node.children.some((c) => mentionsSpamTrash(c, resolve));
    case 'term': {
      const t = node.term;
      if (t.kind === 'anywhere') return true;
      if (t.kind !== 'label') return false;
      const id = resolve(t.name);
      return id === 'SPAM' || id === 'TRASH';
    }
  }
}

/** The date bounds every match must satisfy (top-level after:/before: terms), for a listing to skip what is outside. */
export function dateBounds(node: QueryNode): { after?: number; before?: number } {
  const terms = node.type === 'and' ? node.children : [node];
  const out: { after?: number; before?: number } = {};
  for (const n of terms)
    if (n.type === 'term' && n.term.kind === 'date') {
      if (n.term.bound === 'after') out.after = Math.max(out.after ?? -Infinity, n.term.at);
      else out.before = Math.min(out.before ?? Infinity, n.term.at);
    }
  return out;
}
