/**
 * The search index: a SQLite file (Node's built-in node:sqlite, FTS5) beside the process that searches, derived from
 * the lake and rebuilt from it at will. It holds what Gmail's search reads of each message — its words per field in an
 * FTS5 table, its labels, dates, size, Message-ID and attachment flag in `docs` — so a query is answered by one SQLite
 * statement (./query.ts) instead of a scan of every body in the lake. The lake's change feed keeps it current
 * (src/lake/index-feed.ts), up to the lake snapshot recorded in `meta`.
 *
 * Words are those of the shared definition (src/search/words.ts: NFC, lower case, runs of letters and digits): the text
 * is prepared by indexText (normalized and lower-cased as words() does it, other scripts' punctuation made spaces) and
 * cut by FTS5's `ascii` tokenizer at ASCII punctuation and spaces, so each token is one of those words and a phrase
 * query is exactly "these words side by side", the emulator's own test (test/unit/search-index.test.ts holds the two
 * to the same answers over awkward text).
 * Why SQLite FTS5 over DuckDB's fts extension: docs/benchmarks.md ("Search index").
 */
import { mkdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { dirname } from 'node:path';
import type * as Sqlite from 'node:sqlite';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { indexText } from '../search/words.js';

/** The word fields a message is indexed under (FTS5 columns `c_<field>`); `text` (a bare word) reads five of them. */
export const INDEXED_FIELDS = ['subject', 'from', 'to', 'cc', 'bcc', 'body', 'filename', 'list'] as const;
export type IndexedField = (typeof INDEXED_FIELDS)[number];

/** Bumped when the layout or what is stored changes: an index of another version is rebuilt. */
const VERSION = '4';

/** Separates label ids in `docs.labels` (none holds it), so a label is `instr(labels, SEP || id || SEP)`. */
export const LABEL_SEP = '\x1f';

/** A message as the index stores it: the searchable fields of one lake row. */
export interface IndexedMessage {
  account: string;
  id: string;
  threadId: string | null;
  /** internal_date in microseconds (null when Gmail gave none). */
  micros: number | null;
  internalDate: string | null;
  sizeEstimate: number | null;
  labelIds: string[];
  hasAttachment: boolean;
  /** The Message-ID header without its angle brackets, lower case. */
  messageId: string | null;
  deleted: boolean;
  fromAddress: string | null;
  fromName: string | null;
  subject: string | null;
  snippet: string | null;
  /** Each field's text as the lake's search reads it (before words are taken). */
  text: Record<IndexedField, string | null>;
}

/** Label changes and deletions in Gmail: the only columns the pipeline ever updates (text never changes). */
export interface IndexedUpdate {
  account: string;
  id: string;
  labelIds: string[];
  deleted: boolean;
}

/** node:sqlite, loaded on first use (Node 22 prints an ExperimentalWarning for it: that one is dropped). */
async function sqlite(): Promise<typeof Sqlite> {
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (...args: unknown[]) => {
    if (!/SQLite is an experimental feature/.test(String(args[0]))) original(...args);
  };
  try {
    return await import('node:sqlite');
  } finally {
    process.emitWarning = original;
  }
}

export class IndexStore {
  private readonly statements = new Map<string, StatementSync>();
  private constructor(readonly db: DatabaseSync) {}

  /** Opens (creating) the index at `path`; one of another layout version is emptied first. */
  static async open(path: string): Promise<IndexStore> {
    mkdirSync(dirname(path), { recursive: true });
    const { DatabaseSync } = await sqlite();
    const db = new DatabaseSync(path);
    try {
      // Several processes may share one DATA_DIR (the API, a CLI search): WAL lets them read while one writes. A writer
      // waits for another's transaction in begin(), asynchronously: node:sqlite's own busy wait would hold the event
      // loop (the API's, or `npm start`'s worker's) for as long.
      db.exec('PRAGMA busy_timeout = 0');
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
      const store = new IndexStore(db);
      await store.writing(() => {
        store.createTables();
        if (store.meta('version') !== VERSION) store.reset();
      });
      return store;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * BEGIN IMMEDIATE: the write lock, waited for without blocking (another process's transaction, or this process's
   * previous index, still ending), for at most 60 s.
   */
  async begin(): Promise<void> {
    for (let waited = 0; ; waited += 50) {
      try {
        this.db.exec('BEGIN IMMEDIATE');
        return;
      } catch (e) {
        if (!/locked|busy/i.test(e instanceof Error ? e.message : '') || waited >= 60_000) throw e;
        await delay(50);
      }
    }
  }

  /** Runs fn (awaited when it is async) in one write transaction, begun as begin() does. */
  async writing<T>(fn: () => T | Promise<T>): Promise<T> {
    await this.begin();
    try {
      const result = await fn();
      this.db.exec('COMMIT');
      return result;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  private createTables(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS docs (
        rowid INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        id TEXT NOT NULL,
        thread_id TEXT,
        micros INTEGER,
        sort_micros INTEGER NOT NULL,
        internal_date TEXT,
        size INTEGER,
        labels TEXT NOT NULL,
        attachment INTEGER NOT NULL,
        msgid TEXT,
        deleted INTEGER NOT NULL,
        from_address TEXT,
        from_name TEXT,
        subject TEXT,
        snippet TEXT,
        UNIQUE (account, id)
      );
      CREATE TABLE IF NOT EXISTS labels (account TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (account, id));
      CREATE INDEX IF NOT EXISTS docs_newest ON docs (account, sort_micros DESC, id DESC);
      CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(
        ${INDEXED_FIELDS.map((f) => `c_${f}`).join(', ')},
        content = '', contentless_delete = 1, tokenize = 'ascii'
      );
      CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(words, 'row');`);
  }

  /** Empties the index (a rebuild follows). */
  reset(): void {
    this.db.exec(
      'DROP TABLE IF EXISTS vocab; DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS words; DROP TABLE IF EXISTS labels; DELETE FROM meta;',
    );
    this.statements.clear();
    this.createTables();
    this.setMeta('version', VERSION);
  }

  meta(key: string): string | undefined {
    return (this.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** A statement of the store's own, prepared once and kept (query pages are prepared each time: see query.ts). */
  prepare(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Adds a message, or replaces what the index holds of it. */
  put(m: IndexedMessage): void {
    const old = this.prepare('SELECT rowid FROM docs WHERE account = ? AND id = ?').get(m.account, m.id) as { rowid: number } | undefined;
    if (old) this.prepare('DELETE FROM words WHERE rowid = ?').run(old.rowid);
    const { rowid } = this.prepare(
      `INSERT INTO docs (account, id, thread_id, micros, sort_micros, internal_date, size, labels, attachment, msgid, deleted,
                         from_address, from_name, subject, snippet)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (account, id) DO UPDATE SET thread_id = excluded.thread_id, micros = excluded.micros,
         sort_micros = excluded.sort_micros, internal_date = excluded.internal_date, size = excluded.size,
         labels = excluded.labels, attachment = excluded.attachment, msgid = excluded.msgid, deleted = excluded.deleted,
         from_address = excluded.from_address, from_name = excluded.from_name, subject = excluded.subject,
         snippet = excluded.snippet
       RETURNING rowid`,
    ).get(
      m.account,
      m.id,
      m.threadId,
      m.micros,
      m.micros ?? 0,
      m.internalDate,
      m.sizeEstimate,
      labelsText(m.labelIds),
      m.hasAttachment ? 1 : 0,
      m.messageId,
      m.deleted ? 1 : 0,
      m.fromAddress,
      m.fromName,
      m.subject,
      m.snippet,
    ) as { rowid: number };
    this.prepare(
      `INSERT INTO words (rowid, ${INDEXED_FIELDS.map((f) => `c_${f}`).join(', ')}) VALUES (?, ${INDEXED_FIELDS.map(() => '?').join(', ')})`,
    ).run(rowid, ...INDEXED_FIELDS.map((f) => indexText(m.text[f])));
  }

  /** A message's labels or deletion changed. */
  update(u: IndexedUpdate): void {
    this.prepare('UPDATE docs SET labels = ?, deleted = ? WHERE account = ? AND id = ?').run(
      labelsText(u.labelIds),
      u.deleted ? 1 : 0,
      u.account,
      u.id,
    );
  }

  /** A message's row left the lake. */
  remove(account: string, id: string): void {
    const old = this.prepare('DELETE FROM docs WHERE account = ? AND id = ? RETURNING rowid').get(account, id) as
      { rowid: number } | undefined;
    if (old) this.prepare('DELETE FROM words WHERE rowid = ?').run(old.rowid);
  }

  /** Replaces every mailbox's user labels (id → name), as of the lake snapshot the index holds. */
  setLabels(rows: { account: string; id: string; name: string }[]): void {
    this.prepare('DELETE FROM labels').run();
    for (const r of rows) this.prepare('INSERT OR REPLACE INTO labels (account, id, name) VALUES (?, ?, ?)').run(r.account, r.id, r.name);
  }

  /** A mailbox's user labels, id → name (what label: names resolve against). */
  labels(account: string): Map<string, string> {
    const rows = this.prepare('SELECT id, name FROM labels WHERE account = ?').all(account) as { id: string; name: string }[];
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  /** How many messages (of every mailbox, in any field) hold this word: what a query's plan is chosen by. */
  documentFrequency(word: string): number {
    return Number((this.prepare('SELECT doc FROM vocab WHERE term = ?').get(word) as { doc: number } | undefined)?.doc ?? 0);
  }

  /** About how many messages the index holds (rowids only grow), in a lookup rather than a count. */
  size(): number {
    return Number((this.prepare('SELECT max(rowid) AS n FROM docs').get() as { n: number | null }).n ?? 0);
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}

const labelsText = (ids: readonly string[]) => `${LABEL_SEP}${ids.join(LABEL_SEP)}${LABEL_SEP}`;
