import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { messageIdFor } from '../../src/emulator/generate.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { Lake } from '../../src/lake/lake.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api, extractionEnded } from '../helpers/http.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { lakeRows, listable, manifest, rawMismatches } from '../helpers/verify.js';

/**
 * Gmail's largest messages (25 MB of attachments: ~30 MB raw, ~40 MB of base64url JSON): every 20th message of these
 * mailboxes carries a 21–24 MB attachment. In `raw` they stream into staged files and are committed from there in
 * slices (a batch of them is never in memory, nor in one DuckDB statement, at once); a worker holds at most 40 MB of
 * message bytes at a time (GMAIL_MESSAGE_MEMORY_MB), so each goes alone. Stored byte for byte and parsed; `full` too.
 */
const LARGE = { every: 20, minBytes: 21_000_000, maxBytes: 24_000_000 };
const MAILBOXES = { raw: 'user@example.com', full: 'full@example.com' } as const;
let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 60, large: LARGE });
  p = await startPipeline(testConfig(temporal, emu, { GMAIL_MESSAGE_MEMORY_MB: '40' }), credentials);
});
after(async () => {
  await p?.stop();
  await emu?.close();
  await temporal?.stop();
});

test('messages of ~30 MB in raw and full: streamed to staging, stored byte for byte, parsed, their attachments listed', async (t) => {
  const ids = await Promise.all(
    Object.entries(MAILBOXES).map(async ([format, account]) => {
      const r = await api<{ id: string }>(p, 'POST', '/extract', { account, format, batchSize: 25 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id;
    }),
  );
  const done = await Promise.all(ids.map((id) => extractionEnded(p, id, 300_000)));
  for (const s of done) assert.equal(s.status, 'completed', JSON.stringify(s));

  for (const [format, account] of Object.entries(MAILBOXES)) {
    const truth = listable(await manifest(emu, account));
    const rows = await lakeRows(p.lake, account);
    assert.deepEqual([...rows.ids].sort(), truth.map((e) => e.id).sort(), `${format}: lake == manifest`);
    assert.equal(rows.rows, rows.distinct, `${format}: no duplicates`);
    const large = await p.lake.query<{ id: string; size: bigint; parse_error: string | null; body: bigint }>(
      `SELECT m.id, m.size_estimate AS size, m.parse_error, length(m.body_text) AS body
       FROM lake.messages m WHERE m.account = $account AND m.size_estimate > 20000000 ORDER BY m.id`,
      { account },
    );
    const listed = new Set(truth.map((e) => e.id));
    const expected = [0, 20, 40].map((i) => messageIdFor(`test:${account}`, i)).filter((id) => listed.has(id));
    assert.ok(expected.length >= 2, `${format}: large messages listed`);
    assert.deepEqual(
      large.map((r) => r.id),
      expected.sort(),
      `${format}: every large message stored`,
    );
    for (const r of large) {
      assert.equal(r.parse_error, null, `${format} ${r.id}: parsed`);
      assert.ok(Number(r.body) > 500, `${format} ${r.id}: its text body read`);
    }
    const attachments = await p.lake.query<{ message_id: string }>(
      `SELECT message_id FROM lake.attachments WHERE account = $account AND size > 20000000 ORDER BY message_id`,
      { account },
    );
    assert.deepEqual(
      attachments.map((a) => a.message_id),
      expected,
      `${format}: the large attachments listed`,
    );
    if (format === 'raw') {
      // Hashed by DuckDB in a reader of its own: scanning every raw value of 30 MB rows takes more than the worker's 256 MB.
      const reader = await Lake.openReadOnly({ ...p.lake.config, memoryLimit: '1GB' });
      try {
        assert.deepEqual(await rawMismatches(reader, account, truth), [], 'raw bytes exact');
      } finally {
        reader.close();
      }
    }
    t.diagnostic(
      `${format}: ${rows.rows} messages, ${large.length} of ${large.map((r) => (Number(r.size) / 1e6).toFixed(1)).join(', ')} MB`,
    );
  }
});
