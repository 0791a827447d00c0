import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mboxEntry } from '../../src/export/takeout.js';
import { fromLineDate, type MboxChunk, readMboxChunk } from '../../src/import/mbox.js';

const dir = mkdtempSync(join(tmpdir(), 'mbox-test-'));

/** Messages an mbox must give back byte for byte: line endings, no final line break, lines that look like separators. */
const messages = [
  { id: '18c2a1b2c3d4e5f6', thread: '18c2a1b2c3d4e5f6', labels: 'Inbox,Opened', raw: 'From: a@x.org\nSubject: one\n\nplain\n' },
  {
    id: '18c2a1b2c3d4e5f7',
    thread: '18c2a1b2c3d4e5f6',
    labels: 'Sent',
    raw: 'From: b@x.org\r\nSubject: crlf\r\n\r\nFrom here on\r\n>From quoted\r\n',
  },
  { id: '0000000000000001', thread: '0000000000000001', labels: '"Taxes, 2024",Opened', raw: 'From: c@x.org\n\nno final line break' },
  {
    id: '18c2a1b2c3d4e5f9',
    thread: '18c2a1b2c3d4e5f9',
    labels: 'Spam',
    raw: 'From: d@x.org\n\nline\n\nFrom me, a paragraph\n>>From deeper\n\n',
  },
];
const date = Date.UTC(2024, 5, 7, 12, 34, 56);
const mbox = Buffer.concat(
  messages.flatMap((m) =>
    mboxEntry({ id: m.id, threadId: m.thread, internalDate: date, labels: m.labels }, Buffer.from(m.raw, 'latin1')).map((p) =>
      Buffer.from(p),
    ),
  ),
);
const file = join(dir, 'takeout.mbox');
writeFileSync(file, mbox);

async function readAll(path: string, limits: { maxBytes: number; maxMessages: number }) {
  const chunks: MboxChunk[] = [];
  let offset = 0;
  for (;;) {
    const c = await readMboxChunk(path, offset, limits);
    chunks.push(c);
    if (c.end || c.problem) return chunks;
    assert.ok(c.next > offset, 'every chunk moves on');
    offset = c.next;
  }
}

test('an exported mbox read back in chunks of any size: the same bytes, ids, threads, labels and dates', async () => {
  for (const limits of [
    { maxBytes: 1, maxMessages: 100 },
    { maxBytes: 80, maxMessages: 100 },
    { maxBytes: 1 << 20, maxMessages: 2 },
    { maxBytes: 1 << 20, maxMessages: 1000 },
  ]) {
    const chunks = await readAll(file, limits);
    const got = chunks.flatMap((c) => c.messages);
    assert.equal(got.length, messages.length, JSON.stringify(limits));
    assert.ok(chunks.every((c) => !c.problem));
    assert.equal(chunks.at(-1)!.next, mbox.length);
    for (const [i, m] of messages.entries()) {
      assert.equal(got[i]!.raw.toString('latin1'), m.raw, `message ${i} with ${JSON.stringify(limits)}`);
      assert.equal(got[i]!.gmailId, m.id);
      assert.equal(got[i]!.threadId, m.thread);
      assert.equal(got[i]!.date, date);
    }
    assert.deepEqual(got[2]!.labels, ['Taxes, 2024', 'Opened']);
    // Each message's offset is where its From line is.
    for (const m of got) assert.equal(mbox.subarray(m.offset, m.offset + 5).toString(), 'From ');
  }
});

test('any mbox: no Takeout headers taken off, no id; asctime dates', async () => {
  const plain = join(dir, 'plain.mbox');
  writeFileSync(
    plain,
    'From someone@example.com Wed Jun  7 12:34:56 2023\nX-GM-THRID: 1\nSubject: s\n\nbody\n\nFrom other@example.com Thu Jun  8 00:00:00 2023\nSubject: t\n\nmore\n',
  );
  const [c] = await readAll(plain, { maxBytes: 1 << 20, maxMessages: 10 });
  assert.equal(c!.messages.length, 2);
  assert.equal(c!.messages[0]!.gmailId, undefined);
  assert.equal(c!.messages[0]!.raw.toString(), 'X-GM-THRID: 1\nSubject: s\n\nbody\n');
  assert.equal(c!.messages[1]!.raw.toString(), 'Subject: t\n\nmore\n');
  assert.equal(c!.messages[0]!.date, Date.UTC(2023, 5, 7, 12, 34, 56));
  assert.equal(fromLineDate('Wed Jun 07 12:34:56 +0200 2023'), Date.UTC(2023, 5, 7, 10, 34, 56));
  assert.equal(fromLineDate('yesterday'), undefined);
});

