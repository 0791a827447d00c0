import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { attemptMeter } from '../../src/activities/context.js';

// A retried attempt counts on from what its predecessor's last heartbeat said it spent: Google bills a killed
// attempt's calls too, and a sync or batch reports the units of every attempt, not only the last one's.
test("quota meter: an attempt starts from the previous attempt's last heartbeat, and from zero when there is none", async () => {
  const first = await new MockActivityEnvironment().run(async () => attemptMeter());
  assert.deepEqual(first, { units: {}, calls: {} });

  const spent = { units: { get: 500, history: 2 }, calls: { get: 100, history: 1 } };
  const retried = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { phase: 'fetching', meter: spent } });
  const meter = await retried.run(async () => attemptMeter());
  assert.deepEqual(meter, spent);
  meter.units.get = (meter.units.get ?? 0) + 5;
  assert.equal(spent.units.get, 500, "the predecessor's details are copied, not shared");

  // Details from an older worker without a meter, or none at all: nothing to carry.
  const older = await new MockActivityEnvironment({ attempt: 3, heartbeatDetails: { batchId: 'b1', phase: 'fetching' } }).run(async () =>
    attemptMeter(),
  );
  assert.deepEqual(older, { units: {}, calls: {} });
});
