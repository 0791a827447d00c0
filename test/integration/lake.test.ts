import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { persistStaged } from '../../src/lake/batches.js';
import { stageBatch } from '../../src/lake/staging.js';
import { Lake } from '../../src/lake/lake.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { waitFor } from '../helpers/ports.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticCheckpoint, syntheticRows } from '../helpers/rows.js';
import { authHeaders, credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';

let postgres: TestPostgres;
let dir: string;
before(async () => {
  postgres = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'gmail-lake-lake-'));
});
after(async () => {
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lakeEnv = (extra: Record<string, string>) => ({
  DATA_DIR: join(dir, Math.random().toString(36).slice(2)),
  DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions'),
  ...extra,
});

async function writeAndRead(env: Record<string, string>) {
  const config = loadConfig(lakeEnv(env)).lake;
  let lake = await Lake.open(config);
  await lake.write(async (c) => {
    await c.run(`INSERT INTO lake.labels VALUES ('smoke@example.com', 'INBOX', 'Inbox', 'system', now()::TIMESTAMP)`);
  });
  lake.close();
  lake = await Lake.open(config); // a fresh process-equivalent instance sees the committed row
  try {
    // Every table has statistics from the start (DuckLake re-reads a bare table's on every query), and giving them left
    // no row behind.
    const [bare] = await lake.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM __ducklake_metadata_lake.ducklake_table t
         LEFT JOIN __ducklake_metadata_lake.ducklake_table_stats s USING (table_id) WHERE t.end_snapshot IS NULL AND s.table_id IS NULL`,
    );
    assert.equal(bare?.n, 0, 'tables without statistics');
    const [left] = await lake.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM lake.failed_messages) + (SELECT count(*) FROM lake.write_guard) + (SELECT count(*) FROM lake.messages) AS n`,
    );
    assert.equal(Number(left?.n), 0, 'rows left by the statistics primer');
    return await lake.query<{ id: string; name: string }>(`SELECT id, name FROM lake.labels WHERE account = 'smoke@example.com'`);
  } finally {
    lake.close();
  }
}

describe('DuckLake smoke', () => {
  test('SQLite catalog (the default): written, closed, reopened, read; every table has statistics, no row added', async () => {
    assert.deepEqual(await writeAndRead({}), [{ id: 'INBOX', name: 'Inbox' }]);
  });

  test('SQLite catalog: a read-only lake reading in a loop beside a writer in one process: both go on (WAL journal)', async () => {
    const config = loadConfig(lakeEnv({})).lake;
    const lake = await Lake.open(config);
    const reader = await Lake.openReadOnly(config);
    try {
      // In SQLite's rollback journal these two waited on each other's locks (5 s busy timeouts, over and over): not one
      // write went through while the reader read (run_sql's sandbox beside a worker; `gmail-lake query` beside one).
      assert.ok(existsSync(`${config.catalogPath}-wal`), 'the catalog is in WAL mode');
      let writes = 0;
      let reads = 0;
      const stalled = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`stalled: ${writes} writes, ${reads} reads in 120 s`)), 120_000).unref(),
      );
      const writing = (async () => {
        while (writes < 30 || reads < 5)
          await lake.write((c) =>
            c.run(`INSERT INTO lake.labels VALUES ('wal@example.com', 'L${writes++}', 'L', 'user', now()::TIMESTAMP)`),
          );
      })();
      const reading = (async () => {
        while (writes < 30 || reads < 5) {
          await reader.query(`SELECT count(*) FROM labels`);
          reads++;
        }
      })();
      await Promise.race([Promise.all([writing, reading]), stalled]);
      const [n] = await reader.query<{ n: number }>(`SELECT count(*)::INT AS n FROM labels WHERE account = 'wal@example.com'`);
      assert.equal(n?.n, writes, 'the reader sees every committed write');
    } finally {
      reader.close();
      lake.close();
    }
  });

  test('DuckDB-file catalog: written, closed, reopened, read', async () => {
    assert.deepEqual(await writeAndRead({ LAKE_CATALOG: 'duckdb' }), [{ id: 'INBOX', name: 'Inbox' }]);
  });

  test('PostgreSQL catalog: written, reopened, read; metadata lives in PostgreSQL', async () => {
    await postgres.createDatabase('smoke');
    assert.deepEqual(await writeAndRead({ LAKE_CATALOG: 'postgres', LAKE_PG_DSN: postgres.dsn('smoke') }), [
      { id: 'INBOX', name: 'Inbox' },
    ]);
    const c = new pg.Client({ host: '127.0.0.1', port: postgres.port, user: 'postgres', database: 'smoke' });
    await c.connect();
    const r = await c.query(`SELECT count(*)::int AS n FROM ducklake_snapshot`);
    await c.end();
    assert.ok(r.rows[0].n > 1, 'DuckLake snapshots are recorded in the PostgreSQL catalog');
  });

  test('compactions asked for at once are two runs: the first, and one the others share; one asked for later runs anew', async () => {
    const lake = await Lake.open(loadConfig(lakeEnv({})).lake);
    try {
      const runs: number[] = [];
      const spied = lake as unknown as { compactNow: () => Promise<unknown> };
      const compactNow = spied.compactNow.bind(lake);
      spied.compactNow = () => {
        runs.push(Date.now());
        return compactNow();
      };
      const asked = Array.from({ length: 5 }, () => lake.compact());
      const results = await Promise.all(asked);
      assert.equal(runs.length, 2, 'one compaction, then one for all asked for while it ran');
      assert.notEqual(asked[0], asked[1]);
      for (const later of asked.slice(2)) assert.equal(later, asked[1], 'those asked for meanwhile share the next');
      for (const r of results) assert.equal(typeof r.filesAfter, 'number');
      await lake.compact();
      assert.equal(runs.length, 3, 'asked for once the others ended: a compaction of its own');
    } finally {
      lake.close();
    }
  });

  test('LAKE_RENEW_AFTER_WRITES=3: a fresh DuckDB instance every 3 commits; a query open across renewals ends; nothing lost', async () => {
    const lake = await Lake.open(loadConfig(lakeEnv({ LAKE_RENEW_AFTER_WRITES: '3' })).lake);
    try {
      // A connection of the first instance, held open while the writes replace that instance twice.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const reading = lake.withConnection(async (c) => {
        await held;
        return Number((await c.runAndReadAll(`SELECT count(*) FROM lake.labels WHERE account = 'renew@example.com'`)).getRows()[0]?.[0]);
      });
      for (let i = 0; i < 7; i++)
        await lake.write((c) => c.run(`INSERT INTO lake.labels VALUES ('renew@example.com', 'L${i}', 'L', 'user', now()::TIMESTAMP)`));
      assert.equal(lake.renewals, 2, 'renewed after the 3rd and the 6th commit');
      release();
      // The retired instance served its open connection to the end (and was closed after it).
      assert.equal(await reading, 7);
      const [after] = await lake.query<{ n: number }>(`SELECT count(*)::INT AS n FROM lake.labels WHERE account = 'renew@example.com'`);
      assert.equal(after?.n, 7);
    } finally {
      lake.close();
    }
  });

  test('an invalid catalog fails with a LakeError naming the catalog', async () => {
    await assert.rejects(
      Lake.open(
        loadConfig(
          lakeEnv({ LAKE_CATALOG: 'postgres', LAKE_PG_DSN: `host=127.0.0.1 port=${postgres.port} user=postgres dbname=missing_db` }),
        ).lake,
      ),
      /cannot open the lake \(postgres catalog\)/,
    );
  });

  test("a catalog that cannot be opened never shows the DSN's password", async () => {
    const password = 'Sup3r-Secret-Pw';
    const dsn = `host=127.0.0.1 port=${postgres.port} user=postgres password=${password} dbname=missing_db`;
    const err = await Lake.open(loadConfig(lakeEnv({ LAKE_CATALOG: 'postgres', LAKE_PG_DSN: dsn })).lake).then(
      () => assert.fail('opened'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /cannot open the lake/);
    assert.ok(!err.message.includes(password), err.message);
  });
});

