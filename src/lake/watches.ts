import type { Lake } from './lake.js';

// Each mailbox's Gmail watch (table mailbox_watch): which topic it publishes to and until when, so that syncs renew it
// before it lapses without calling users.watch (100 units) every time.

export interface StoredWatch {
  topic: string;
  expiresAt: Date;
  renewedAt: Date;
}

/** The mailbox's watch as last made, if any. */
export async function storedWatch(lake: Lake, account: string): Promise<StoredWatch | undefined> {
  const rows = await lake.query<{ topic: string; expires_ms: number | bigint; renewed_ms: number | bigint }>(
    `SELECT topic, epoch_ms(expires_at) AS expires_ms, epoch_ms(renewed_at) AS renewed_ms
     FROM lake.mailbox_watch WHERE account = $account ORDER BY renewed_at DESC LIMIT 1`,
    { account },
  );
  const r = rows[0];
  return r && { topic: r.topic, expiresAt: new Date(Number(r.expires_ms)), renewedAt: new Date(Number(r.renewed_ms)) };
}

/** Records a watch just made (replacing the mailbox's previous one). */
export async function storeWatch(lake: Lake, account: string, w: { topic: string; historyId: string; expiration: number }): Promise<void> {
  await lake.write(async (conn) => {
    await conn.run(`DELETE FROM lake.mailbox_watch WHERE account = $account`, { account });
    await conn.run(
      // Both instants in UTC from epoch milliseconds (now()::TIMESTAMP would be the session's local time).
      `INSERT INTO lake.mailbox_watch VALUES ($account, $topic, $hist::BIGINT, make_timestamp($expires::BIGINT * 1000), make_timestamp($now::BIGINT * 1000))`,
      { account, topic: w.topic, hist: w.historyId || null, expires: w.expiration, now: Date.now() },
    );
  });
}
