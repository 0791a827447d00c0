import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { bundleWorkflowsOutOfProcess } from '../../src/worker/bundle.js';

/**
 * Histories recorded from real runs of earlier workflow code (scripts/record-histories.ts), replayed with today's
 * code: a change that is not replay-safe (a command sequence changed without `patched()`) fails here before it reaches
 * an extraction that has been running for days.
 */
const dir = new URL('./histories/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('recorded histories replay with the current workflow code', async () => {
  assert.ok(files.length >= 5, `expected recorded histories in test/replay/histories, found ${files.length}`);
  const histories = files.map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(new URL(f, dir), 'utf8'))),
  }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: bundleWorkflowsOutOfProcess() } }, histories)) {
    replayed++;
    if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
  }
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});
