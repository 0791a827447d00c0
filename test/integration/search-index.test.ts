/**
 * Several processes keep one search index: two `gmail-lake search` processes run again and again on the DATA_DIR that
 * this process commits batches, label changes and deletions to, each bringing the shared index up to the lake's newest
 * snapshot through the change feed before it answers (SQLite WAL, one window of snapshots per transaction, never an
 * older window applied over a newer one). At the end the index, left by those processes, answers what the lake answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Config, loadConfig } from '../../src/config.js';
import { persistStaged } from '../../src/lake/batches.js';
import { closeIndexFeed, IndexFeed } from '../../src/lake/index-feed.js';
import { Lake } from '../../src/lake/lake.js';
import { searchMessages } from '../../src/lake/search.js';
import { stageBatch } from '../../src/lake/staging.js';
import { IndexStore } from '../../src/search-index/store.js';
import { projectRoot } from '../../src/stack/tools.js';
import { cli } from '../helpers/cli.js';
import { syntheticCheckpoint, syntheticRows } from '../helpers/rows.js';

const ACCOUNT = 'index@example.com';
const MESSAGES = 3_000;
const BATCH = 200;

let dir: string;
let config: Config;
let lake: Lake;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'search-index-'));
  config = loadConfig({ DATA_DIR: join(dir, 'data'), DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions') });
  lake = await Lake.open(config.lake);
});
after(async () => {
  await closeIndexFeed(lake);
  lake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Each query's page from the index (brought to the newest snapshot) holds the lake's ids and labels, in its order. */
async function indexAnswersAsLake(queries: string[]): Promise<void> {
  for (const q of queries) {
    const [fromLake, fromIndex] = await Promise.all([
      searchMessages(lake, { account: ACCOUNT, q, limit: 10_000, index: false }),
      searchMessages(lake, { account: ACCOUNT, q, limit: 10_000, order: 'date', index: { waitMs: 60_000 } }),
    ]);
    assert.equal(fromIndex.source, 'index');
    assert.ok(fromLake.messages.length > 0, q);
    assert.deepEqual(
      fromIndex.messages.map((m) => [m.id, m.labelIds.join(',')]),
      fromLake.messages.map((m) => [m.id, m.labelIds.join(',')]),
      q,
    );
  }
}

test('two CLI processes refresh one index while batches, label changes and deletions commit: it ends equal to the lake', async () => {
  const env = { DATA_DIR: config.dataDir, GMAIL_LAKE_HOME: join(dir, 'home') };
  const search = async (q: string) => {
    const r = await cli(['search', '--account', ACCOUNT, q, '--json', '--limit', '500'], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { source: string };
  };
  let writing = true;
  const searchers = ['café', 'is:starred'].map(async (q) => {
    let runs = 0;
    while (writing) {
      await search(q);
      runs++;
    }
    return runs;
  });
  for (let b = 0; b * BATCH < MESSAGES; b++) {
    const rows = syntheticRows(MESSAGES, ACCOUNT, b * BATCH, (b + 1) * BATCH);
    await persistStaged(
      lake,
      await stageBatch(join(dir, `stage-${b}`), rows.messages, rows.attachments),
      syntheticCheckpoint(ACCOUNT, `b${b}`),
    );
    if (b % 3 === 2) {
      // What a sync writes (src/lake/mirror.ts): labels changed, messages deleted in Gmail kept with deleted_at.
      const ids = rows.messages.slice(0, 40).map((m) => m.id);
      await lake.write((c) =>
        c.run(
          `UPDATE lake.messages SET label_ids = list_append(coalesce(label_ids, []), 'STARRED'), labels_updated_at = now()::TIMESTAMP
            WHERE account = '${ACCOUNT}' AND id IN (SELECT unnest(['${ids.slice(0, 20).join("','")}']))`,
        ),
      );
      await lake.write((c) =>
        c.run(
          `UPDATE lake.messages SET deleted_at = now()::TIMESTAMP WHERE account = '${ACCOUNT}' AND id IN (SELECT unnest(['${ids.slice(20).join("','")}']))`,
        ),
      );
    }
  }
  writing = false;
  const runs = await Promise.all(searchers);
  assert.ok(
    runs.every((n) => n >= 2),
    `each searcher ran while the lake changed (${runs.join(', ')})`,
  );
  // One more search brings the index to the newest snapshot; from then on this process reads what the others wrote.
  assert.equal((await search('in:anywhere')).source, 'index');
  const newest = (await lake.query<{ newest: string }>('SELECT max(snapshot_id)::VARCHAR AS newest FROM lake.snapshots()'))[0]!.newest;
  const store = await IndexStore.open(config.lake.searchIndexPath!);
  try {
    assert.equal(store.meta('snapshot'), newest, 'the CLI processes brought the index to the newest snapshot');
  } finally {
    store.close();
  }
  await indexAnswersAsLake(['', 'in:anywhere', 'is:starred', 'café', 'from:alice OR has:attachment', '-is:starred subject:invoice']);
});

test('an index whose snapshots the lake expired is built again from the rows, in pieces, and answers what the lake answers', async () => {
  await closeIndexFeed(lake);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${config.lake.searchIndexPath}${suffix}`, { force: true });
  // Every snapshot but the newest expired: the change feed cannot be read from the start.
  await lake.write((c) => c.run(`CALL ducklake_expire_snapshots('lake', older_than => now())`));
  const [bounds] = await lake.query<{ oldest: string; newest: string }>(
    'SELECT min(snapshot_id)::VARCHAR AS oldest, max(snapshot_id)::VARCHAR AS newest FROM lake.snapshots()',
  );
  assert.ok(Number(bounds!.oldest) > 0, 'the first snapshots are gone');
  const [ids] = await lake.query<{ last: number; n: number }>(`SELECT max(rowid) AS last, count(*) AS n FROM lake.messages`);
  // Pieces of 700 row ids: the last one partial, none aligned with the batches of 200.
  assert.ok(ids!.last > 2_100, `several pieces of row ids (${ids!.last} for ${ids!.n} rows)`);
  const store = await IndexStore.open(config.lake.searchIndexPath!);
  try {
    await new IndexFeed(lake, store, 700).refresh();
    assert.equal(store.meta('snapshot'), bounds!.newest, 'built at the newest snapshot');
    assert.equal(store.size() >= MESSAGES, true);
  } finally {
    store.close();
  }
  await indexAnswersAsLake(['in:anywhere', 'is:starred', 'café', '-is:starred subject:invoice']);
});
