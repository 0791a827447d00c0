/**
 * SQL from someone else (the MCP `run_sql` tool): one SELECT at a time over a lake opened read-only in its own DuckDB
 * instance whose files are fenced in — external access off except the lake's data folder and its catalog file, the
 * configuration then locked, checked before every query (an instance reopened after an error is fenced again first) —
 * within a row limit and a size limit (the result streamed only that far, never built whole) and a time limit (the
 * query interrupted).
 */
import { StatementType, type DuckDBConnection } from '@duckdb/node-api';
import type { LakeConfig } from '../config.js';
import { Lake } from './lake.js';

export class SqlRefused extends Error {}

export interface SqlLimits {
  maxRows: number;
  timeoutMs: number;
  /** The reply's rows stop at about this many characters of JSON. */
  maxChars?: number;
}

export interface SqlResult {
  columns: string[];
  rows: Record<string, unknown>[];
  /** True when the query had more rows than the limits let through (only the first are returned). */
  truncated: boolean;
}

/**
 * DuckLake's table functions a SELECT may call: the ones that only read. The others (cleanup_old_files, expire_snapshots,
 * merge_adjacent_files, …) delete files in the lake's own folder, which the fence has to leave reachable.
 */
const READING_DUCKLAKE_FUNCTIONS = new Set([
  'ducklake_snapshots',
  'ducklake_table_info',
  'ducklake_list_files',
  'ducklake_table_changes',
  'ducklake_table_insertions',
  'ducklake_table_deletions',
  'ducklake_current_snapshot',
  'ducklake_last_committed_snapshot',
  'ducklake_options',
  'ducklake_settings',
]);

const quoted = (values: string[]) => `[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')}]`;

export class SqlSandbox {
  private constructor(
    private readonly lake: Lake,
    private readonly fence: string[],
  ) {}

  static async open(config: LakeConfig): Promise<SqlSandbox> {
    const data = config.dataPath.endsWith('/') ? config.dataPath : `${config.dataPath}/`;
    // The catalog file itself (and SQLite's journal files beside it), not the folder it lives in: DATA_DIR also holds
    // Temporal's database, logs, staging and credentials.
    const catalog = config.catalog === 'postgres' ? [] : ['', '-wal', '-shm', '-journal', '.wal'].map((x) => `${config.catalogPath}${x}`);
    const fence = [
      `SET allowed_directories = ${quoted([data])}`,
      ...(catalog.length ? [`SET allowed_paths = ${quoted(catalog)}`] : []),
      'SET enable_external_access = false',
      'SET lock_configuration = true',
    ];
    return new SqlSandbox(await Lake.openReadOnly(config), fence);
  }

  /** Fences the instance behind `conn` unless it is fenced already. */
  private async fenced(conn: DuckDBConnection): Promise<void> {
    const [row] = (await conn.runAndReadAll(`SELECT current_setting('lock_configuration') AS locked`)).getRowObjects();
    if (row?.locked === true) return;
    for (const statement of this.fence) await conn.run(statement);
  }

  async run(sql: string, limits: SqlLimits): Promise<SqlResult> {
    const maxChars = limits.maxChars ?? 1_000_000;
    return this.lake.withConnection(async (conn) => {
      await this.fenced(conn);
      const statements = await conn.extractStatements(sql);
      if (statements.count !== 1) throw new SqlRefused(`one statement at a time (this is ${statements.count})`);
      const maintenance = [...sql.matchAll(/ducklake_\w+/gi)]
        .map((m) => m[0].toLowerCase())
        .find((f) => !READING_DUCKLAKE_FUNCTIONS.has(f));
      if (maintenance) throw new SqlRefused(`${maintenance} changes the lake: only reading is allowed here`);
      const prepared = await statements.prepare(0);
      if (prepared.statementType !== StatementType.SELECT)
        throw new SqlRefused('only SELECT is allowed: the lake is read-only here (no INSERT, UPDATE, DELETE, DDL, COPY, ATTACH, SET)');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        conn.interrupt();
      }, limits.timeoutMs);
      try {
        const reader = await prepared.streamAndReadUntil(limits.maxRows + 1);
        const all = reader.getRowObjectsJson() as Record<string, unknown>[];
        const rows: Record<string, unknown>[] = [];
        let chars = 0;
        for (const r of all.slice(0, limits.maxRows)) {
          chars += JSON.stringify(r).length;
          if (chars > maxChars) break;
          rows.push(r);
        }
        return { columns: reader.columnNames(), rows, truncated: all.length > rows.length || !reader.done };
      } catch (e) {
        if (timedOut) throw new SqlRefused(`the query ran over its ${limits.timeoutMs} ms and was stopped`);
        throw e;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  close(): void {
    this.lake.close();
  }
}
