import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryBudget } from '../../src/activities/memory-budget.js';
import { toRows } from '../../src/activities/rows.js';
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

test('parsing a large message keeps nothing of it once its rows are made (remembered header parses hold copies, not slices of its text)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const external = () => {
    gc();
    gc(); // a second pass: what the first one's finalizers released
    return process.memoryUsage().external;
  };
  // Header values are slices of the message's text (one 40 MB latin1 string): a slice kept by a memo kept it all.
  const parse = (n: number) => {
    const raw = Buffer.concat([
      Buffer.from(
        `From: "Sender ${n}" <sender${n}@example.com>\r\nTo: someone-${n}@example.com\r\nSubject: large ${n}\r\n` +
          `Content-Type: multipart/mixed; boundary="b${n}"\r\n\r\n--b${n}\r\nContent-Type: text/plain; name="n${n}.txt"\r\n\r\nhello\r\n--b${n}\r\n` +
          `Content-Type: application/octet-stream; name="big-${n}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n`,
      ),
      Buffer.alloc(40_000_000, 'QUJD'),
      Buffer.from(`\r\n--b${n}--\r\n`),
    ]);
    const rows = toRows(
      { id: `m${n}`, threadId: `m${n}`, sizeEstimate: raw.length },
      { account: 'a@example.com', format: 'raw', extractionId: 'e', fetchedAt: 0 },
      { bytes: raw, file: `/nonexistent/${n}.eml` },
    );
    return rows.message.from_address;
  };
  // The first parse's one-time allocations settle; then eight more messages, each kept whole before the fix (one may
  // still be on its way out when measured).
  assert.equal(parse(0), 'sender0@example.com');
  const before = external();
  for (let n = 1; n <= 8; n++) assert.equal(parse(n), `sender${n}@example.com`);
  const grown = external() - before;
  assert.ok(grown < 90_000_000, `memory outside the heap grew by ${Math.round(grown / 1e6)} MB over eight 40 MB messages`);
});
