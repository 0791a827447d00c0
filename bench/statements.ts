// `--only statements`: a fleet mailbox's lake work alone, without Gmail, Temporal or other mailboxes' processes — what
// bounds a fleet (docs/benchmarks.md, "What bounds a fleet"). For each catalog, `mailboxes` small mailboxes in turn, each
// as a fleet's child writes it: the run's start (write guard, labels snapshot, resume point, run record), the listed
// page's stored-ids probe, the batch's commit (16 messages, `full`), the completed record and the hand-over to syncs.
// Reported: the lake's milliseconds per mailbox over the first and the last tenth (how it grows with the catalog), each
// step's mean, and the messages/s a fleet of 15.8-message mailboxes could reach if the lake did nothing else.
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { persistStaged, storedIds } from '../src/lake/batches.js';
import { Lake } from '../src/lake/lake.js';
import { handOverToMirror } from '../src/lake/mirror.js';
import { recordRun, startRun } from '../src/lake/runs.js';
import { stageBatch } from '../src/lake/staging.js';
import { projectRoot } from '../src/stack/tools.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { syntheticCheckpoint, syntheticRows } from '../test/helpers/rows.js';
import type { BenchEnv } from './harness.js';
import { round, type Row } from './scenarios.js';

const PER_MAILBOX = 16;
/** The fleet bench's long-tailed domain: 3,163 messages over 200 mailboxes. */
const FLEET_MEAN = 15.8;
const LABELS = Array.from({ length: 20 }, (_, i) => ({
  id: i < 12 ? `SYSTEM_${i}` : `Label_${i}`,
  name: `Label ${i}`,
  type: i < 12 ? 'system' : 'user',
}));
const STEPS = ['start', 'probe', 'commit', 'end'] as const;

export async function lakeStatements(env: BenchEnv, mailboxes: number): Promise<Row[]> {
  const out: Row[] = [];
  const pg = await startPostgres();
  try {
    for (const catalog of ['sqlite', 'duckdb', 'postgres'] as const) {
      if (catalog === 'postgres') await pg.createDatabase('statements');
      const config = loadConfig({
        DATA_DIR: join(env.dir, `statements-${catalog}`),
        DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions'),
        LAKE_CATALOG: catalog,
        LAKE_PG_DSN: pg.dsn('statements'),
      });
      const lake = await Lake.open(config.lake);
      try {
        const times: Record<(typeof STEPS)[number], number>[] = [];
        for (let i = 0; i < mailboxes; i++) {
          const account = `m${i}@example.com`;
          const rows = syntheticRows(PER_MAILBOX, account);
          const dir = await stageBatch(join(config.lake.stagingDir, `b${i}`), rows.messages, rows.attachments);
          const ids = rows.messages.map((m) => m.id);
          const t: Partial<Record<(typeof STEPS)[number], number>> = {};
          const timed = async (step: (typeof STEPS)[number], fn: () => Promise<unknown>) => {
            const t0 = performance.now();
            await fn();
            t[step] = performance.now() - t0;
          };
          const run = { account, extractionKey: 'statements', workflowId: `wf-${i}`, runId: `run-${i}` };
          await timed('start', () => startRun(lake, run, LABELS));
          await timed('probe', () => storedIds(lake, account, ids));
          await timed('commit', () => persistStaged(lake, dir, syntheticCheckpoint(account, `b${i}`), ids));
          await timed('end', async () => {
            await recordRun(lake, { ...run, event: 'completed' });
            await handOverToMirror(lake, account, '1000', 'full');
          });
          times.push(t as Record<(typeof STEPS)[number], number>);
        }
        const tenth = Math.max(1, Math.floor(mailboxes / 10));
        const perMailbox = (slice: typeof times) => slice.reduce((s, t) => s + STEPS.reduce((a, k) => a + t[k], 0), 0) / slice.length;
        const last = perMailbox(times.slice(-tenth));
        out.push({
          scenario: `lake statements ${catalog}`,
          mailboxes,
          'ms a mailbox, first tenth': round(perMailbox(times.slice(0, tenth))),
          'ms a mailbox, last tenth': round(last),
          ...Object.fromEntries(STEPS.map((k) => [`${k} ms`, round(times.reduce((s, t) => s + t[k], 0) / times.length)])),
          'lake-bound msg/s (15.8 a mailbox)': round((1000 / last) * FLEET_MEAN),
        });
      } finally {
        lake.close();
      }
    }
  } finally {
    await pg.stop();
  }
  return out;
}
