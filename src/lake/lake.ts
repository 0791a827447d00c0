import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { LakeConfig } from '../config.js';
import { redactedMessage } from '../redact.js';
import { pgUnreachable } from '../postgres.js';
import { readingAhead } from '../read-priority.js';
import { WorkLine } from './line.js';

/** Lake errors: thrown by openLake when the catalog cannot be attached, with the cause's text. */
export class LakeError extends Error {
  override name = 'LakeError';
}

const SQL_DIR = new URL('../../sql/', import.meta.url);

/** SQL literal quoting for the operator's configuration values templated into sql/*.sql (ATTACH and CREATE SECRET take no
 * bound parameters); request values never reach SQL this way: every query binds them. */
function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Renders an sql/ file: {{name}} becomes a quoted literal, {{!name}} a vetted raw fragment. */
export function renderSql(file: string, values: Record<string, string>): string {
  const text = readFileSync(new URL(file, SQL_DIR), 'utf8');
  return text.replace(/\{\{(!?)(\w+)\}\}/g, (_, raw: string, name: string) => {
    const v = values[name];
    if (v === undefined) throw new LakeError(`sql/${file}: no value for {{${raw}${name}}}`);
    return raw ? v : sqlLiteral(v);
  });
}

/**
 * Errors another writer can cause and a retry resolves: DuckLake's optimistic-commit conflicts (two processes
 * committing to one catalog), a SQLite catalog busy with another process, and the races of several processes creating
 * a new catalog at once (PostgreSQL `duplicate key … pg_type_typname_nsp_index`, "already exists"; on SQLite in WAL mode,
 * whose two connections DuckLake reads may see two moments of another process's creation: `Table entry "attachments"
 * does not have any columns`, which exited a worker process starting beside another in CI's `import` test).
 */
const RETRYABLE_LAKE_ERROR =
  /Transaction conflict|database is locked|duplicate key value|already exists|could not serialize|does not have any columns/i;

/** True when `err` is a conflict with another writer that a retry resolves. */
export function isLakeConflict(err: unknown): boolean {
  return RETRYABLE_LAKE_ERROR.test(err instanceof Error ? err.message : String(err));
}

/** Runs `fn` again after a jittered backoff while it fails with a conflict with another writer. */
async function retryingConflicts<T>(fn: () => Promise<T>, attempts = 30, onConflict?: () => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isLakeConflict(e)) throw e;
      onConflict?.();
      await delay(Math.random() * Math.min(2_000, 25 * 2 ** attempt));
    }
  }
}

/**
 * Gives every lake table that has no statistics yet a statistics row. The DuckLake extension pinned here reads an empty
 * table's statistics from the catalog again on every query that references it (≈ 27 ms of CPU per query on a SQLite
 * catalog, against ≈ 3 ms once the table has statistics; duckdb/ducklake#1313 fixed it upstream). failed_messages is
 * empty in the common case and read by every batch's commit, so a backfill paid that on every batch. A row inserted
 * and deleted in one transaction leaves no row, no data file and no visible snapshot content, only the statistics row
 * (record_count 0). Runs when a writer opens the lake; a table that has statistics is left alone, so it is done once.
 */
async function primeStatistics(conn: DuckDBConnection): Promise<void> {
  const bare = await conn.runAndReadAll(
    `SELECT t.table_name FROM __ducklake_metadata_lake.ducklake_table t
       LEFT JOIN __ducklake_metadata_lake.ducklake_table_stats s USING (table_id)
     WHERE t.end_snapshot IS NULL AND s.table_id IS NULL`,
  );
  const tables = bare.getRows().map(([t]) => String(t));
  if (!tables.length) return;
  const columns = await conn.runAndReadAll(
    `SELECT table_name, column_name, is_nullable FROM duckdb_columns() WHERE database_name = 'lake' ORDER BY table_name, column_index`,
  );
  const marker = `statistics-primer-${randomUUID()}`;
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const table of tables) {
      const cols = columns.getRows().filter(([t]) => t === table);
      const key = cols.find(([, , nullable]) => !nullable)?.[1];
      if (!key) continue;
      // NOT NULL columns (all VARCHAR in sql/schema.sql) get the marker, the others NULL.
      const values = cols.map(([, , nullable]) => (nullable ? 'NULL' : sqlLiteral(marker)));
      await conn.run(`INSERT INTO lake.${table} (${cols.map(([, c]) => c).join(', ')}) VALUES (${values.join(', ')})`);
      await conn.run(`DELETE FROM lake.${table} WHERE ${key} = ${sqlLiteral(marker)}`);
    }
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * Whether an instance still answers after an error: DuckDB invalidates an instance after an INTERNAL or FATAL error
 * ("database has been invalidated"; one is raised inside the DuckLake/postgres extensions when the catalog's server
 * goes away mid-query), but the error a query sees need not say so. A probe on a connection of its own, closed only
 * when it answered.
 */
