import { INTEGER, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { Lake } from './lake.js';

// A fleet's plan in the lake (table fleet_mailboxes): its mailboxes in the order it extracts them, written once and
// read a page at a time, so that neither a planning result nor the state a fleet carries across continue-as-new holds
// a whole domain (20,000 mailboxes would be ~4 MB; Temporal refuses a payload over 2 MB).

/** Stores the plan of `fleet` ("<workflow id>/<first run id>"): `accounts` in order. A retried planning replaces it. */
export async function storeFleetPlan(lake: Lake, fleet: string, accounts: string[]): Promise<void> {
  await lake.write(async (conn) => {
    await conn.run(`DELETE FROM lake.fleet_mailboxes WHERE fleet = $fleet`, { fleet });
    if (accounts.length === 0) return;
    await conn.run(
      `INSERT INTO lake.fleet_mailboxes SELECT $fleet, unnest($seqs), unnest($accounts)`,
      { fleet, seqs: listValue(accounts.map((_, i) => i)), accounts: listValue(accounts) },
      { seqs: LIST(INTEGER), accounts: LIST(VARCHAR) },
    );
  });
}

/**
 * The accounts at positions [from, from + limit) of `fleet`'s plan, in order. By position, not by count: a planning
 * retried while its first attempt still ran may have stored the plan twice, and each position is read once.
 */
export async function fleetPlanPage(lake: Lake, fleet: string, from: number, limit: number): Promise<string[]> {
  const rows = await lake.query<{ account: string }>(
    `SELECT min(account) AS account FROM lake.fleet_mailboxes WHERE fleet = $fleet AND seq >= $from AND seq < $to
     GROUP BY seq ORDER BY seq`,
    { fleet, from, to: from + limit },
  );
  return rows.map((r) => r.account);
}
