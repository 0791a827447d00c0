/**
 * Gmail's search over the index (./store.ts): the query tree (src/search/syntax.ts) compiled to one SQLite statement,
 * word terms as FTS5 phrase queries, the rest over `docs`: the same meaning as the emulator's evaluator and the lake's
 * SQL (src/lake/search.ts), which the search tests hold all three to. Bare words rank by BM25 (FTS5's bm25()), the
 * best first, unless the caller asks for newest first.
 */
import { decodeAnyCursor, encodeCursor, encodeOffsetCursor } from '../search/cursor.js';
import { TEXT_FIELDS } from '../search/evaluate.js';
import { dateBounds, type QueryNode, type Term } from '../search/syntax.js';
import { LABEL_SEP, type IndexStore } from './store.js';

type SqlValue = string | number | bigint | null;

export interface IndexQuery {
  account: string;
  tree: QueryNode;
  resolve: (name: string) => string | undefined;
  limit: number;
  cursor?: string;
  /** Spam and trash are searched too (the query names them, or the caller asks). */
  spamTrash: boolean;
  deleted: boolean;
  order: 'relevance' | 'date';
  /** The plan's thresholds (tests try every plan on one small index): DENSE and RANK_AT_MOST by default. */
  plan?: { dense: number; rankAtMost: number };
}

export interface IndexRow {
  id: string;
  thread_id: string | null;
  sort_micros: number;
  internal_date: string | null;
  from_address: string | null;
  from_name: string | null;
  subject: string | null;
  snippet: string | null;
  labels: string;
}

/** An FTS5 phrase over some columns: `{c_a c_b} : "w1 w2"` (words are letters and digits only: nothing to escape). */
function phrase(fields: readonly string[], words: string[]): string {
  return `{${fields.map((f) => `c_${f}`).join(' ')}} : "${words.join(' ')}"`;
}

function wordsPhrase(t: Extract<Term, { kind: 'words' }>): string {
  return phrase(t.field === 'text' ? TEXT_FIELDS : [t.field], t.words);
}

/**
 * A word expression that at least this share of the messages match (bare words ORed: at least the most common one's
 * holders) is checked message by message as the newest-first scan reaches them (an FTS5 lookup by rowid each), which
 * stops at the page's end after about limit ÷ share messages. Elsewhere that loses to reading its matches whole
 * (measured 1.5 s against 56 ms at 250,000 messages for phrases and fields of common words).
 */
const DENSE = 0.5;

/**
 * Bare words held by at most this many messages rank by BM25 (which scores every message holding them); more, and
 * the page is newest first (`order: 'date'` says so), as Gmail's own search always is.
 */
export const RANK_AT_MOST = 50_000;

/** At most how many messages hold these words side by side: the fewest that hold any one of them. */
function heldBy(store: IndexStore, words: string[]): number {
  return Math.min(...words.map((w) => store.documentFrequency(w)));
}

/**
 * A subtree of word terms as one FTS5 expression (its ANDs, ORs and negations evaluated in C), with `least`, about how
 * many messages match it at least, when it is bare words ORed (the most common one's holders). Undefined when it holds
 * another kind of term, or a negation FTS5 cannot say (its NOT is binary: `a NOT b`, never a NOT alone or under an OR).
 */
interface Fts {
  expr: string;
  least?: number;
}

/**
 * How deep a word expression may nest before its subtree is left to the per-term sets instead: FTS5's parser stack
 * holds about 100 entries, and each level of groups costs a few (a query of 24 nested ORs overflowed it).
 */
const FTS_DEPTH = 8;

function fts(node: QueryNode, store: IndexStore, depth = 0): Fts | undefined {
  if (depth > FTS_DEPTH) return undefined;
  // A group of one (the parser makes every `( … )` one) is its child: no level spent on it.
  if ((node.type === 'and' || node.type === 'or') && node.children.length === 1) return fts(node.children[0]!, store, depth);
  switch (node.type) {
    case 'term': {
      const t = node.term;
      if (t.kind !== 'words' || !t.words.length) return undefined;
      return { expr: wordsPhrase(t), ...(t.field === 'text' && t.words.length === 1 ? { least: heldBy(store, t.words) } : {}) };
    }
    case 'or': {
      const parts = node.children.map((c) => fts(c, store, depth + 1));
      if (!parts.length || !parts.every((p): p is Fts => p !== undefined)) return undefined;
      const least = parts.every((p) => p.least !== undefined) ? Math.max(...parts.map((p) => p.least!)) : undefined;
      return {
        expr: parts.map((p) => `(${p.expr})`).join(' OR '),
        ...(least !== undefined ? { least } : {}),
      };
    }
    case 'and': {
      const { words, rest } = conjunction(node.children, store, depth + 1);
      return rest.length ? undefined : words;
    }
    case 'not':
      return undefined;
  }
}