async function answers(instance: DuckDBInstance): Promise<boolean> {
  try {
    const probe = await instance.connect();
    await probe.run('SELECT 1');
    probe.closeSync();
    return true;
  } catch {
    return false;
  }
}

/** Data files at least this large are never merged by `compact` (see there). */
const MERGE_FILES_UNDER = 16 * 1024 * 1024;

/**
 * One DuckDB instance per process with the DuckLake catalog attached as `lake`. Writes are serialized within the
 * process and retried on conflicts with other processes (DuckLake commits are optimistic). Reads run concurrently,
 * except over a SQLite catalog, where they take the writes' line (src/lake/line.ts): the API's ahead of the writes
 * waiting, the pipeline's own in order.
 */
export class Lake {
  private readonly line = new WorkLine();
  /** Commits retried because another process committed a conflicting change first (for tests and benchmarks). */
  conflicts = 0;
  /** Instances that were invalidated (see answers), with their connections: kept, never closed (see withConnection). */
  private readonly discarded = new Set<DuckDBInstance>();
  private reopening: Promise<DuckDBInstance> | undefined;
  /** The compaction running, and the one those asked for meanwhile share (see compact). */
  private compaction: Promise<{ filesBefore: number; filesAfter: number }> | undefined;
  private nextCompaction: Promise<{ filesBefore: number; filesAfter: number }> | undefined;
  /** Connections open on each instance: a retired instance is closed when its last one closes. */
  private readonly connections = new Map<DuckDBInstance, number>();
  /** Instances replaced by a fresh one (see renew), waiting for their connections to close. */
  private readonly retired = new Set<DuckDBInstance>();
  /** Writes committed on the current instance (see renew). */
  private writesOnInstance = 0;
  /** Fresh instances opened to replace a worn one (for tests and benchmarks). */
  renewals = 0;
  private constructor(
    private instance: DuckDBInstance,
    readonly config: LakeConfig,
    /** A reader's connections name the lake as their default database (`FROM messages`). */
    private readonly readOnly = false,
  ) {}

  /**
   * Opens DuckDB with the project's extension directory, loads DuckLake and attaches the catalog (creating it and the
   * schema when new). Several processes may do this at once against a new catalog: the loser of a creation race retries,
   * as often as a write does (ten attempts, ~8 s, were too few for two workers starting at once on one SQLite catalog
   * under CI's load: one exited with "database is locked").
   */
  static async open(config: LakeConfig): Promise<Lake> {
    return retryingConflicts(() => Lake.openOnce(config, false));
  }

  /**
   * Opens a lake this process has opened with `open` before: the catalog is attached, nothing else — its schema, the
   * statistics primer and the tables' options were settled then, and running them again would write the catalog for
   * nothing (the compactor opens a lake per compaction).
   */
  static async reopen(config: LakeConfig): Promise<Lake> {
    return retryingConflicts(() => Lake.openOnce(config, false, true));
  }

  /**
   * Opens the lake to read only (`gmail-lake query`, `doctor`): attached READ_ONLY and as the default database, so
   * `SELECT … FROM messages` works; a SQLite catalog is read while the pipeline writes it. Never creates anything.
   */
  static async openReadOnly(config: LakeConfig): Promise<Lake> {
    if (config.catalog !== 'postgres' && !existsSync(config.catalogPath))
      throw new LakeError(`no lake at ${config.catalogPath} yet: it appears with the first extraction`);
    return retryingConflicts(() => Lake.openOnce(config, true));
  }

  private static async openOnce(config: LakeConfig, readOnly: boolean, attachOnly = false): Promise<Lake> {
    return new Lake(await Lake.openInstance(config, readOnly, attachOnly), config, readOnly);
  }

