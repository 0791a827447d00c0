/**
 * Gmail's search over the lake: the query read by the shared syntax (src/search/syntax.ts) and compiled to one SQL
 * statement over lake.messages (and lake.attachments for filename:), with the same meaning the emulator gives it
 * (src/search/evaluate.ts): the search tests hold the two to the same ids. Newest first, paged by a cursor.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { decodeCursor, encodeCursor } from '../search/cursor.js';
import { TEXT_FIELDS } from '../search/evaluate.js';
import { resolveLabel } from '../search/labels.js';
import { mentionsSpamTrash, parseQuery, type QueryNode, type Term, type WordField } from '../search/syntax.js';
import { SQL_NON_WORD } from '../search/words.js';
import type { Lake } from './lake.js';

export interface SearchOptions {
  account: string;
  q?: string;
  /** At most this many messages (1–500). */
  limit: number;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: string;
  /** "now" for newer_than:/older_than: (default the clock). */
  now?: number;
  /** The mailbox's time zone, for the midnights of after:/before: dates (default UTC). */
  timeZone?: string;
  /** Search spam and trash whatever the query says (export: the whole mailbox, as Takeout). */
  spamTrash?: boolean;
  /** Also messages deleted in Gmail (kept in the lake with deleted_at). */
  deleted?: boolean;
  /** The account's user labels (userLabels), when the caller has them already: one query less per page. */
  labels?: ReadonlyMap<string, string>;
}

export interface SearchHit {
  id: string;
  threadId: string | null;
  internalDate: string | null;
  from: string | null;
  subject: string | null;
  snippet: string | null;
  labelIds: string[];
}

