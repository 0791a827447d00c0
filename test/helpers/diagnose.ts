import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { pgOptions } from '../../src/postgres.js';
import { Client, Connection } from '@temporalio/client';

/**
 * What a test that gave up waiting should print: each workflow's status and its pending activities (type, state,
 * attempt, last heartbeat, last failure, the worker that holds it), so that a stall can be told from a retry loop
 * and from a dead worker without reproducing it.
 */
export async function pendingActivitiesReport(address: string, workflowIds: string[]): Promise<string> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const client = new Client({ connection });
    const lines: string[] = [];
    for (const id of workflowIds) {
      try {
        const d = await client.workflow.getHandle(id).describe();
        lines.push(`${id}: ${d.status.name}, history ${d.historyLength} events`);
        for (const a of d.raw.pendingActivities ?? []) {
          const beat = a.lastHeartbeatTime?.seconds ? new Date(Number(a.lastHeartbeatTime.seconds) * 1000).toISOString() : '-';
          lines.push(
            `  ${a.activityType?.name} #${a.activityId}: state ${a.state}, attempt ${a.attempt}, last heartbeat ${beat}, ` +
              `worker ${a.lastWorkerIdentity || '-'}, last failure ${a.lastFailure?.message ?? '-'}`,
          );
        }
      } catch (e) {
        lines.push(`${id}: cannot describe (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    return lines.join('\n');
  } finally {
    await connection.close();
  }
}

/** What every session of a PostgreSQL server is doing (state, what it waits on, since when, its query's head). */
export async function pgActivityReport(dsn: string): Promise<string> {
  const client = new pg.Client({ ...pgOptions(dsn), connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<Record<string, unknown>>(
      `SELECT pid, datname, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by,
              now() - xact_start AS in_transaction_for, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
       FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST`,
    );
    return rows.map((r) => JSON.stringify(r)).join('\n') || '(no sessions)';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the Temporal dev server (its process) still runs, or how it exited. */
export function devServerReport(process: ChildProcess): string {
  return process.exitCode === null && process.signalCode === null ? 'running' : `exited (${process.exitCode ?? process.signalCode})`;
}
