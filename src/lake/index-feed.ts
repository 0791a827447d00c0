/**
 * Keeps the search index (src/search-index/store.ts) equal to the lake, by DuckLake's change feed: the index records
 * the lake snapshot it holds, and a refresh reads `table_changes` of messages and attachments from the next snapshot
 * to the newest, a window of snapshots per SQLite transaction (the snapshot it reached committed with them, so a
 * process killed mid-way resumes where it stopped). A new index, one whose snapshots the lake has expired
 * (LAKE_SNAPSHOT_RETENTION_DAYS), or one of another lake is built again from the lake's rows at its newest snapshot.
 *
 * The pipeline only ever inserts messages (with their attachments, in one transaction: one snapshot) and updates their
 * labels and deleted_at: an insert brings the text, an update the labels. Every process that searches keeps its own
 * index under its own DATA_DIR (workers on other hosts are read through the lake, never through their disks).
 */
import { setImmediate } from 'node:timers/promises';
import type { Lake } from './lake.js';
import { iso } from './read.js';
import { FIELD_SQL } from './search-fields.js';
import { INDEXED_FIELDS, IndexStore, type IndexedMessage } from '../search-index/store.js';

/** Snapshots per window: a batch commits ~500 messages in one, so a window holds at most ~10,000 messages' text. */
const WINDOW = 20;
/**
 * Row ids a rebuild reads at once: ~5,000 messages' text (~80 MB of generated mail). Each read has a fixed cost of
 * ~0.6 s at 1,000,000 messages (measured: 745 ms for a piece of 200, 974 ms for 5,000).
 */
const REBUILD_PIECE = 5_000;

export interface IndexProgress {
  /** The lake snapshot the index holds. */
  snapshot: number;
  /** The lake's newest when the refresh started. */
  target: number;
  messages: number;
}

type FeedRow = Record<string, unknown> & { account: string; id: string };

/**
 * The rows a window (or a rebuild) adds: every searchable column, the text fields as the lake's search reads them.
 * `first`: common table expressions the sources may name, ahead of the query's own.
 */
export function insertedSql(messages: string, attachments: string, changes: boolean, first?: string): string {
  const text = INDEXED_FIELDS.map((f) => `${f === 'filename' ? 'att.filenames' : FIELD_SQL[f]} AS t_${f}`).join(',\n    ');
  return `WITH ${first ? `${first}, ` : ''}att AS (
    SELECT account, message_id, string_agg(filename, ' ' ORDER BY part_id) AS filenames,
           bool_or(disposition = 'attachment') AS has_attachment
      FROM (SELECT * FROM ${attachments})${changes ? ` WHERE change_type = 'insert'` : ''}
     GROUP BY account, message_id)
  SELECT m.account, m.id, m.thread_id, epoch_us(m.internal_date)::VARCHAR AS micros, m.internal_date::VARCHAR AS internal_date,
    m.size_estimate, m.label_ids, m.deleted_at IS NOT NULL AS deleted, lower(trim(m.message_id_header, '<> ')) AS msgid,
    m.from_address, m.from_name, m.subject, m.snippet, coalesce(att.has_attachment, false) AS has_attachment,
    ${text}
  FROM (SELECT * FROM ${messages}) m LEFT JOIN att ON att.account = m.account AND att.message_id = m.id
  ${changes ? `WHERE m.change_type = 'insert'` : ''}`;
}

export function indexed(r: FeedRow): IndexedMessage {
  return {
    account: r.account,
    id: r.id,
    threadId: (r.thread_id as string | null) ?? null,
    micros: r.micros === null ? null : Number(r.micros),
    internalDate: iso(r.internal_date as string | null),
    sizeEstimate: r.size_estimate === null ? null : Number(r.size_estimate),
    labelIds: (r.label_ids as string[] | null) ?? [],
    hasAttachment: r.has_attachment === true,
    messageId: (r.msgid as string | null) ?? null,
    deleted: r.deleted === true,
    fromAddress: (r.from_address as string | null) ?? null,
    fromName: (r.from_name as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    snippet: (r.snippet as string | null) ?? null,
    text: Object.fromEntries(INDEXED_FIELDS.map((f) => [f, (r[`t_${f}`] as string | null) ?? null])) as IndexedMessage['text'],
  };
}

/**
 * Puts rows in slices of 100, letting the event loop run between them: indexing runs on the main thread of the API
 * (and of `npm start`'s one process, beside the worker's activities and their heartbeats), and a chunk of 2,048 rows
 * is about a second of FTS5 work.
 */
async function putYielding(store: IndexStore, rows: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) {
    if (i) await setImmediate();
    for (const r of rows.slice(i, i + 100)) store.put(indexed(r as FeedRow));
  }
}