describe('persisting staged batches', () => {
  test('only ids not yet stored are inserted: a re-run adds nothing, an overlapping batch adds only the new ones', async () => {
    const config = loadConfig(lakeEnv({})).lake;
    const lake = await Lake.open(config);
    const account = 'persist@example.com';
    const checkpoint = (batchId: string) => syntheticCheckpoint(account, batchId);
    const stage = (name: string, from: number, to: number) => {
      const slice = syntheticRows(60, account, from, to);
      return stageBatch(join(config.stagingDir, name), slice.messages, slice.attachments);
    };
    const counts = async () =>
      (
        await lake.query<{ m: number; d: number; a: number }>(
          `SELECT (SELECT count(*)::INT FROM lake.messages WHERE account = $account) AS m,
                  (SELECT count(DISTINCT id)::INT FROM lake.messages WHERE account = $account) AS d,
                  (SELECT count(*)::INT FROM lake.attachments WHERE account = $account) AS a`,
          { account },
        )
      )[0];
    try {
      const first = await stage('first', 0, 40);
      assert.equal((await persistStaged(lake, first, checkpoint('first'))).inserted, 40);
      const once = await counts();
      assert.equal((await persistStaged(lake, first, checkpoint('first-again'))).inserted, 0);
      assert.deepEqual(await counts(), once, 'a re-run batch changes nothing');
      assert.equal((await persistStaged(lake, await stage('overlap', 30, 60), checkpoint('overlap'))).inserted, 20);
      const all = await counts();
      assert.equal(all?.m, 60);
      assert.equal(all?.d, 60, 'no duplicate ids');
      const attachments = syntheticRows(60, account).attachments.length;
      assert.equal(all?.a, attachments, 'every attachment exactly once');
      assert.ok(attachments > 0, 'the generated mailbox has attachments');
    } finally {
      lake.close();
    }
  });
});