  /**
   * A DuckDB instance with the catalog attached (created with its schema when new, unless `readOnly`; only attached
   * when `attachOnly`: the lake was opened by this process before).
   */
  private static async openInstance(config: LakeConfig, readOnly: boolean, attachOnly = false): Promise<DuckDBInstance> {
    const instance = await DuckDBInstance.create(':memory:', {
      extension_directory: config.extensionDir,
      allow_unsigned_extensions: 'false',
      autoinstall_known_extensions: 'false',
      memory_limit: config.memoryLimit,
      threads: String(config.threads),
      // Without a spill directory an in-memory instance fails with "Out of Memory" instead of spilling (compaction).
      temp_directory: config.tempDir,
      preserve_insertion_order: 'false',
      // DuckDB keeps what a bulk deallocation frees in its allocator's caches unless it passes 512 MB: each thread that
      // wrote a large message (a ~35 MB value costs its Parquet writer ~140 MB) kept its share, and the worker's resident
      // memory grew by that per thread. Flushed from 16 MB, it goes back. Measured (bench --full --only large, 200
      // messages of 24-34 MB): worker peak RSS 930 MB at the default, 835 MB at 64 MB, 649-774 MB at 16 MB; persisting small
      // messages (bench --only lake) up to ~15 % slower on a noisy machine.
      allocator_bulk_deallocation_flush_threshold: '16MB',
    });
    const conn = await instance.connect();
    try {
      await conn.run('LOAD ducklake');
      if (config.catalog === 'postgres') await conn.run('LOAD postgres_scanner');
      if (config.catalog === 'sqlite') await conn.run('LOAD sqlite_scanner');
      if (config.dataPath.startsWith('s3://')) {
        await conn.run('LOAD httpfs');
        const s3 = config.s3;
        if (!s3.keyId) await conn.run('LOAD aws');
        await conn.run(
          renderSql(s3.keyId ? 's3-secret.sql' : 's3-secret-chain.sql', {
            key_id: s3.keyId ?? '',
            secret: s3.secret ?? '',
            session_token: s3.sessionToken ?? '',
            region: s3.region,
            endpoint: s3.endpoint ?? 's3.amazonaws.com',
            url_style: s3.urlStyle,
            use_ssl: s3.useSsl ? 'true' : 'false',
          }),
        );
      } else if (!readOnly) {
        mkdirSync(config.dataPath, { recursive: true });
      }
      const uri =
        config.catalog === 'postgres'
          ? `ducklake:postgres:${config.pgDsn}`
          : `ducklake:${config.catalog === 'sqlite' ? 'sqlite:' : ''}${config.catalogPath}`;
      if (readOnly) {
        await conn.run(`ATTACH ${sqlLiteral(uri)} AS lake (READ_ONLY)`);
        conn.closeSync();
        return instance;
      }
      if (config.catalog !== 'postgres') mkdirSync(dirname(config.catalogPath), { recursive: true });
      await conn.run(
        renderSql(config.catalog === 'postgres' ? 'attach-postgres.sql' : 'attach-local.sql', {
          ducklake_uri: uri,
          data_path: config.dataPath,
          encrypted: config.encrypted ? ', ENCRYPTED' : '',
          journal: config.catalog === 'sqlite' ? ", META_JOURNAL_MODE 'WAL'" : '',
        }),
      );
      if (!attachOnly) {
        await conn.run(renderSql('schema.sql', {}));
        await primeStatistics(conn);
        await conn.run(renderSql('table-options.sql', {}));
      }
    } catch (e) {
      conn.closeSync();
      instance.closeSync();
      if (isLakeConflict(e)) throw e;
      throw new LakeError(`cannot open the lake (${config.catalog} catalog): ${redactedMessage(e)}`);
    }
    conn.closeSync();
    return instance;
  }

