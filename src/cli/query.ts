import { stringify } from 'csv-stringify/sync';
import { redactedMessage } from '../redact.js';
import { CliError, EXIT, type Out, table } from './output.js';
import { withReadLake } from './read-lake.js';
import type { Home } from './settings.js';

/**
 * `query`: the lake read with SQL, read-only (attached READ_ONLY as the default database: `FROM messages`), also while
 * the pipeline writes it. A table (the first `maxRows`), all rows as JSON with --json, or CSV (RFC 4180, by csv-stringify) with --csv.
 */
export async function query(home: Home, sql: string, o: { csv: boolean; maxRows: number }, out: Out): Promise<void> {
  const statement = sql.trim().replace(/;\s*$/, '');
  const rows = await withReadLake(home, (lake) =>
    lake
      .withConnection(async (conn) =>
        (await conn.runAndReadAll(statement)).getRowObjectsJS().map((r) => plain(r) as Record<string, unknown>),
      )
      .catch((e: unknown) => {
        throw new CliError(redactedMessage(e).split('\n')[0]!, EXIT.usage);
      }),
  );
  if (o.csv && !out.json) {
    const columns = rows.length ? Object.keys(rows[0]!) : [];
    const cells = rows.map((r) => columns.map((c) => (r[c] !== null && typeof r[c] === 'object' ? JSON.stringify(r[c]) : r[c])));
    process.stdout.write(stringify(cells, { header: true, columns }));
    return;
  }
  out.result(rows, () => {
    if (rows.length === 0) return out.line('(no rows)');
    out.line(table(rows.slice(0, o.maxRows)));
    out.line(
      rows.length > o.maxRows
        ? `(${rows.length} rows, ${o.maxRows} shown: --json or --csv for all)`
        : `(${rows.length} row${rows.length === 1 ? '' : 's'})`,
    );
  });
}

/** A DuckDB value as plain JSON: integers as numbers (as strings beyond 2^53), timestamps in ISO 8601, blobs in base64. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
