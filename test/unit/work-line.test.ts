import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkLine } from '../../src/lake/line.js';
import { readingAhead, readsAhead, readsInLine } from '../../src/read-priority.js';

/** An operation that records when it starts and ends, and ends when `release` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    fn: async () => {
      log.push(`${name}+`);
      await done;
      log.push(`${name}-`);
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('the lake line: one operation at a time; reads go ahead of the writes still waiting, never ahead of the one running', async () => {
  const line = new WorkLine();
  const log: string[] = [];
  const w1 = gate(log, 'w1');
  const w2 = gate(log, 'w2');
  const w3 = gate(log, 'w3');
  const r1 = gate(log, 'r1');
  const r2 = gate(log, 'r2');
  const results = [line.run(w1.fn), line.run(w2.fn), line.run(w3.fn), line.run(r1.fn, true), line.run(r2.fn, true)];
  await tick();
  assert.deepEqual(log, ['w1+'], 'only the first write runs; the read waits for it');
  assert.equal(line.length, 4);
  for (const g of [w1, r1, r2, w2, w3]) {
    g.release();
    await tick();
  }
  assert.deepEqual(await Promise.all(results), ['w1', 'w2', 'w3', 'r1', 'r2']);
  assert.deepEqual(log, ['w1+', 'w1-', 'r1+', 'r1-', 'r2+', 'r2-', 'w2+', 'w2-', 'w3+', 'w3-']);
});

test('the lake line: writes keep their order, a failure rejects only its own caller, and reads pass a write for passForMs at most', async () => {
  let clock = 0;
  const line = new WorkLine(100, () => clock);
  const order: string[] = [];
  // Each operation takes 40 ms of the line's clock.
  const op =
    (name: string, fail = false) =>
    async () => {
      order.push(name);
      clock += 40;
      await tick();
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
  const first = line.run(op('w0'));
  const failing = line.run(op('w1', true));
  const after = line.run(op('w2'));
  const reads = [1, 2, 3, 4, 5, 6, 7].map((i) => line.run(op(`r${i}`), true));
  assert.equal(await first, 'w0');
  await assert.rejects(failing, /w1 failed/);
  assert.equal(await after, 'w2');
  await Promise.all(reads);
  // r1 passes w1 at 40 ms, r2 at 80, r3 at 120 (80 ms after the first pass), then w1's turn (120 ms since); three more
  // pass w2, then w2, then the last read.
  assert.deepEqual(order, ['w0', 'r1', 'r2', 'r3', 'w1', 'r4', 'r5', 'r6', 'w2', 'r7']);
  assert.equal(line.length, 0);
});

test('the lake line: an operation that throws before its first await rejects its caller and the line goes on; 0 ms is refused', async () => {
  const line = new WorkLine();
  const bad = line.run(() => {
    throw new Error('synchronous');
  });
  await assert.rejects(bad, /synchronous/);
  assert.equal(await line.run(async () => 'next'), 'next');
  assert.throws(() => new WorkLine(0), RangeError);
});

test("the lake line: reads go ahead inside readsAhead (the API's requests), through awaits and timers, and not inside readsInLine", async () => {
  assert.equal(readingAhead(), false, "the pipeline's own work keeps its place");
  await readsAhead(async () => {
    await tick();
    assert.equal(readingAhead(), true);
    await new Promise<void>((r) =>
      setTimeout(() => {
        assert.equal(readingAhead(), true, 'a timer set in a request');
        readsInLine(() => assert.equal(readingAhead(), false, 'what the request starts in the background'));
        r();
      }, 1),
    );
  });
  assert.equal(readingAhead(), false);
});