/** The word terms of a conjunction as one FTS5 expression (when one of them is not negated), and the other terms. */
function conjunction(children: QueryNode[], store: IndexStore, depth = 0): { words?: Fts; rest: QueryNode[] } {
  const positive: Fts[] = [];
  const negative: Fts[] = [];
  const rest: QueryNode[] = [];
  for (const c of children) {
    const f = c.type === 'not' ? fts(c.child, store, depth + 1) : fts(c, store, depth);
    if (!f) rest.push(c);
    else (c.type === 'not' ? negative : positive).push(f);
  }
  if (!positive.length) return { rest: children };
  // FTS5's NOT is binary (`a NOT b`): the negations go as one, ORed (a flat expression however many there are).
  const held = positive.map((p) => `(${p.expr})`).join(' AND ');
  const expr = negative.length ? `(${held}) NOT (${negative.map((n) => `(${n.expr})`).join(' OR ')})` : held;
  const least = positive.length === 1 && !negative.length ? positive[0]!.least : undefined;
  return { words: { expr, ...(least !== undefined ? { least } : {}) }, rest };
}

interface Compiler {
  params: SqlValue[];
  resolve: (name: string) => string | undefined;
}

function termSql(t: Term, c: Compiler): string {
  const { params, resolve } = c;
  switch (t.kind) {
    case 'words':
      // No word at all (a field of punctuation) matches what the other searches match: a field holding nothing, never.
      if (!t.words.length) return '0';
      params.push(wordsPhrase(t));
      return 'd.rowid IN (SELECT rowid FROM words WHERE words MATCH ?)';
    case 'label': {
      const id = resolve(t.name);
      if (id === undefined) return '0';
      params.push(`${LABEL_SEP}${id}${LABEL_SEP}`);
      return 'instr(d.labels, ?) > 0';
    }
    case 'anywhere':
      return '1';
    case 'read':
      return `instr(d.labels, '${LABEL_SEP}UNREAD${LABEL_SEP}') = 0`;
    case 'attachment':
      return 'd.attachment = 1';
    case 'date':
      params.push(t.at * 1000);
      return `coalesce(d.micros ${t.bound === 'after' ? '>=' : '<'} ?, 0)`;
    case 'size':
      params.push(t.bytes);
      return `coalesce(d.size ${t.bound === 'larger' ? '>' : '<'} ?, 0)`;
    case 'msgid':
      params.push(t.id);
      return 'coalesce(d.msgid = ?, 0)';
  }
}

const isWords = (n: QueryNode) => n.type === 'term' && n.term.kind === 'words';

function nodeSql(node: QueryNode, c: Compiler): string {
  switch (node.type) {
    case 'and':
      // The cheap tests of a message's own columns first: a word's lookup only for what passes them.
      return node.children.length
        ? `(${[...node.children.filter((n) => !isWords(n)), ...node.children.filter(isWords)].map((n) => nodeSql(n, c)).join(' AND ')})`
        : '1';
    case 'or':
      return node.children.length ? `(${node.children.map((n) => nodeSql(n, c)).join(' OR ')})` : '0';
    case 'not':
      return `(NOT ${nodeSql(node.child, c)})`;
    case 'term':
      return termSql(node.term, c);
  }
}

/** The bare words a message is ranked by: those the query asks for, not under a negation. */
function rankedTerms(node: QueryNode): Extract<Term, { kind: 'words' }>[] {
  switch (node.type) {
    case 'not':
      return [];
    case 'and':
    case 'or':
      return node.children.flatMap(rankedTerms);
    case 'term':
      return node.term.kind === 'words' && node.term.field === 'text' && node.term.words.length ? [node.term] : [];
  }
}

export function rankingPhrases(node: QueryNode): string[] {
  return rankedTerms(node).map(wordsPhrase);
}

/** True when every match holds every ranked word: the query is those bare words ANDed with other terms (or one alone). */
function rankedWordsRequired(node: QueryNode): boolean {
  const top = node.type === 'and' ? node.children : [node];
  const required = top.filter((c) => c.type === 'term' && c.term.kind === 'words' && c.term.field === 'text' && c.term.words.length).length;
  return required === rankingPhrases(node).length;
}

