import type { DuckDBConnection } from '@duckdb/node-api';
import type { Lake } from './lake.js';

// One writer per account at a time, across processes: every transaction that changes an account's messages first
// bumps the account's write_guard row, so DuckLake refuses the later of two concurrent ones.

/** The accounts whose guard row this process knows is committed, per lake. */
export const guarded = new Set<string>();
/** Makes sure the account has its write_guard row (its own transaction, so later batches conflict on a committed row). */
async function ensureGuard(lake: Lake, account: string): Promise<void> {
  const key = guardKey(lake, account);
  if (guarded.has(key)) return;
  await lake.write((conn) => insertGuard(conn, account));
  guarded.add(key);
}

export const guardKey = (lake: Lake, account: string) => `${lake.config.catalogPath}|${lake.config.pgDsn}|${account}`;

export const insertGuard = (conn: DuckDBConnection, account: string) =>
  conn.run(`INSERT INTO lake.write_guard SELECT $account, 0 WHERE NOT EXISTS (SELECT 1 FROM lake.write_guard WHERE account = $account)`, {
    account,
  });

/**
 * Runs `fn` in one lake transaction that first bumps the account's write_guard row. Every transaction that changes an
 * account's messages goes through here: DuckLake then refuses the later of two concurrent ones of that account, and
 * `lake.write` runs it again against what the other committed (so `fn` must read what it depends on inside it).
 */
export async function guardedWrite<T>(lake: Lake, account: string, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  await ensureGuard(lake, account);
  return lake.write(async (conn) => {
    await conn.run(`UPDATE lake.write_guard SET seq = seq + 1 WHERE account = $account`, { account });
    return fn(conn);
  });
}