test('a file cut inside a message: the whole messages before it, and the offset where the cut one starts', async () => {
  const cut = join(dir, 'cut.mbox');
  const last = mbox.lastIndexOf('From 18c2a1b2c3d4e5f9'.replace('18c2a1b2c3d4e5f9', BigInt('0x18c2a1b2c3d4e5f9').toString()));
  assert.ok(last > 0);
  for (const [at, maxMessages] of [
    [10, 1],
    [60, 100],
    [70, 1],
    [130, 100],
  ] as const) {
    writeFileSync(cut, mbox.subarray(0, last + at));
    const chunks = await readAll(cut, { maxBytes: 1 << 20, maxMessages });
    assert.equal(chunks.flatMap((c) => c.messages).length, 3);
    const problem = chunks.at(-1)!.problem!;
    assert.equal(problem.offset, last);
    assert.equal(chunks.at(-1)!.next, last);
    assert.match(problem.message, /ends inside a message/);
  }
});

test('not an mbox: refused at byte 0 with nothing read; an empty file is an empty mbox', async () => {
  const json = join(dir, 'x.json');
  writeFileSync(json, '{"not": "mail"}\n');
  const c = await readMboxChunk(json, 0, { maxBytes: 1024, maxMessages: 10 });
  assert.equal(c.messages.length, 0);
  assert.equal(c.problem?.offset, 0);
  assert.match(c.problem.message, /not an mbox/);
  const empty = join(dir, 'empty.mbox');
  writeFileSync(empty, '');
  const e = await readMboxChunk(empty, 0, { maxBytes: 1024, maxMessages: 10 });
  assert.deepEqual([e.messages, e.next, e.size, e.end], [[], 0, 0, true]);
  // A later chunk of a file that changed meanwhile is refused; a FIFO is refused at once, not waited on.
  await assert.rejects(
    readMboxChunk(file, 0, { maxBytes: 1024, maxMessages: 10 }, { ...e.identity, size: 1 }),
    /changed since the import began/,
  );
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readMboxChunk(fifo, 0, { maxBytes: 1024, maxMessages: 10 }), { code: 'ENOTFILE' });
});

test("a message's own copy of Takeout's headers stays its bytes; an id without a Gmail form round-trips; a cut at a line's end is a cut", async () => {
  const own = 'X-GM-THRID: 42\nX-Gmail-Labels: Old\nFrom: e@x.org\n\nappended from an older Takeout\n';
  const bareCr = 'From: f@x.org\n\nends with a carriage return\r';
  const entries = [
    mboxEntry({ id: '18c2a1b2c3d4e5fa', threadId: '18c2a1b2c3d4e5fa', internalDate: date, labels: 'Inbox' }, Buffer.from(own)),
    mboxEntry({ id: `mbox-${'ab'.repeat(12)}`, threadId: null, internalDate: date, labels: 'Archived' }, Buffer.from(bareCr, 'latin1')),
  ];
  const path = join(dir, 'nested.mbox');
  const bytes = Buffer.concat(entries.flat().map((p) => Buffer.from(p as string, 'latin1')));
  writeFileSync(path, bytes);
  const [c] = await readAll(path, { maxBytes: 1 << 20, maxMessages: 10 });
  assert.equal(c!.messages[0]!.raw.toString(), own);
  assert.equal(c!.messages[0]!.threadId, '18c2a1b2c3d4e5fa');
  assert.deepEqual(c!.messages[0]!.labels, ['Inbox']);
  assert.equal(c!.messages[1]!.gmailId, `mbox-${'ab'.repeat(12)}`);
  assert.equal(c!.messages[1]!.raw.toString('latin1'), bareCr);
  // Cut right after a whole line of the last message (Takeout's end with a blank line: this one has none).
  writeFileSync(path, bytes.subarray(0, bytes.length - 1));
  const cut = await readAll(path, { maxBytes: 1 << 20, maxMessages: 10 });
  assert.equal(cut.flatMap((x) => x.messages).length, 1);
  assert.match(cut.at(-1)!.problem!.message, /ends inside a message/);
});