/** Which lake an index holds: the catalog and the data path (never a password). */
function lakeIdentity(lake: Lake): string {
  const c = lake.config;
  const catalog =
    c.catalog === 'postgres'
      ? (c.pgDsn ?? '').replace(/password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi, '').replace(/(:\/\/[^:@/]*):[^@/]*@/, '$1@')
      : c.catalogPath;
  return JSON.stringify([c.catalog, catalog, c.dataPath]);
}

export class IndexFeed {
  private running: Promise<void> | undefined;
  private stopping = false;
  /** Where the current refresh is (for a caller showing progress). */
  progress: IndexProgress | undefined;
  /** Why the last refresh failed, until one succeeds. */
  lastError: string | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly lake: Lake,
    readonly store: IndexStore,
    /** Row ids a rebuild reads at once. */
    private readonly rebuildPiece = REBUILD_PIECE,
  ) {}

  /**
   * Brings the index to the lake's newest snapshot as of this call: one pass at a time; a call made while a pass runs
   * waits for the next one (which reads the snapshots committed since), and calls made meanwhile share it.
   */
  refresh(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('the search index is closed'));
    if (!this.running) return this.pass();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.pass();
      });
    return this.queued;
  }

  private pass(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('the search index is closed'));
    const running = this.catchUp()
      .then(
        () => void (this.lastError = undefined),
        (e: unknown) => {
          this.lastError = e instanceof Error ? e.message : String(e);
          throw e;
        },
      )
      .finally(() => {
        if (this.running === running) this.running = undefined;
      });
    this.running = running;
    return running;
  }

  /** Stops after the window in progress (committed or rolled back) and closes the index. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    this.store.close();
  }

  private async catchUp(): Promise<void> {
    // What the index holds is read first: another process sharing it may go further while the lake is asked, and
    // that must never read as "the index is ahead of the lake" (a lake made again under the same path).
    let held = Number(this.store.meta('snapshot') ?? -1);
    const [bounds] = await this.lake.query<{ newest: string; oldest: string }>(
      'SELECT max(snapshot_id)::VARCHAR AS newest, min(snapshot_id)::VARCHAR AS oldest FROM lake.snapshots()',
    );
    const newest = Number(bounds!.newest);
    const oldest = Number(bounds!.oldest);
    const identity = lakeIdentity(this.lake);
    if (this.store.meta('lake') !== identity || held > newest) {
      await this.store.writing(() => {
        this.store.reset();
        this.store.setMeta('lake', identity);
      });
      held = -1;
    }
    this.progress = { snapshot: held, target: newest, messages: this.store.size() };
    if (held < newest) {
      // The lake's history from the snapshot after the held one is still there: read the changes since. Otherwise (a new
      // index of a lake whose first snapshots were expired, or an index left behind longer than the retention), rebuild.
      if (held + 1 >= oldest) {
        for (let from = held + 1; from <= newest; from += WINDOW) {
          if (this.stopping) throw new Error('the search index is closed');
          await this.window(from, Math.min(newest, from + WINDOW - 1));
        }
      } else await this.rebuild(newest);
    }
    if (this.store.meta('labels') !== String(newest)) await this.labels(newest);
  }

  /** Every mailbox's user labels as its latest extraction or sync saw them (as userLabels reads them), at `snapshot`. */
  private async labels(snapshot: number): Promise<void> {
    const rows = await this.lake.query<{ account: string; id: string; name: string | null }>(
      `WITH l AS (SELECT * FROM lake.labels AT (VERSION => ${snapshot}))
       SELECT l.account, l.id, l.name FROM l
        WHERE l.type IN ('user', 'imported') AND l.fetched_at = (SELECT max(x.fetched_at) FROM l x WHERE x.account = l.account)`,
    );
    await this.store.writing(() => {
      this.store.setLabels(rows.map((r) => ({ ...r, name: r.name ?? '' })));
      this.store.setMeta('labels', String(snapshot));
    });
  }

  /** Applies the changes of snapshots from..to, and records `to`, in one transaction. */
  private async window(from: number, to: number): Promise<void> {
    const store = this.store;
    await store.begin();
    try {
      // Another process sharing the index (the API and a CLI search on one DATA_DIR) may have gone further meanwhile:
      // its changes are not applied twice, and never older ones over newer.
      const held = Number(store.meta('snapshot') ?? -1);
      if (held >= to) {
        store.db.exec('COMMIT');
        return;
      }
      from = Math.max(from, held + 1);
      const messages = `lake.table_changes('messages', ${from}, ${to})`;
      // A snapshot that inserted messages at a time (a batch's, ~500), each read whole before it is indexed: with a
      // SQLite catalog a read holds this process's lake operations (the worker's commits in `npm start`), for the read
      // alone. (Only those: a snapshot from before the table existed cannot be asked for its changes.)
      const inserting = await this.lake.query<{ s: number }>(
        `SELECT DISTINCT snapshot_id AS s FROM ${messages} WHERE change_type = 'insert' ORDER BY s`,
      );
      for (const { s } of inserting) {
        const rows = await this.lake.query(
          insertedSql(`lake.table_changes('messages', ${s}, ${s})`, `lake.table_changes('attachments', ${s}, ${s})`, true),
        );
        await putYielding(store, rows);
      }
      // Then labels and deletions in Gmail, in snapshot order (an update after an insert in this window wins), and rows
      // that left the lake (none does today; a row deleted then inserted again in one window is kept).
      const changes = await this.lake.query<{
        change_type: string;
        account: string;
        id: string;
        label_ids: string[] | null;
        deleted: boolean;
        snapshot_id: string;
      }>(
        `SELECT snapshot_id::VARCHAR AS snapshot_id, change_type, account, id, label_ids, deleted_at IS NOT NULL AS deleted
           FROM ${messages} WHERE change_type IN ('update_postimage', 'delete', 'insert')
          ORDER BY snapshot_id, change_type = 'insert'`,
      );
      const lastInsert = new Map<string, number>();
      for (const c of changes) if (c.change_type === 'insert') lastInsert.set(`${c.account}\n${c.id}`, Number(c.snapshot_id));
      for (const [i, c] of changes.entries()) {
        if (i && i % 1000 === 0) await setImmediate(); // a sync relabelling 100,000 messages is seconds of updates
        if (c.change_type === 'update_postimage')
          store.update({ account: c.account, id: c.id, labelIds: c.label_ids ?? [], deleted: c.deleted });
        else if (c.change_type === 'delete' && !((lastInsert.get(`${c.account}\n${c.id}`) ?? -1) >= Number(c.snapshot_id)))
          store.remove(c.account, c.id);
      }
      store.setMeta('snapshot', String(to));
      store.db.exec('COMMIT');
    } catch (e) {
      store.db.exec('ROLLBACK');
      throw e;
    }
    this.progress = { ...this.progress!, snapshot: to, messages: store.size() };
  }

  /** Builds the index again from the lake's rows at `snapshot`, committing every chunk; the snapshot is recorded last. */
  private async rebuild(snapshot: number): Promise<void> {
    // Every row is put again over what the index holds (the pipeline never removes a message row), so a rebuild cut off
    // (a CLI search's wait ended, the process stopped) or run by two processes at once loses nothing.
    const store = this.store;
    let n = 0;
    // In pieces of row ids (REBUILD_PIECE), each read whole before it is indexed: the lake is held for the reads alone
    // (with a SQLite catalog a read holds this process's lake operations: the worker's commits in `npm start`).
    const at = `AT (VERSION => ${snapshot})`;
    const [range] = await this.lake.query<{ last: number | null }>(`SELECT max(rowid) AS last FROM lake.messages ${at}`);
    for (let first = 0; first <= Number(range?.last ?? -1); first += this.rebuildPiece) {
      if (this.stopping) throw new Error('the search index is closed');
      // The piece read once (MATERIALIZED), and its attachments picked by it.
      const piece = `piece AS MATERIALIZED (SELECT * FROM lake.messages ${at} WHERE rowid BETWEEN ${first} AND ${first + this.rebuildPiece - 1})`;
      const rows = await this.lake.query(
        insertedSql(
          'piece',
          `(SELECT a.* FROM (SELECT * FROM lake.attachments ${at}) a SEMI JOIN piece p ON p.account = a.account AND p.id = a.message_id)`,
          false,
          piece,
        ),
      );
      await store.writing(() => putYielding(store, rows));
      n += rows.length;
      this.progress = { ...this.progress!, messages: n };
    }
    await store.writing(() => store.setMeta('snapshot', String(snapshot)));
    this.progress = { ...this.progress!, snapshot };
  }
}

const feeds = new Map<Lake, Promise<IndexFeed>>();

/** The index feed of this lake in this process (opened on first use), or undefined when SEARCH_INDEX is off. */
export function indexFeed(lake: Lake): Promise<IndexFeed> | undefined {
  const path = lake.config.searchIndexPath;
  if (!path) return undefined;
  let feed = feeds.get(lake);
  if (!feed) {
    feed = IndexStore.open(path).then((store) => new IndexFeed(lake, store));
    feeds.set(lake, feed);
    feed.catch(() => feeds.delete(lake));
  }
  return feed;
}

/** Stops and closes this lake's index feed (before the lake closes): its refresh in progress ends first. */
export async function closeIndexFeed(lake: Lake): Promise<void> {
  const feed = feeds.get(lake);
  feeds.delete(lake);
  await (await feed?.catch(() => undefined))?.stop();
}
