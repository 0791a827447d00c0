import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { MemoryBudget } from '../../src/activities/memory-budget.js';
import { streamRawMessage } from '../../src/gmail/raw-stream.js';

/** A JSON body cut into `size`-character chunks (chunk edges fall inside keys, escapes and base64 groups). */
const body = (json: string, size: number) =>
  Readable.from(Array.from({ length: Math.ceil(json.length / size) }, (_, i) => json.slice(i * size, (i + 1) * size)));

test('a raw answer streams its bytes to the file and keeps the small fields, whatever the chunk edges', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raw-stream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 7919) % 256));
  const fields = {
    id: '18c0ffee',
    threadId: 't1',
    labelIds: ['INBOX', 'raw'],
    // A `"raw":"` inside a value (escaped in JSON) is not the key.
    snippet: 'caf\u00e9 \u201cquoted\u201d \\ "raw":"x" \\',
    sizeEstimate: bytes.length,
    historyId: '123',
    internalDate: '1700000000000',
  };
  const json = JSON.stringify({ ...fields, raw: bytes.toString('base64url') });
  for (const size of [1, 3, 7, 4096, json.length]) {
    const file = join(dir, `${size}.eml`);
    const got = await streamRawMessage(body(json, size), file);
    assert.deepEqual(readFileSync(file), bytes, `chunks of ${size}`);
    assert.equal(got.bytes, bytes.length);
    assert.deepEqual(got.message, fields);
  }
  // A body cut short (a dropped connection) rejects: the request is retried, never stored half.
  await assert.rejects(streamRawMessage(body(json.slice(0, json.length - 500), 1000), join(dir, 'cut.eml')));
});

test('the memory budget holds bytes first come, first served; a message over the budget goes alone', async () => {
  const budget = new MemoryBudget(100);
  const order: string[] = [];
  const a = await budget.take(60);
  const b = await budget.take(40);
  assert.equal(budget.inUse, 100);
  const big = budget.take(500).then((release) => (order.push('big'), release));
  const small = budget.take(10).then((release) => (order.push('small'), release));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'nothing fits while 100 are held');
  a();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'the large one waits for everything to be released, and the small one waits behind it');
  b();
  const releaseBig = await big;
  assert.equal(budget.inUse, 500, 'alone');
  releaseBig();
  (await small)();
  assert.deepEqual(order, ['big', 'small']);
  assert.equal(budget.inUse, 0);
});
