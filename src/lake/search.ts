/**
 * Gmail's search over the lake: the query read by the shared syntax (src/search/syntax.ts) and compiled to one SQL
 * statement over lake.messages (and lake.attachments for filename:), with the same meaning the emulator gives it
 * (src/search/evaluate.ts): the search tests hold the two to the same ids. Newest first, paged by a cursor.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { decodeAnyCursor, encodeCursor, encodeOffsetCursor } from '../search/cursor.js';
import { TEXT_FIELDS } from '../search/evaluate.js';
import { resolveLabel } from '../search/labels.js';
import { mentionsSpamTrash, parseQuery, type QueryNode, type Term } from '../search/syntax.js';
import { SQL_NON_WORD } from '../search/words.js';
import type { Lake } from './lake.js';
import { FIELD_SQL } from './search-fields.js';
import { iso } from './read.js';
import { CURRENT_LABELS } from './runs.js';
import { type IndexFeed, indexFeed } from './index-feed.js';
import { queryIndex } from '../search-index/query.js';
import { LABEL_SEP } from '../search-index/store.js';
import { setTimeout as delay } from 'node:timers/promises';

export interface SearchOptions {
  account: string;
  q?: string;
  /** At most this many messages (1–500). */
  limit: number;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: string;
  /** "now" for newer_than:/older_than: (default the clock). */
  now?: number;
  /** The time zone of after:/before: dates' midnights (default DEFAULT_TIME_ZONE: Pacific time, as Gmail's API). */
  timeZone?: string;
  /** Search spam and trash whatever the query says (export: the whole mailbox, as Takeout). */
  spamTrash?: boolean;
  /** Also messages deleted in Gmail (kept in the lake with deleted_at). */
  deleted?: boolean;
  /** The account's user labels (userLabels), when the caller has them already: one query less per page. */
  labels?: ReadonlyMap<string, string>;
  /** Bare words rank by relevance (the default, once the search index is current), or every page is newest first. */
  order?: 'relevance' | 'date';
  /**
   * The search index (SEARCH_INDEX): how long to wait for it to reach the lake's newest snapshot (default 2 s) before
   * the lake answers instead; false: the lake answers.
   */
  index?: { waitMs?: number } | false;
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
  /** How the page is ordered: by relevance (bare words, from the index), else newest first. */
  order: 'relevance' | 'date';
  /** What answered: the search index (current to the lake's newest snapshot), or the lake (index off or being built). */
  source: 'index' | 'lake';
}

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
  const rows = await lake.query<{ id: string; name: string }>(`SELECT id, name FROM ${CURRENT_LABELS} WHERE type IN ('user', 'imported')`, {
    account,
  });
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A hit's sender as one text: `Name <address>`, or the address alone. */
const sender = (name: string | null, address: string | null) => (name ? `${name} <${address ?? ''}>` : address);

/** A message's date for ordering and paging: a message without one (never from Gmail) sorts last, at 1970. */
const DATE = `coalesce(m.internal_date, TIMESTAMP '1970-01-01')`;

/** One page of the account's messages matching `q`, newest first. Throws QueryError on a query Gmail would refuse. */
export async function searchMessages(lake: Lake, o: SearchOptions): Promise<SearchPage> {
  const tree = parseQuery(o.q, { now: o.now, timeZone: o.timeZone });
  const feed = o.index === false ? undefined : await currentIndex(lake, o.index ?? {});
  const labels = o.labels ?? (feed ? feed.store.labels(o.account) : await userLabels(lake, o.account));
  const resolve = (name: string) => resolveLabel(name, labels);
  if (feed) {
    const page = queryIndex(feed.store, {
      account: o.account,
      tree,
      resolve,
      limit: o.limit,
      cursor: o.cursor,
      spamTrash: Boolean(o.spamTrash) || mentionsSpamTrash(tree, resolve),
      deleted: Boolean(o.deleted),
      order: o.order ?? 'relevance',
    });
    return {
      messages: page.rows.map((r) => ({
        id: r.id,
        threadId: r.thread_id,
        internalDate: r.internal_date,
        from: sender(r.from_name, r.from_address),
        subject: r.subject,
        snippet: r.snippet,
        labelIds: r.labels.split(LABEL_SEP).filter(Boolean),
      })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      order: page.order,
      source: 'index',
    };
  }
  const p = new Params();
  const where = [`m.account = ${p.add(o.account)}`, nodeSql(tree, p, resolve)];
  if (!o.deleted) where.push('m.deleted_at IS NULL');
  if (!o.spamTrash && !mentionsSpamTrash(tree, resolve)) where.push(`NOT coalesce(list_has_any(m.label_ids, ['SPAM', 'TRASH']), false)`);
  // A ranked page's cursor (the index answered the last page) goes on by offset, newest first.
  const cursor = o.cursor ? decodeAnyCursor(o.cursor) : undefined;
  if (cursor?.kind === 'date') {
    const at = `make_timestamp(${p.add(cursor.micros)}::BIGINT)`;
    where.push(`(${DATE} < ${at} OR (${DATE} = ${at} AND m.id < ${p.add(cursor.id)}))`);
  }
  const offset = cursor?.kind === 'offset' ? cursor.offset : 0;
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
      LIMIT ${Math.trunc(o.limit) + 1} OFFSET ${offset}`,
    p.values,
  );
  const page = rows.slice(0, o.limit);
  const last = page.at(-1);
  return {
    messages: page.map((r) => ({
      id: r.id,
      threadId: r.thread_id,
      internalDate: iso(r.internal_date),
      from: sender(r.from_name, r.from_address),
      subject: r.subject,
      snippet: r.snippet,
      labelIds: r.label_ids ?? [],
    })),
    ...(rows.length > o.limit && last
      ? { nextCursor: cursor?.kind === 'offset' ? encodeOffsetCursor(offset + o.limit) : encodeCursor(BigInt(last.micros), last.id) }
      : {}),
    order: 'date',
    source: 'lake',
  };
}

/**
 * The lake's search index, brought to its newest snapshot within `waitMs`; undefined when it is off, cannot be opened,
 * or took longer (its refresh goes on: a short-lived process stops it with closeIndexFeed before closing the lake). A
 * refresh that fails leaves the lake to answer, and its error in the feed's `lastError` (the API logs it).
 */
async function currentIndex(lake: Lake, o: { waitMs?: number }): Promise<IndexFeed | undefined> {
  let feed: IndexFeed | undefined;
  try {
    feed = await indexFeed(lake);
  } catch {
    return undefined;
  }
  if (!feed) return undefined;
  const refresh = feed.refresh().then(
    () => true,
    () => false,
  );
  const timer = new AbortController();
  const current = await Promise.race([refresh, delay(o.waitMs ?? 2_000, false, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  return current ? feed : undefined;
}
