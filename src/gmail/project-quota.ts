import pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { pgOptions } from '../postgres.js';

/**
 * Where the project's quota reservations are kept. `reserve(units)` books `units` at the project's rate and answers how
 * long to wait before spending them (GCRA: a theoretical arrival time pushed forward by units / rate per booking).
 */
export interface ReservationStore {
  reserve(units: number): Promise<number>;
  close(): Promise<void>;
}

/** Reservations kept in this process: right when one process (or one host's one worker) reads the project's mailboxes. */
export class LocalReservations implements ReservationStore {
  private tat = 0;
  constructor(private readonly unitsPerMs: number) {}
  async reserve(units: number): Promise<number> {
    const now = Date.now();
    const start = Math.max(this.tat, now);
    this.tat = start + units / this.unitsPerMs;
    return start - now;
  }
  async close(): Promise<void> {}
}

/**
 * Reservations kept in PostgreSQL (the lake catalog's database): every worker on every host books from the same row,
 * with the database's clock, so the project's quota holds whatever the number of workers. One round trip per chunk.
 */
export class PostgresReservations implements ReservationStore {
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;
  constructor(
    dsn: string,
    private readonly project: string,
    private readonly unitsPerMs: number,
  ) {
    this.pool = new pg.Pool({ ...pgOptions(dsn), max: 2 });
    // An idle connection the server closes (a restart, a failover, an idle timeout) is reported here: pg.Pool drops it
    // and the next booking opens a new one. Unhandled, the 'error' event would end the whole worker process.
    this.pool.on('error', () => {});
  }
  /**
   * Creates the bookings table and the project's row once. Several workers start at once: an advisory lock serializes
   * them (a concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog), and a failure is retried
   * by the next booking rather than remembered.
   */
  private async setup(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('gmail_lake_project_quota'))`);
      await c.query(`CREATE TABLE IF NOT EXISTS gmail_lake_project_quota (project TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)`);
      await c.query(`INSERT INTO gmail_lake_project_quota VALUES ($1, 0) ON CONFLICT DO NOTHING`, [this.project]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async reserve(units: number): Promise<number> {
    this.ready ??= this.setup().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    await this.ready;
    const r = await this.pool.query<{ wait: number }>(
      `WITH now AS (SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms)
       UPDATE gmail_lake_project_quota SET tat = GREATEST(tat, now.ms) + $2 FROM now
       WHERE project = $1 RETURNING tat - $2 - now.ms AS wait`,
      [this.project, units / this.unitsPerMs],
    );
    return Number(r.rows[0]?.wait ?? 0);
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The project's bookings could not be made (its store, e.g. PostgreSQL, is unreachable): retried like a transient error. */
export class ProjectQuotaError extends Error {
  override name = 'ProjectQuotaError';
}

/**
 * The per-project quota (Gmail: 1,200,000 units per minute shared by every mailbox of a Google Cloud project), spent
 * by every request on top of its mailbox's budget. Units are booked from the store in chunks (one booking covers
 * several requests, so a shared store sees one round trip per chunk, not per request) at `share` of the project's rate.
 * What a booking leaves unspent is spent later, so a window can see up to (1 + processes) chunks over the share: the
 * bound stated in docs/architecture.md (Known limits).
 * With `unitsPerMs` (the booked rate) a chunk's requests leave paced at that rate from the time its booking gives,
 * not all at once: a booking that comes back late (another worker booked first, the store was slow) would otherwise
 * release every request queued behind it together, and the per-user buckets after this would hold them back and send
 * them later than their project time (CI saw both: 45 per-user 403s with this gate last, 30 project 403s with it
 * first and unpaced, of ~1,200 requests).
 */
export class ProjectQuota {
  private balance = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** When the next unit may leave (performance.now() time): the pace within the chunks booked so far. */
  private paceAt = 0;
  constructor(
    private readonly store: ReservationStore,
    private readonly chunkUnits: number,
    private readonly unitsPerMs?: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves when `units` of the project's quota may be spent (rejects if `signal` aborts while waiting). */
  take(units: number, signal?: AbortSignal): Promise<void> {
    if (units <= 0) return Promise.resolve();
    const next = this.chain.then(async () => {
      // Aborted while queued: leave without booking, nor taking a slot from the requests behind.
      signal?.throwIfAborted();
      if (this.balance < units) {
        const chunk = Math.max(units, this.chunkUnits);
        const wait = await this.store.reserve(chunk).catch((e: unknown) => {
          throw new ProjectQuotaError(`cannot book the project's quota: ${e instanceof Error ? e.message : String(e)}`);
        });
        this.balance += chunk;
        // The chunk's time starts at its booked slot (never earlier than what this process already paced).
        this.paceAt = Math.max(this.paceAt, this.now() + Math.max(0, wait));
      }
      this.balance -= units;
      if (!this.unitsPerMs) {
        const due = this.paceAt - this.now();
        if (due > 0) await delay(due, undefined, { signal });
        return;
      }
      // No credit for idle time: a request after a pause leaves at once, the next ones at the booked rate. Debts under
      // a millisecond are carried, not slept (timers are no finer): at Gmail's 1,200,000 units a minute a get is due
      // every 0.25 ms, and a timer each would cap a process near 1,000 requests a second.
      const at = Math.max(this.now(), this.paceAt);
      this.paceAt = at + units / this.unitsPerMs;
      const due = at - this.now();
      if (due >= 1) await delay(due, undefined, { signal });
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
