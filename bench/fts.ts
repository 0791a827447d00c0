import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { toRows } from '../src/activities/rows.js';
import { GeneratedMailbox } from '../src/emulator/generate.js';
import { projectRoot } from '../src/stack/tools.js';
import type { Row } from './scenarios.js';

/** What this benchmark uses of better-sqlite3 (not a dependency: no types installed). */
interface SqliteStatement {
  run(...values: string[]): unknown;
  all(...values: string[]): unknown[];
}
interface SqliteDatabase {
  pragma(p: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}
type SqliteConstructor = new (path: string) => SqliteDatabase;

/**
 * The candidates for the full-text index of free-word search (issue 23), on one corpus: `n` generated messages read by
 * the pipeline's own MIME reader (subject, text body, addresses), fed in batches of 500 as a backfill commits them.
 * - DuckDB's `fts` extension on a sidecar database: its index is built whole (`PRAGMA create_fts_index`); it has no
 *   incremental update, so keeping it current costs a rebuild — measured at the corpus's size.
 * - SQLite FTS5 (better-sqlite3): rows are added per batch, in the batch's transaction.
 * Both answer the same free-word queries ranked by BM25: p50 and p95 over `queries` queries.
 * Needs DuckDB's fts extension in .tools/duckdb-extensions and better-sqlite3 (`npm install --no-save
 * better-sqlite3@12.11.1`; 13.x needs Node 22): neither is a dependency of the pipeline yet.
 */
export async function ftsCandidates(n: number, queries = 200): Promise<Row[]> {
  const require = createRequire(import.meta.url);
  let Sqlite: SqliteConstructor;
  try {
    Sqlite = require('better-sqlite3') as SqliteConstructor;
  } catch {
    throw new Error('the fts scenario needs better-sqlite3: npm install --no-save better-sqlite3@12.11.1');
  }
  const dir = mkdtempSync(join(tmpdir(), 'fts-bench-'));
  const duck = await DuckDBInstance.create(join(dir, 'fts.duckdb'), {
    extension_directory: join(projectRoot, '.tools/duckdb-extensions'),
    autoinstall_known_extensions: 'false',
  });
  const conn = await duck.connect();
  await conn.run('LOAD fts');
  await conn.run('CREATE TABLE docs (id VARCHAR, subject VARCHAR, body VARCHAR, addresses VARCHAR)');
  const lite = new Sqlite(join(dir, 'fts.sqlite'));
  lite.pragma('journal_mode = WAL');
  // Contentless (the lake holds the text; the index keeps only its terms), positions kept for phrases.
  lite.exec(
    `CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, subject, body, addresses, content = '', contentless_unindexed = 1, tokenize = 'unicode61 remove_diacritics 2'${process.env.FTS5_DETAIL ? `, detail = ${process.env.FTS5_DETAIL}` : ''})`,
  );
  const insert = lite.prepare('INSERT INTO docs (id, subject, body, addresses) VALUES (?, ?, ?, ?)');
  const addBatch = lite.transaction((rows: string[][]) => {
    for (const r of rows) insert.run(...r);
  });
  const mailbox = new GeneratedMailbox('fts', n, 'user@example.com');
  const words: string[] = [];
  let liteMs = 0;
  let duckInsertMs = 0;
  let bytes = 0;
  for (let start = 0; start < n; start += 500) {
    const batch: string[][] = [];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      const { message: m } = toRows(
        { id: `m${i}`, labelIds: [] },
        { account: 'a', format: 'raw', extractionId: 'x', fetchedAt: 0 },
        { bytes: mailbox.raw(i), file: '' },
      );
      const row = [m.id, m.subject ?? '', m.body_text ?? '', [m.from_address, ...m.to_addresses, ...m.cc_addresses].join(' ')];
      bytes += row[2]!.length;
      batch.push(row);
      if (i % Math.max(1, Math.floor(n / queries)) === 0) {
        const ws = (m.subject ?? '').split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 3);
        if (ws.length) words.push(ws[i % ws.length]!.toLowerCase());
      }
    }
    let t = performance.now();
    addBatch(batch);
    liteMs += performance.now() - t;
    t = performance.now();
    const appender = await conn.createAppender('docs');
    for (const r of batch) {
      for (const v of r) appender.appendVarchar(v);
      appender.endRow();
    }
    appender.closeSync();
    duckInsertMs += performance.now() - t;
  }
  let t = performance.now();
  await conn.run(`PRAGMA create_fts_index('docs', 'id', 'subject', 'body', 'addresses', overwrite = 1)`);
  const duckBuildMs = performance.now() - t;

  const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const qs = words.slice(0, queries).map((w, i) => (i % 3 === 2 && words[i + 1] ? `${w} ${words[i + 1]}` : w));
  const liteQuery = lite.prepare(`SELECT id, bm25(docs) AS score FROM docs WHERE docs MATCH ? ORDER BY score LIMIT 50`);
  const liteTimes: number[] = [];
  let liteHits = 0;
  for (const q of qs) {
    t = performance.now();
    liteHits += liteQuery.all(
      q
        .split(' ')
        .map((w) => `"${w}"`)
        .join(' '),
    ).length;
    liteTimes.push(performance.now() - t);
  }
  const duckTimes: number[] = [];
  let duckHits = 0;
  for (const q of qs) {
    t = performance.now();
    const r = await conn.runAndReadAll(
      `SELECT id, score FROM (SELECT id, fts_main_docs.match_bm25(id, $q, conjunctive := 1) AS score FROM docs) WHERE score IS NOT NULL ORDER BY score DESC LIMIT 50`,
      { q },
    );
    duckHits += r.getRows().length;
    duckTimes.push(performance.now() - t);
  }
  lite.close();
  conn.closeSync();
  duck.closeSync();
  rmSync(dir, { recursive: true, force: true });
  const batches = Math.ceil(n / 500);
  const common = { messages: n, 'text MB': Math.round(bytes / 1e6), queries: qs.length };
  return [
    {
      scenario: `full-text candidate: SQLite FTS5, rows added per batch of 500`,
      ...common,
      'index upkeep ms/batch': Math.round((liteMs / batches) * 10) / 10,
      'query p50 ms': Math.round(percentile(liteTimes, 0.5) * 10) / 10,
      'query p95 ms': Math.round(percentile(liteTimes, 0.95) * 10) / 10,
      hits: liteHits,
    },
    {
      scenario: `full-text candidate: DuckDB fts, index rebuilt whole (no incremental update)`,
      ...common,
      'index upkeep ms/batch': Math.round(duckBuildMs + duckInsertMs / batches),
      'query p50 ms': Math.round(percentile(duckTimes, 0.5) * 10) / 10,
      'query p95 ms': Math.round(percentile(duckTimes, 0.95) * 10) / 10,
      hits: duckHits,
    },
  ];
}