export interface SearchPage {
  messages: SearchHit[];
  /** Pass as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** A header's values (all fields of that name), as one text. */
const header = (name: string) =>
  `array_to_string(list_transform(list_filter(m.headers, h -> lower(h.name) = '${name}'), h -> h.value), ' ')`;

/** Each word field's text, as SQL over a message row `m`. */
const FIELD_SQL: Record<Exclude<WordField, 'text'> | 'body', string> = {
  subject: 'm.subject',
  from: "concat_ws(' ', m.from_name, m.from_address)",
  to: header('to'),
  cc: header('cc'),
  bcc: header('bcc'),
  // The text part, else the HTML one without its tags.
  body: "coalesce(m.body_text, regexp_replace(m.body_html, '<[^>]*>', ' ', 'g'))",
  filename:
    "(SELECT string_agg(a.filename, ' ' ORDER BY a.part_id) FROM lake.attachments a WHERE a.account = m.account AND a.message_id = m.id)",
  list: header('list-id'),
};

/** The statement's parameters, named $p0, $p1… */
class Params {
  readonly values: Record<string, DuckDBValue> = {};
  private n = 0;
  add(v: DuckDBValue): string {
    const name = `p${this.n++}`;
    this.values[name] = v;
    return `$${name}`;
  }
}

/**
 * SQL that is true when the field holds the words side by side, in order (the twin of words.ts's hasWords): one RE2
 * scan for the words with only non-word characters between them and none on either side. Words are letters and
 * digits only, so they need no escaping.
 */
function wordsSql(sql: string, ws: string[], p: Params): string {
  const pattern = `(^|${SQL_NON_WORD})${ws.join(`${SQL_NON_WORD}+`)}(${SQL_NON_WORD}|$)`;
  // NFC only where it can change something (a combining mark, a Hangul jamo): normalizing every body costs 6× the match.
  const nfc = `CASE WHEN regexp_matches(${sql}, '[\\p{M}\\x{1100}-\\x{11FF}]') THEN nfc_normalize(${sql}) ELSE ${sql} END`;
  return `coalesce(regexp_matches(lower(${nfc}), ${p.add(pattern)}), false)`;
}

function termSql(t: Term, p: Params, resolve: (name: string) => string | undefined): string {
  switch (t.kind) {
    case 'words':
      return t.field === 'text'
        ? `(${TEXT_FIELDS.map((f) => wordsSql(FIELD_SQL[f], t.words, p)).join(' OR ')})`
        : wordsSql(FIELD_SQL[t.field], t.words, p);
    case 'label': {
      const id = resolve(t.name);
      return id === undefined ? 'false' : `coalesce(list_contains(m.label_ids, ${p.add(id)}), false)`;
    }
    case 'anywhere':
      return 'true';
    case 'read':
      return `NOT coalesce(list_contains(m.label_ids, 'UNREAD'), false)`;
    case 'attachment':
      return `EXISTS (SELECT 1 FROM lake.attachments a WHERE a.account = m.account AND a.message_id = m.id AND a.disposition = 'attachment')`;
    case 'date':
      return `coalesce(m.internal_date ${t.bound === 'after' ? '>=' : '<'} make_timestamp(${p.add(BigInt(t.at) * 1000n)}::BIGINT), false)`;
    case 'size':
      return `coalesce(m.size_estimate ${t.bound === 'larger' ? '>' : '<'} ${p.add(t.bytes)}, false)`;
    case 'msgid':
      return `coalesce(lower(trim(m.message_id_header, '<> ')) = ${p.add(t.id)}, false)`;
  }
}

function nodeSql(node: QueryNode, p: Params, resolve: (name: string) => string | undefined): string {
  switch (node.type) {
    case 'and':
      return node.children.length ? `(${node.children.map((c) => nodeSql(c, p, resolve)).join(' AND ')})` : 'true';
    case 'or':
      return node.children.length ? `(${node.children.map((c) => nodeSql(c, p, resolve)).join(' OR ')})` : 'false';
    case 'not':
      return `(NOT ${nodeSql(node.child, p, resolve)})`;
    case 'term':
      return termSql(node.term, p, resolve);
  }
}

/** The account's user labels as its latest extraction or sync saw them, id → name. */
export async function userLabels(lake: Lake, account: string): Promise<Map<string, string>> {
  const rows = await lake.query<{ id: string; name: string }>(
    `SELECT id, name FROM lake.labels WHERE account = $account AND type IN ('user', 'imported')
       AND fetched_at = (SELECT max(fetched_at) FROM lake.labels WHERE account = $account)`,
    { account },
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A message's date for ordering and paging: a message without one (never from Gmail) sorts last, at 1970. */
const DATE = `coalesce(m.internal_date, TIMESTAMP '1970-01-01')`;

/** One page of the account's messages matching `q`, newest first. Throws QueryError on a query Gmail would refuse. */
export async function searchMessages(lake: Lake, o: SearchOptions): Promise<SearchPage> {
  const tree = parseQuery(o.q, { now: o.now, timeZone: o.timeZone });
  const labels = o.labels ?? (await userLabels(lake, o.account));
  const resolve = (name: string) => resolveLabel(name, labels);
  const p = new Params();
  const where = [`m.account = ${p.add(o.account)}`, nodeSql(tree, p, resolve)];
  if (!o.deleted) where.push('m.deleted_at IS NULL');
  if (!o.spamTrash && !mentionsSpamTrash(tree, resolve)) where.push(`NOT coalesce(list_has_any(m.label_ids, ['SPAM', 'TRASH']), false)`);
  if (o.cursor) {
    const [micros, id] = decodeCursor(o.cursor);
    const at = `make_timestamp(${p.add(micros)}::BIGINT)`;
    where.push(`(${DATE} < ${at} OR (${DATE} = ${at} AND m.id < ${p.add(id)}))`);
  }
  const rows = await lake.query<{
    id: string;
    thread_id: string | null;
    micros: string | number;
    internal_date: string | null;
    from_address: string | null;
    from_name: string | null;
    subject: string | null;
    snippet: string | null;
    label_ids: string[] | null;
  }>(
    `SELECT m.id, m.thread_id, epoch_us(${DATE})::VARCHAR AS micros, m.internal_date, m.from_address, m.from_name,
            m.subject, m.snippet, m.label_ids
       FROM lake.messages m
      WHERE ${where.join('\n        AND ')}
      ORDER BY ${DATE} DESC, m.id DESC
      LIMIT ${Math.trunc(o.limit) + 1}`,
    p.values,
  );
  const page = rows.slice(0, o.limit);
  const last = page.at(-1);
  return {
    messages: page.map((r) => ({
      id: r.id,
      threadId: r.thread_id,
      internalDate: r.internal_date === null ? null : new Date(`${r.internal_date.replace(' ', 'T')}Z`).toISOString(),
      from: r.from_name ? `${r.from_name} <${r.from_address ?? ''}>` : r.from_address,
      subject: r.subject,
      snippet: r.snippet,
      labelIds: r.label_ids ?? [],
    })),
    ...(rows.length > o.limit && last ? { nextCursor: encodeCursor(BigInt(last.micros), last.id) } : {}),
  };
}
