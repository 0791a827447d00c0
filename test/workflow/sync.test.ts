import assert from 'node:assert/strict';
import { test } from 'node:test';
import { patchMarkers, runPushScenario } from '../helpers/sync-scenarios.js';
import { workflowEnvironment } from '../helpers/workflow-env.js';

/**
 * The sync workflow told of changes by Gmail push (the `mailboxChanged` signal POST /push/gmail sends): a change
 * announced while the sync reads history is read before it ends; one it has read already, or a malformed signal, adds
 * nothing; one announced while it records its end starts a new run.
 */
const environment = workflowEnvironment();
const run = (taskQueue: string, scenario: Parameters<typeof runPushScenario>[3]) =>
  runPushScenario(environment.current().nativeConnection, environment.current().client, taskQueue, scenario);

test('a change announced during a history page, newer than it read, is read by one more page', async () => {
  const r = await run('sync-push-page', { duringPage: ['115', '105', 'not-a-number'], trailingReadMs: 0 });
  assert.deepEqual(r.pages, ['100', '110'], 'a second page from where the first ended');
  assert.equal(r.result.status, 'completed');
  assert.equal(r.result.historyIdTo, '115');
  assert.equal(r.result.notifications, 3);
  assert.equal(r.result.pages, 2);
  assert.equal(r.begins, 1, 'one run');
  assert.equal(patchMarkers(r.histories[0]!), 1, 'the patch marker is in the history');
});

test('changes announced during a page that it has read already add nothing', async () => {
  const r = await run('sync-push-older', { duringPage: ['104', '110'], trailingReadMs: 0 });
  assert.deepEqual(r.pages, ['100']);
  assert.equal(r.result.notifications, 2);
  assert.equal(patchMarkers(r.histories[0]!), 0, 'no patch marker: nothing changed in the commands');
});

test('a change announced while the sync records its end starts a new run, which reads it', async () => {
  const r = await run('sync-push-record', { duringRecord: ['120'], trailingReadMs: 0 });
  assert.equal(r.begins, 2, 'continued as new: a second run began');
  assert.deepEqual(r.pages, ['100', '110'], 'the new run read from where the first ended');
  assert.equal(r.result.historyIdTo, '120');
  assert.equal(r.result.trigger, 'push');
  assert.equal(r.histories.length, 2);
  assert.equal(patchMarkers(r.histories[0]!), 1);
});

test('a sync started by a push reads history once more, after the second Gmail stays silent, once', async () => {
  // Gmail drops notifications for a second after each one: a change in that second is read by the trailing page.
  const r = await run('sync-push-trailing', { startSignal: '105', trailingReadMs: 5000 });
  assert.deepEqual(r.pages, ['100', '110'], 'the first page, then one trailing page from where it ended');
  assert.equal(r.result.notifications, 1);
  assert.equal(r.begins, 1);
});