/** One page of matches: newest first, or by relevance when the query has bare words and order is 'relevance'. */
export function queryIndex(store: IndexStore, q: IndexQuery): { rows: IndexRow[]; nextCursor?: string; order: 'relevance' | 'date' } {
  const params: SqlValue[] = [];
  // A page after a newest-first one stays newest first, whichever answered it (the lake while the index was built).
  const cursor = q.cursor ? decodeAnyCursor(q.cursor) : undefined;
  const ranked = q.order === 'relevance' && cursor?.kind !== 'date' ? rankedTerms(q.tree) : [];
  const plan = q.plan ?? { dense: DENSE, rankAtMost: RANK_AT_MOST };
  const ranking = ranked.reduce((n, t) => n + heldBy(store, t.words), 0) <= plan.rankAtMost ? ranked.map(wordsPhrase) : [];
  let from = 'docs d';
  let order = 'd.sort_micros DESC, d.id DESC';
  let offset = 0;
  if (ranking.length) {
    // bm25() is negative, the best match the lowest; a message matching none of the ranked words (an OR's other side)
    // comes after every one that does.
    // Scored once (MATERIALIZED: never once per message); when every match must hold the words, the scored rows drive
    // the join (a few of a large mailbox), else every message of the mailbox is read and looked up.
    params.push(ranking.join(' OR '));
    from = `(WITH r AS MATERIALIZED (SELECT rowid, bm25(words) AS score FROM words WHERE words MATCH ?) SELECT * FROM r) r
      ${rankedWordsRequired(q.tree) ? 'CROSS JOIN docs d ON d.rowid = r.rowid' : 'RIGHT JOIN docs d ON d.rowid = r.rowid'}`;
    order = `coalesce(r.score, 0), ${order}`;
  }
  const where = ['d.account = ?'];
  params.push(q.account);
  const compiler = { params, resolve: q.resolve };
  if (ranking.length) where.push(nodeSql(q.tree, compiler));
  else {
    // The query's word terms at the top (ANDed, some negated) as one FTS5 expression, evaluated in C: checked per
    // message when most messages match it, else its matches read into one set. Measured at 1,000,000 messages through
    // searchMessages: `zürich -subject:trip` 969 → ~150 ms, against a set per term intersected row by row.
    const { words, rest } = conjunction(q.tree.type === 'and' ? q.tree.children : [q.tree], store);
    if (words && words.least !== undefined && words.least >= plan.dense * store.size()) {
      where.push('EXISTS (SELECT 1 FROM words WHERE words MATCH ? AND rowid = d.rowid)');
      params.push(words.expr);
    } else if (words) {
      where.push('d.rowid IN (SELECT rowid FROM words WHERE words MATCH ?)');
      params.push(words.expr);
    }
    if (rest.length) where.push(nodeSql({ type: 'and', children: rest }, compiler));
  }
  // Dates every match must be within (after:/before: at the top): also as a range of the newest-first index's key, so
  // SQLite seeks to it instead of scanning down to it. Implied by the terms themselves (a message without a date
  // matches neither bound), so it changes no answer.
  const bounds = dateBounds(q.tree);
  if (bounds.after !== undefined) {
    where.push('d.sort_micros >= ?');
    params.push(bounds.after * 1000);
  }
  if (bounds.before !== undefined) {
    where.push('d.sort_micros < ?');
    params.push(bounds.before * 1000);
  }
  if (!q.deleted) where.push('d.deleted = 0');
  if (!q.spamTrash)
    where.push(`instr(d.labels, '${LABEL_SEP}SPAM${LABEL_SEP}') = 0 AND instr(d.labels, '${LABEL_SEP}TRASH${LABEL_SEP}') = 0`);
  if (cursor?.kind === 'offset') offset = cursor.offset;
  else if (cursor) {
    where.push('(d.sort_micros < ? OR (d.sort_micros = ? AND d.id < ?))');
    params.push(cursor.micros, cursor.micros, cursor.id);
  }
  const limit = Math.trunc(q.limit);
  // Prepared for this page (its LIMIT, OFFSET and shape vary): kept, every page's would stay for the process's life.
  const rows = store.db
    .prepare(
      `SELECT d.id, d.thread_id, d.sort_micros, d.internal_date, d.from_address, d.from_name, d.subject, d.snippet, d.labels
         FROM ${from}
        WHERE ${where.join(' AND ')}
        ORDER BY ${order}
        LIMIT ${limit + 1} OFFSET ${offset}`,
    )
    .all(...params) as unknown as IndexRow[];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const more = rows.length > limit && last;
  return {
    rows: page,
    order: ranking.length ? 'relevance' : 'date',
    // Ranked pages (and pages after one) go on by offset; newest-first pages from where the last one ended.
    ...(more
      ? {
          nextCursor:
            ranking.length || cursor?.kind === 'offset'
              ? encodeOffsetCursor(offset + limit)
              : encodeCursor(BigInt(last.sort_micros), last.id),
        }
      : {}),
  };
}
