// `--only reads`: how long a read of the lake waits while a backfill's commits queue in the same process (`npm start`
// runs the API beside the worker, and over a SQLite catalog the API's reads share the worker's line of lake work:
// src/lake/line.ts, where a request's reads go ahead of the commits waiting). `writes` staged batches of 500 `full`
// messages are committed at once, as a worker's activity slots hand them over, and while they drain one search after
// another asks the lake (GET /messages' SQL, no index) and the readiness probe's count. Reported: the drain's time, a
// commit's mean, and the reads' median and longest waits.
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { persistStaged } from '../src/lake/batches.js';
import { Lake } from '../src/lake/lake.js';
import { readsAhead } from '../src/read-priority.js';
import { searchMessages } from '../src/lake/search.js';
import { stageBatch } from '../src/lake/staging.js';
import { projectRoot } from '../src/stack/tools.js';
import { syntheticCheckpoint, syntheticRows } from '../test/helpers/rows.js';
import type { BenchEnv } from './harness.js';
import { percentile, round, type Row } from './scenarios.js';

const BATCH = 500;

export async function readsBesideWrites(env: BenchEnv, writes: number): Promise<Row> {
  const account = 'reads@example.com';
  const config = loadConfig({ DATA_DIR: join(env.dir, 'reads'), DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions') });
  const lake = await Lake.open(config.lake);
  try {
    // A lake with something to search, then the batches to commit staged beforehand (not timed).
    const total = BATCH * (writes + 1);
    const stage = async (b: number) => {
      const rows = syntheticRows(total, account, b * BATCH, (b + 1) * BATCH);
      return stageBatch(join(config.lake.stagingDir, `b${b}`), rows.messages, rows.attachments);
    };
    await persistStaged(lake, await stage(0), syntheticCheckpoint(account, 'b0'));
    const dirs = [];
    for (let b = 1; b <= writes; b++) dirs.push(await stage(b));
    const started = performance.now();
    let draining = true;
    const commits = Promise.all(dirs.map((dir, i) => persistStaged(lake, dir, syntheticCheckpoint(account, `b${i + 1}`)))).finally(
      () => (draining = false),
    );
    const waits: number[] = [];
    const queries = ['from:alice', 'is:unread has:attachment', 'subject:invoice OR label:projects'];
    for (let i = 0; draining; i++) {
      const t = performance.now();
      // As the API's requests read (src/api/app.ts).
      await readsAhead(() =>
        i % 2
          ? lake.query(`SELECT count(*) FROM lake.extraction_runs`)
          : searchMessages(lake, { account, q: queries[(i / 2) % queries.length], limit: 50, index: false }),
      );
      waits.push(performance.now() - t);
    }
    await commits;
    const drain = performance.now() - started;
    return {
      scenario: 'reads beside a backfill (SQLite catalog, one process)',
      'commits queued': writes,
      'drain ms': round(drain),
      'commit ms (mean)': round(drain / writes),
      reads: waits.length,
      'read ms p50': round(percentile(waits, 0.5)),
      'read ms max': round(Math.max(...waits)),
      'longest read ÷ drain': round(Math.max(...waits) / drain, 3),
    };
  } finally {
    lake.close();
  }
}
