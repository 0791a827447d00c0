import assert from 'node:assert/strict';
import { test } from 'node:test';
import { everyToMs, msToEvery } from '../../src/intervals.js';

test('an interval reads back as it was written', () => {
  for (const every of ['30s', '90s', '15m', '1h', '36h', '1d', '7d']) assert.equal(msToEvery(everyToMs(every)), every);
  assert.equal(msToEvery(90 * 60_000), '90m');
  assert.equal(msToEvery(1500), '2s', 'sub-second remainders round to seconds');
});
