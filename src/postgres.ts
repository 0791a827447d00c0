import pg from 'pg';
import pgpass from 'pgpass';

/** A libpq keyword/value DSN (`host=… port=… dbname=… user=… password=…`) as node-postgres options. */
export function parseLibpqDsn(dsn: string): pg.ClientConfig {
  const out: Record<string, string> = {};
  for (const m of dsn.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g)) {
    const v = m[2]!;
    out[m[1]!] = v.startsWith("'") ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
  }
  return {
    host: out.host ?? out.hostaddr,
    port: out.port ? Number(out.port) : undefined,
    database: out.dbname,
    user: out.user,
    password: out.password,
  };
}

/**
 * node-postgres options for a libpq DSN, with its password found as libpq finds it when the DSN has none (DuckDB's
 * PostgreSQL catalog connection is libpq): `PGPASSWORD`, else the password file (`PGPASSFILE`, default ~/.pgpass;
 * ignored unless private to its owner).
 */
export function pgOptions(dsn: string): pg.ClientConfig {
  const params = parseLibpqDsn(dsn);
  return { ...params, password: params.password ?? (() => passwordOf(params)) };
}

function passwordOf(params: pg.ClientConfig): Promise<string> {
  if (process.env.PGPASSWORD !== undefined) return Promise.resolve(process.env.PGPASSWORD);
  const user = params.user ?? process.env.PGUSER ?? process.env.USER ?? '';
  const connInfo = { host: params.host ?? 'localhost', port: params.port ?? 5432, database: params.database ?? user, user };
  return new Promise((resolve) => pgpass(connInfo, (pass) => resolve(pass ?? '')));
}

/** Why the PostgreSQL server of `dsn` does not answer a query within `timeoutMs`, or null when it does. */
export async function pgUnreachable(dsn: string, timeoutMs = 3_000): Promise<string | null> {
  const client = new pg.Client({ ...pgOptions(dsn), connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (e) {
    return e instanceof Error ? e.message || e.name : String(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}