describe('two processes persisting overlapping batches of one account at the same moment', () => {
  test('store each id once; each reports only the rows it really inserted', async (t) => {
    await postgres.createDatabase('race');
    const env = lakeEnv({ LAKE_CATALOG: 'postgres', LAKE_PG_DSN: postgres.dsn('race') });
    const account = 'race@example.com';
    const size = 600;
    let conflicts = 0;
    // Three rounds, each two overlapping id ranges [from, to) released together; `fresh` = ids not stored before.
    const rounds = [
      {
        ranges: [
          [0, 150],
          [50, 200],
        ],
        fresh: 200,
        total: 200,
      },
      {
        ranges: [
          [200, 400],
          [200, 400],
        ],
        fresh: 200,
        total: 400,
      },
      {
        ranges: [
          [380, 500],
          [400, 600],
        ],
        fresh: 200,
        total: 600,
      },
    ];
    for (const [i, round] of rounds.entries()) {
      const writers = round.ranges.map(([from, to], w) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(projectRoot, 'test/helpers/persist-child.ts'),
            account,
            String(from),
            String(to),
            String(size),
            `r${i}w${w}`,
          ],
          { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((r) => child.once('exit', r));
        return { child, output: () => out, exited };
      });
      await waitFor('both writers ready', async () => writers.every((w) => w.output().includes('ready')), 120_000, 50);
      for (const w of writers) w.child.stdin.write('go\n');
      assert.deepEqual(await Promise.all(writers.map((w) => w.exited)), [0, 0]);
      const results = writers.map(
        (w) =>
          JSON.parse(
            w
              .output()
              .split('\n')
              .find((l) => l.startsWith('{'))!,
          ) as { inserted: number; conflicts: number },
      );
      conflicts += results.reduce((n, r) => n + r.conflicts, 0);
      const lake = await Lake.open(loadConfig(env).lake);
      try {
        const rows = await lakeRows(lake, account);
        assert.equal(rows.distinct, rows.rows, `round ${i}: no duplicate ids`);
        assert.equal(rows.rows, round.total, `round ${i}: every id stored`);
      } finally {
        lake.close();
      }
      assert.equal(
        results.reduce((n, r) => n + r.inserted, 0),
        round.fresh,
        `round ${i}: the writers report exactly the rows that were new`,
      );
      t.diagnostic(
        `round ${i}: inserted ${results.map((r) => r.inserted).join(' + ')}, commits retried after a conflict ${results.map((r) => r.conflicts).join(' + ')}`,
      );
    }
    assert.ok(conflicts > 0, 'the writers really raced: DuckLake refused at least one concurrent commit, which was retried');
  });
});

describe('extraction into a PostgreSQL-catalog lake', () => {
  let temporal: TestTemporal;
  let emu: RunningEmulator;
  let p: Pipeline;
  before(async () => {
    temporal = await startTestTemporal();
    emu = await startTestEmulator({ messages: 1000, settings: { faults: { error500: 0.05, error429: 0.03, drop: 0.02 } } });
    await postgres.createDatabase('lake');
    p = await startPipeline(testConfig(temporal, emu, { LAKE_CATALOG: 'postgres', LAKE_PG_DSN: postgres.dsn('lake') }), credentials);
  });
  after(async () => {
    await p.stop();
    await emu.close();
    await temporal.stop();
  });

  test('with 10% faults the lake equals the manifest, without duplicates', async () => {
    const account = 'pg@example.com';
    const res = await fetch(`${p.url}/extract`, {
      method: 'POST',
      headers: { ...authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ account, batchSize: 100 }),
    });
    const { id } = (await res.json()) as { id: string };
    const done = await waitFor(
      'completion',
      async () => {
        const s = (await (await fetch(`${p.url}/extract/${id}`, { headers: authHeaders })).json()) as { status: string };
        return s.status !== 'running' ? s : undefined;
      },
      180_000,
      300,
    );
    assert.equal(done.status, 'completed');
    const truth = listable(await manifest(emu, account));
    const rows = await lakeRows(p.lake, account);
    assert.equal(rows.rows, truth.length);
    assert.equal(rows.distinct, rows.rows);
    const withBodies = await p.lake.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM lake.messages WHERE account = $a AND (body_text IS NOT NULL OR body_html IS NOT NULL)`,
      { a: account },
    );
    assert.ok(withBodies[0]!.n > truth.length * 0.9, 'bodies parsed from format=full');
  });
});