  /**
   * Runs fn on a fresh connection. When DuckDB invalidated its instance (a query failed, then a probe: see answers),
   * the instance is set aside and the next call opens a new one (attaching the catalog again, once its server
   * answers): the process goes on.
   */
  async withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = await this.current();
    this.connections.set(instance, (this.connections.get(instance) ?? 0) + 1);
    try {
      return await this.onInstance(instance, fn);
    } finally {
      const left = (this.connections.get(instance) ?? 1) - 1;
      if (left) this.connections.set(instance, left);
      else this.connections.delete(instance);
      if (!left && this.retired.delete(instance) && !this.discarded.has(instance)) instance.closeSync();
    }
  }

  private async onInstance<T>(instance: DuckDBInstance, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await instance.connect();
    try {
      if (this.readOnly) await conn.run('USE lake');
      return await fn(conn);
    } catch (e) {
      // Set aside, never closed nor collected: closing anything of an instance DuckDB invalidated raises a C++ exception
      // in a destructor, which aborts the process (seen with the catalog's PostgreSQL restarted mid-query). Rare; each
      // costs one idle instance. Probed whatever the error says: a query that failed beside the one that invalidated
      // the instance may fail in other words (the catalog's connection lost), and closing its connection, whose
      // transaction the destructor then rolls back, aborted a worker once in CI (`restarts`: "terminate called after
      // throwing an instance of duckdb::Exception … database has been invalidated").
      if (!(await answers(instance))) {
        this.discarded.add(instance);
        throw await this.invalidatedBy(e);
      }
      throw e;
    } finally {
      if (!this.discarded.has(instance)) conn.closeSync();
    }
  }

  /**
   * The error to report for an invalidated instance. DuckLake's PostgreSQL catalog going away mid-query surfaces as an
   * INTERNAL error that names nothing ("Attempted to access index 0 within vector of size 0"): when the catalog's server
   * does not answer either, the error says so, with DuckDB's words after it.
   */
  private async invalidatedBy(e: unknown): Promise<unknown> {
    if (this.config.catalog !== 'postgres' || !this.config.pgDsn) return e;
    const why = await pgUnreachable(this.config.pgDsn);
    if (why === null) return e;
    return new LakeError(
      `the lake's catalog (the PostgreSQL server of LAKE_PG_DSN) does not answer: ${redactedMessage(why)}; DuckDB said: ${redactedMessage(e)}`,
    );
  }

  /** The instance to use: a new one (opened once for all callers) when the current one was invalidated. */
  private current(): Promise<DuckDBInstance> {
    if (this.discarded.has(this.instance)) return this.replaceInstance();
    return this.reopening ?? Promise.resolve(this.instance);
  }

  /**
   * Opens a fresh instance (once for all callers), the catalog attached only (this one settled the rest); the one it
   * replaces is retired unless it was invalidated.
   */
  private replaceInstance(): Promise<DuckDBInstance> {
    this.reopening ??= Lake.openInstance(this.config, this.readOnly, true)
      .then((next) => {
        const old = this.instance;
        this.instance = next;
        this.writesOnInstance = 0;
        if (!this.discarded.has(old)) {
          if (this.connections.has(old)) this.retired.add(old);
          else old.closeSync();
        }
        return next;
      })
      .finally(() => (this.reopening = undefined));
    return this.reopening;
  }

  /**
   * Replaces the instance with a fresh one after `config.renewAfterWrites` writes (LAKE_RENEW_AFTER_WRITES). What a
   * DuckDB instance keeps between queries grows with the lake — DuckLake's view of the catalog (every snapshot, every
   * file), the data files the stored-ids probes read — and a process-long worker's grew by ~100 MB per 100,000
   * messages backfilled (docs/benchmarks.md), never returned. A fresh one starts from nothing; the old one closes when its last query ends.
   * Runs between two writes (the next write waits for it); a failed reopen keeps the current instance.
   */
  private async renewIfWorn(): Promise<void> {
    const every = this.config.renewAfterWrites;
    // A DuckDB-file catalog is locked by the instance that attached it: a second one cannot attach it beside.
    if (!every || this.config.catalog === 'duckdb' || ++this.writesOnInstance < every) return;
    try {
      await this.replaceInstance();
      this.renewals++;
    } catch {
      // The catalog did not answer: this instance serves on and the next write tries again.
    }
  }

  /**
   * Runs fn inside BEGIN/COMMIT (ROLLBACK on error), one writer at a time in this process. When another process
   * committed a conflicting change first, the whole transaction (fn included) runs again, so fn must read what it
   * depends on inside the transaction.
   */
  write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const once = () =>
      this.withConnection(async (conn) => {
        await conn.run('BEGIN TRANSACTION');
        try {
          const result = await fn(conn);
          await conn.run('COMMIT');
          return result;
        } catch (e) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
    return this.serialized(async () => {
      const result = await retryingConflicts(once, 30, () => this.conflicts++);
      await this.renewIfWorn();
      return result;
    });
  }

  /** Runs `fn` in this process's one line of lake work (src/lake/line.ts); `ahead`: a read ahead of waiting writes. */
  private serialized<T>(fn: () => Promise<T>, ahead = false): Promise<T> {
    return this.line.run(fn, ahead);
  }

  /** Rows of a read query as plain objects (BIGINT as number, TIMESTAMP as ISO string). */
  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<T[]> {
    return this.reading(async (conn) => (await conn.runAndReadAll(sql, params)).getRowObjectsJson() as T[]);
  }

  /** Rows of a read query as DuckDB's values (a BLOB as its bytes), for what JSON would mangle. */
  async queryValues(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<DuckDBValue[][]> {
    return this.reading(async (conn) => (await conn.runAndReadAll(sql, params)).getRows());
  }

  private async reading<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const read = () => this.withConnection(fn);
    if (this.config.catalog !== 'sqlite') return read();
    // A SQLite catalog locks the whole file while one connection commits: this process's reads wait their turn behind
    // its writes (instead of failing with "database is locked"), and retry when another process holds the lock. The
    // API's (readsAhead) wait for the write running, not for those queued behind it.
    return this.serialized(() => retryingConflicts(read), readingAhead());
  }

  /**
   * Merges small adjacent data files and removes the replaced ones (the lake's routine maintenance). Compactions asked
   * for in this process at once are one: one runs, and those asked for meanwhile share the next (which merges what
   * committed since) — every extraction compacts as it ends, and a fuzzer's dozens of runs queued as many whole-lake
   * compactions in the process's one line of lake work, ahead of their own closing records.
   */
  compact(): Promise<{ filesBefore: number; filesAfter: number }> {
    if (this.nextCompaction) return this.nextCompaction;
    const start = () => {
      const run = this.compactNow().finally(() => {
        if (this.compaction === run) this.compaction = undefined;
      });
      this.compaction = run;
      return run;
    };
    if (!this.compaction) return start();
    const next = this.compaction
      .catch(() => undefined)
      .then(() => {
        this.nextCompaction = undefined;
        return start();
      });
    this.nextCompaction = next;
    return next;
  }

  private async compactNow(): Promise<{ filesBefore: number; filesAfter: number }> {
    const files = async () =>
      (await this.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ducklake_list_files('lake', 'messages')`))[0]?.n ?? 0;
    const filesBefore = await files();
    // Not on one DuckDB thread (`SET threads = 1` around the merge, tried and removed): the setting is the instance's,
    // and set while this process's other lake work ran (a batch's commit, a second mailbox's compaction) it left them
    // all waiting — hosts.test caught two compactions and a batch of one worker stuck for minutes, heartbeating, with a
    // catalog transaction idle in PostgreSQL. A compaction that runs out of memory is logged and retried, never fatal.
    await this.write(async (conn) => {
      // At most 20 merged output files per call (the cap counts outputs, not inputs, so it bounds a call's work but
      // not its peak memory: see Known limits in the README); files already at the target size are left alone, and so
      // are files over MERGE_FILES_UNDER (a batch holding a large message is big enough: merging it would load its rows).
      await conn.run(`CALL ducklake_merge_adjacent_files('lake', max_compacted_files => 20, max_file_size => ${MERGE_FILES_UNDER})`);
    });
    await this.write(async (conn) => {
      // Snapshots younger than the retention stay for time travel and the change feed (their files with them).
      await conn.run(
        `CALL ducklake_expire_snapshots('lake', older_than => now() - to_days(${Math.trunc(this.config.snapshotRetentionDays)}))`,
      );
    });
    await this.write(async (conn) => {
      await conn.run(`CALL ducklake_cleanup_old_files('lake', older_than => now() - INTERVAL 1 HOUR)`);
    });
    return { filesBefore, filesAfter: await files() };
  }

  close(): void {
    if (!this.discarded.has(this.instance)) this.instance.closeSync();
    for (const old of this.retired) old.closeSync();
    this.retired.clear();
  }
}
