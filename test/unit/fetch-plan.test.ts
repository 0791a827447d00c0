import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planFetches, THREAD_FETCH_MIN } from '../../src/activities/batch.js';

test('a batch fetches a thread holding THREAD_FETCH_MIN of its ids with one threads.get, where it first appears', () => {
  assert.equal(THREAD_FETCH_MIN, 3);
  const ids = ['a1', 'b1', 'a2', 'c1', 'a3', 'b2', 'd1', 'd2', 'd3', 'd4'];
  const threads = ['A', 'B', 'A', 'C', 'A', 'B', 'D', 'D', 'D', 'D'];
  assert.deepEqual(planFetches(ids, threads), [
    { threadId: 'A', ids: ['a1', 'a2', 'a3'] },
    { id: 'b1' },
    { id: 'c1' },
    { id: 'b2' },
    { threadId: 'D', ids: ['d1', 'd2', 'd3', 'd4'] },
  ]);
});

test('without threads (raw, a batch of an older workflow, a mismatched list, an empty thread id): a get each', () => {
  const ids = ['a1', 'a2', 'a3'];
  const each = ids.map((id) => ({ id }));
  assert.deepEqual(planFetches(ids, undefined), each);
  assert.deepEqual(planFetches(ids, ['A', 'A']), each);
  assert.deepEqual(planFetches(ids, ['', '', '']), each);
});

test('an id listed twice is fetched once, by thread or alone', () => {
  assert.deepEqual(planFetches(['a', 'b', 'c', 'a'], ['T', 'T', 'T', 'T']), [{ threadId: 'T', ids: ['a', 'b', 'c'] }]);
  assert.deepEqual(planFetches(['x', 'y', 'x'], ['T', 'T', 'T']), [{ id: 'x' }, { id: 'y' }]);
});
