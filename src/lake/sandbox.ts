/**
 * SQL from someone else (the MCP `run_sql` tool): one SELECT at a time over a lake opened read-only in its own DuckDB
 * instance whose files are fenced in — external access off except the lake's own data and catalog, the configuration
 * then locked — within a row limit (the result read only that far, never buffered whole) and a time limit (the query
 * interrupted).
 */
import { dirname } from 'node:path';
import { StatementType } from '@duckdb/node-api';
import type { LakeConfig } from '../config.js';
import { Lake } from './lake.js';

export class SqlRefused extends Error {}

export interface SqlLimits {
  maxRows: number;
  timeoutMs: number;
}

export interface SqlResult {
  columns: string[];
  rows: Record<string, unknown>[];
  /** True when the query had more rows than maxRows (only the first are returned). */
  truncated: boolean;
}

export class SqlSandbox {
  private constructor(private readonly lake: Lake) {}

  static async open(config: LakeConfig): Promise<SqlSandbox> {
    const lake = await Lake.openReadOnly(config);
    const allowed = [config.dataPath.endsWith('/') ? config.dataPath : `${config.dataPath}/`];
    if (config.catalog !== 'postgres') allowed.push(`${dirname(config.catalogPath)}/`);
    await lake.withConnection(async (conn) => {
      await conn.run(`SET allowed_directories = [${allowed.map((d) => `'${d.replace(/'/g, "''")}'`).join(', ')}]`);
      await conn.run('SET enable_external_access = false');
      await conn.run('SET lock_configuration = true');
    });
    return new SqlSandbox(lake);
  }

  async run(sql: string, limits: SqlLimits): Promise<SqlResult> {
    return this.lake.withConnection(async (conn) => {
      const statements = await conn.extractStatements(sql);
      if (statements.count !== 1) throw new SqlRefused(`one statement at a time (this is ${statements.count})`);
      const prepared = await statements.prepare(0);
      if (prepared.statementType !== StatementType.SELECT)
        throw new SqlRefused('only SELECT is allowed: the lake is read-only here (no INSERT, UPDATE, DELETE, DDL, COPY, ATTACH, SET)');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        conn.interrupt();
      }, limits.timeoutMs);
      try {
        const reader = await prepared.runAndReadUntil(limits.maxRows + 1);
        const rows = reader.getRowObjectsJson().slice(0, limits.maxRows) as Record<string, unknown>[];
        return { columns: reader.columnNames(), rows, truncated: reader.currentRowCount > limits.maxRows };
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
