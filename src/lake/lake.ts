import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LakeConfig } from '../config.js';

/** Lake errors: thrown by openLake when the catalog cannot be attached, with the cause's text. */
export class LakeError extends Error {
  override name = 'LakeError';
}

const SQL_DIR = new URL('../../sql/', import.meta.url);

/** SQL literal quoting for the values templated into sql/*.sql. */
export function sqlLiteral(value: string): string {
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
 * One DuckDB instance per process with the DuckLake catalog attached as `lake`. Writes are serialized within the
 * process (DuckLake commits are optimistic; one writer per process avoids self-conflicts); reads run concurrently.
 */
export class Lake {
  private writeChain: Promise<unknown> = Promise.resolve();
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly config: LakeConfig,
  ) {}

  /** Opens DuckDB with the project's extension directory, loads DuckLake and attaches the catalog. */
  static async open(config: LakeConfig): Promise<Lake> {
    const instance = await DuckDBInstance.create(':memory:', {
      extension_directory: config.extensionDir,
      allow_unsigned_extensions: 'false',
      autoinstall_known_extensions: 'false',
      memory_limit: config.memoryLimit,
      threads: String(config.threads),
      // Without a spill directory an in-memory instance fails with "Out of Memory" instead of spilling (compaction).
      temp_directory: config.tempDir,
      preserve_insertion_order: 'false',
    });
    const lake = new Lake(instance, config);
    const conn = await instance.connect();
    try {
      await conn.run('LOAD ducklake');
      if (config.catalog === 'postgres') await conn.run('LOAD postgres_scanner');
      if (config.dataPath.startsWith('s3://')) {
        await conn.run('LOAD httpfs');
        const s3 = config.s3;
        await conn.run(
          renderSql('s3-secret.sql', {
            key_id: s3.keyId ?? '',
            secret: s3.secret ?? '',
            region: s3.region,
            endpoint: s3.endpoint ?? 's3.amazonaws.com',
            url_style: s3.urlStyle,
            use_ssl: s3.useSsl ? 'true' : 'false',
          }),
        );
      } else {
        mkdirSync(config.dataPath, { recursive: true });
      }
      const uri = config.catalog === 'postgres' ? `ducklake:postgres:${config.pgDsn}` : `ducklake:${config.catalogPath}`;
      if (config.catalog === 'duckdb') mkdirSync(dirname(config.catalogPath), { recursive: true });
      await conn.run(
        renderSql(config.catalog === 'postgres' ? 'attach-postgres.sql' : 'attach-duckdb.sql', {
          ducklake_uri: uri,
          data_path: config.dataPath,
          encrypted: config.encrypted ? ', ENCRYPTED' : '',
        }),
      );
      await conn.run(renderSql('schema.sql', {}));
    } catch (e) {
      conn.closeSync();
      instance.closeSync();
      throw new LakeError(`cannot open the lake (${config.catalog} catalog): ${e instanceof Error ? e.message : String(e)}`);
    }
    conn.closeSync();
    return lake;
  }

  /** Runs fn on a fresh connection. */
  async withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await this.instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  }

  /** Runs fn inside BEGIN/COMMIT (ROLLBACK on error), one writer at a time in this process. */
  write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.writeChain.then(() =>
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
      }),
    );
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  /** Rows of a read query as plain objects (BIGINT as number, TIMESTAMP as ISO string). */
  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, DuckDBValue> | DuckDBValue[]): Promise<T[]> {
    return this.withConnection(async (conn) => {
      const reader = await conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJson() as T[];
    });
  }

  /** Merges small adjacent data files and removes the replaced ones (the lake's routine maintenance). */
  async compact(): Promise<{ filesBefore: number; filesAfter: number }> {
    const files = async () =>
      (await this.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ducklake_list_files('lake', 'messages')`))[0]?.n ?? 0;
    const filesBefore = await files();
    await this.write(async (conn) => {
      // At most 20 merged output files per call (the cap counts outputs, not inputs, so it bounds a call's work but not
      // its peak memory: see Known limits in the README); files already at the target size are left alone.
      await conn.run(`CALL ducklake_merge_adjacent_files('lake', max_compacted_files => 20)`);
    });
    await this.withConnection(async (conn) => {
      await conn.run(`CALL ducklake_expire_snapshots('lake', older_than => now() - INTERVAL 1 HOUR)`);
      await conn.run(`CALL ducklake_cleanup_old_files('lake', older_than => now() - INTERVAL 1 HOUR)`);
    });
    return { filesBefore, filesAfter: await files() };
  }

  close(): void {
    this.instance.closeSync();
  }
}
