import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExtractionRequest } from '../../src/workflows/contracts.js';
import {
  applyBatch,
  checkpointOf,
  commitInOrder,
  currentDetails,
  type InFlight,
  pause,
  recordSample,
  resume,
  resumeFrom,
  snapshot,
  withDefaults,
  zero,
} from '../../src/workflows/extraction-progress.js';

const request: ExtractionRequest = { account: 'a@example.com', format: 'full', batchSize: 100 };
const batch = (seq: number, pageToken: string, listed = 100): InFlight => ({
  seq,
  pageToken,
  counts: { ...zero(), listed },
  done: false,
  pass: 0,
});
const result = (inserted: number) => ({ fetched: inserted, inserted, present: 0, skipped: 0, malformed: 0 });

test('state carried from an older run gets the fields it lacks', () => {
  const s = withDefaults('k', {
    extractionKey: 'k',
    prepared: true,
    counters: { ...zero(), listed: 300, persisted: 250, present: 50 },
  });
  assert.equal(s.prepared, true);
  assert.deepEqual(s.committed, { ...zero(), pageToken: '' });
  assert.deepEqual(s.pass, { listed: 300, done: 300 }, 'the pass is derived from the counters');
  assert.deepEqual([s.samples, s.units], [[], {}]);
});

test('batches ending out of order move the checkpoint over a prefix of the listing only', () => {
  const state = withDefaults('k');
  state.pageToken = 'p3';
  const inflight = [batch(0, ''), batch(1, 'p1'), batch(2, 'p2')];
  applyBatch(state, inflight[1]!, result(100));
  commitInOrder(state, inflight, undefined);
  assert.equal(state.committed.persisted, 0, 'batch 1 waits for batch 0');
  assert.equal(checkpointOf('a@example.com', state).pageToken, '');
  applyBatch(state, inflight[0]!, result(90));
  commitInOrder(state, inflight, undefined);
  assert.deepEqual([state.committed.persisted, state.committed.listed, state.committed.pageToken], [190, 200, 'p2']);
  assert.equal(inflight.length, 1);
  applyBatch(state, inflight[0]!, result(100));
  commitInOrder(state, inflight, 'p3');
  assert.equal(state.committed.pageToken, 'p3', 'a page listed ahead and not dispatched is where a resume starts');
  assert.deepEqual([state.counters.persisted, state.pass.done, state.batchesSinceCompaction], [290, 290, 3]);
  const cp = checkpointOf('a@example.com', state);
  assert.deepEqual(cp, {
    account: 'a@example.com',
    extractionKey: 'k',
    pageToken: 'p3',
    historyId: '',
    listed: 300,
    persisted: 290,
    skipped: 0,
    failed: 0,
  });
});

test('a resume starts from the lake checkpoint', () => {
  const state = withDefaults('k');
  resumeFrom(state, { pageToken: 'p9', historyId: 'h', listed: 900, persisted: 880, skipped: 20, failed: 0 });
  assert.deepEqual([state.pageToken, state.resumedFrom, state.committed.pageToken, state.pass.done], ['p9', 880, 'p9', 900]);
});

test('the rate: a burst of a few seconds is no rate; paused time is left out; paused or ended, no rate and no ETA', () => {
  const state = withDefaults('k');
  state.total = 1000;
  const t0 = 1_000_000;
  state.pass.done = 0;
  recordSample(state, t0);
  state.pass.done = 200;
  recordSample(state, t0 + 2_000);
  assert.equal(snapshot('id', request, state, 'extracting').ratePerSecond, 0, 'two seconds are not a rate yet');
  state.pass.done = 500;
  recordSample(state, t0 + 10_000);
  const running = snapshot('id', request, state, 'extracting');
  assert.equal(running.ratePerSecond, 50);
  assert.equal(running.etaSeconds, 10);
  assert.equal(pause(state, t0 + 11_000), true);
  assert.equal(pause(state, t0 + 12_000), false, 'a second pause is no news');
  const paused = snapshot('id', request, state, 'extracting', undefined, 2);
  assert.deepEqual([paused.status, paused.ratePerSecond, paused.etaSeconds], ['pausing', 0, null], 'pausing while batches are in flight');
  assert.equal(snapshot('id', request, state, 'extracting', undefined, 0).status, 'paused');
  assert.equal(resume(state, t0 + 611_000), true);
  state.pass.done = 600;
  recordSample(state, t0 + 612_000);
  assert.equal(snapshot('id', request, state, 'extracting').ratePerSecond, 50, 'ten minutes of pause do not dilute the rate');
  const ended = snapshot('id', request, state, 'done', 'canceled');
  assert.deepEqual([ended.ratePerSecond, ended.etaSeconds], [0, null]);
  assert.match(currentDetails(ended), /^\*\*a@example\.com\*\* — canceled, 60% \(0 of 1,000\)/);
  assert.doesNotMatch(currentDetails(ended), /ETA/);
});
