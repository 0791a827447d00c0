import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkLine } from '../../src/lake/line.js';

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

test('the lake line: writes keep their order, a failure rejects only its own caller, and reads cannot hold a write back for ever', async () => {
  const line = new WorkLine(2);
  const order: string[] = [];
  const op =
    (name: string, fail = false) =>
    async () => {
      order.push(name);
      await tick();
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
  const first = line.run(op('w0'));
  const failing = line.run(op('w1', true));
  const after = line.run(op('w2'));
  const reads = [1, 2, 3, 4, 5].map((i) => line.run(op(`r${i}`), true));
  assert.equal(await first, 'w0');
  await assert.rejects(failing, /w1 failed/);
  assert.equal(await after, 'w2');
  await Promise.all(reads);
  // Two reads pass w1, then w1 runs; two more pass w2, then w2; the last read after it.
  assert.deepEqual(order, ['w0', 'r1', 'r2', 'w1', 'r3', 'r4', 'w2', 'r5']);
  assert.equal(line.length, 0);
});

test('the lake line: an operation that throws before its first await rejects its caller and the line goes on', async () => {
  const line = new WorkLine();
  const bad = line.run(() => {
    throw new Error('synchronous');
  });
  await assert.rejects(bad, /synchronous/);
  assert.equal(await line.run(async () => 'next'), 'next');
});
