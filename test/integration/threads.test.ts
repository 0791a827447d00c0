/**
 * Quota-optimal fetching: on a thread-heavy mailbox, a `full` extraction fetches each thread holding three or more of a
 * batch's messages with one threads.get (10 units) instead of a messages.get each (5 units), and stores exactly the
 * rows a get each gives — checked against a `raw` extraction of the same mailbox (which threads.get cannot serve: a
 * get each), column by column. A thread Gmail keeps refusing falls back to a get per message, and only the refused
 * message is quarantined.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Lake } from '../../src/lake/lake.js';
import { startPipeline } from '../../src/pipeline.js';
import { emulatorStats } from '../helpers/emulator.js';
import { api, extractionEnded } from '../helpers/http.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { listable, manifest } from '../helpers/verify.js';
import { createGmailApi } from '../../src/gmail/client.js';
import { planFetches } from '../../src/activities/batch.js';

const OWNER = 'threads@example.com';
let temporal: TestTemporal;
let emu: RunningEmulator;
/** A message inside a long thread that Gmail refuses in `full` (a thread holding it is refused too). */
let poisoned = '';

before(async () => {
  temporal = await startTestTemporal();
  // Replies four times in five: threads of ~4.5 messages (Gmail's own mailboxes vary; mailing lists run longer).
  emu = await startTestEmulator({ seed: 'threads', owner: OWNER, messages: 600, replyRate: 0.8, settings: { quota: 'legacy' } });
  const truth = listable(await manifest(emu, OWNER));
  const sizes = new Map<string, string[]>();
  for (const e of truth) sizes.set(e.threadId, [...(sizes.get(e.threadId) ?? []), e.id]);
  poisoned = [...sizes.values()].find((ids) => ids.length >= 5)![2]!;
  await fetch(`${emu.url}_emulator/settings`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ poison: [{ id: poisoned, status: 500, format: 'full' }] }),
  });
});
after(async () => {
  await emu.close();
  await temporal.stop();
});

/**
 * Every column a fetch fills, by message id, less those that say how it was fetched (format, raw bytes, times, run)
 * and the attachments' Gmail ids (raw bytes carry none).
 */
async function rowsOf(lake: Lake): Promise<Map<string, Record<string, unknown>>> {
  const rows = await lake.query<{ id: string; row: string }>(
    `SELECT id, to_json(m)::VARCHAR AS row FROM (
       SELECT * EXCLUDE (account, raw, raw_sha256, format, fetched_at, extraction_id, first_seen_at, deleted_at, labels_updated_at)
       FROM lake.messages WHERE account = $account) m`,
    { account: OWNER },
  );
  const attachments = await lake.query<{ id: string; parts: string }>(
    `SELECT message_id AS id, to_json(list(a ORDER BY part_id))::VARCHAR AS parts FROM (
       SELECT * EXCLUDE (account, attachment_id) FROM lake.attachments WHERE account = $account) a GROUP BY message_id`,
    { account: OWNER },
  );
  const parts = new Map(attachments.map((a) => [a.id, a.parts]));
  return new Map(
    rows.map((r) => [
      r.id,
      { ...(JSON.parse(r.row) as Record<string, unknown>), attachments: JSON.parse(parts.get(r.id) ?? '[]') as unknown },
    ]),
  );
}

async function extract(format: 'raw' | 'full') {
  const p = await startPipeline(
    testConfig(temporal, emu, { GMAIL_QUOTA_PROFILE: 'legacy', GMAIL_QUARANTINE_AFTER: '2', GMAIL_REQUEST_ATTEMPTS: '2' }),
    credentials,
  );
  try {
    const before = await emulatorStats(emu);
    const started = await api<{ id: string }>(p, 'POST', '/extract', { account: OWNER, format, batchSize: 100 });
    assert.equal(started.status, 202);
    const done = await extractionEnded(p, started.body.id, 300_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const stats = await emulatorStats(emu);
    const served = (m: string) => (stats[m]?.served ?? 0) - (before[m]?.served ?? 0);
    const failed = await p.lake.query<{ id: string }>(`SELECT id FROM lake.failed_messages WHERE account = $account`, { account: OWNER });
    return {
      done,
      rows: await rowsOf(p.lake),
      gets: served('messages.get'),
      threads: served('threads.get'),
      failed: failed.map((f) => f.id),
    };
  } finally {
    await p.stop();
  }
}

test('a thread-heavy mailbox in full: threads.get where it is cheaper, ≤ 0.75 of the units of a get each, the same rows as raw', async (t) => {
  const truth = listable(await manifest(emu, OWNER));
  const raw = await extract('raw');
  const full = await extract('full');
  assert.equal(raw.rows.size, truth.length, 'raw: every message stored');
  assert.deepEqual(raw.failed, []);
  assert.equal(raw.threads, 0, 'raw is never fetched by thread');

  // The refused message alone is quarantined; every other one is stored, as raw stored it.
  assert.deepEqual(full.failed, [poisoned]);
  assert.equal(full.rows.size, truth.length - 1);
  for (const [id, row] of full.rows) {
    const other = raw.rows.get(id) ?? {};
    const differ = Object.keys(row).filter((k) => JSON.stringify(row[k]) !== JSON.stringify(other[k]));
    assert.deepEqual(differ, [], `columns of ${id} that full and raw stored differently`);
  }

  const units = full.done.units ?? {};
  const spent = (units.get ?? 0) + (units.thread ?? 0);
  const perMessage = spent / full.rows.size;
  // What the planner chooses for this mailbox: Gmail's listing (the order the pipeline sees), in the run's batches of
  // 100, planned by the pipeline's own planFetches. The run's own units add what any retried attempt spent again (a
  // batch whose heartbeat was late on a loaded machine is fetched twice): reported, and bounded below by the plan.
  const gmail = createGmailApi({ config: testConfig(temporal, emu).gmail, credentials });
  const listing: { ids: string[]; threadIds: string[] } = { ids: [], threadIds: [] };
  let pageToken: string | undefined;
  do {
    const page = await gmail.listPage(OWNER, { maxResults: 100, pageToken });
    listing.ids.push(...page.ids);
    listing.threadIds.push(...page.threadIds);
    pageToken = page.nextPageToken;
  } while (pageToken);
  let planned = 0;
  let plannedThreads = 0;
  for (let i = 0; i < listing.ids.length; i += 100)
    for (const f of planFetches(listing.ids.slice(i, i + 100), listing.threadIds.slice(i, i + 100))) {
      planned += 'threadId' in f ? 10 : 5;
      if ('threadId' in f) plannedThreads++;
    }
  const plannedPerMessage = planned / listing.ids.length;
  t.diagnostic(
    `full: ${full.threads} threads.get + ${full.gets} messages.get for ${full.rows.size} messages: ${perMessage.toFixed(2)} units a message ` +
      `(a get each: 5; planned ${plannedPerMessage.toFixed(2)}: ${plannedThreads} threads.get); raw: ${raw.gets} messages.get`,
  );
  assert.ok(plannedThreads > 0 && full.threads >= plannedThreads, 'the planned threads were fetched whole');
  assert.ok(spent >= planned, 'the run spent at least what the plan costs');
  assert.ok(plannedPerMessage <= 0.75 * 5, `planned: ${plannedPerMessage.toFixed(2)} units a message`);
  assert.ok(perMessage < 5, `spent ${perMessage.toFixed(2)} units a message: no cheaper than a get each`);
});
