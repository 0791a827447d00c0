import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker/bundle.js';
import { FLEET_PATCHES, PATCHES, SYNC_PATCHES } from '../../src/workflows/patches.js';

/**
 * Histories recorded from real runs of the workflow code of a release (scripts/record-histories.ts), replayed with
 * today's code: a change that is not replay-safe (a command sequence changed without `patched()`) fails here before it
 * reaches an extraction that has been running for days. Each `patched()` id must appear as a marker in a recorded
 * history, so a patch whose old branch no history exercises cannot pass unchecked.
 */
const dir = new URL('./histories/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const raw = new Map(files.map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]));

test('recorded histories replay with the current workflow code', async () => {
  for (const type of ['extractionWorkflow', 'syncWorkflow', 'scheduledSyncWorkflow', 'fleetWorkflow', 'importWorkflow'])
    assert.ok(
      files.some((f) => f.includes(`-${type}-`)),
      `a recorded history of ${type} in test/replay/histories`,
    );
  // Replayed under the workflow id it ran with (children's ids are derived from it), named by its file in failures.
  const realId = (json: string) =>
    (JSON.parse(json) as { events: { workflowExecutionStartedEventAttributes?: { workflowId?: string } }[] }).events[0]
      ?.workflowExecutionStartedEventAttributes?.workflowId;
  const histories = files.map((f) => ({ workflowId: realId(raw.get(f)!) ?? f, history: historyFromJSON(JSON.parse(raw.get(f)!)) }));
  const fileOf = new Map(histories.map((h, i) => [h.workflowId, files[i]!]));
  const failures: string[] = [];
  let replayed = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: workflowBundle() } }, histories)) {
    replayed++;
    if (r.error) failures.push(`${fileOf.get(r.workflowId) ?? r.workflowId}: ${r.error.message}`);
  }
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});

/** The patch ids recorded in a history: its `core_patch` markers' ids. */
function markers(json: string): string[] {
  const events = (
    JSON.parse(json) as {
      events: { markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> } }[];
    }
  ).events;
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    return Object.values(m.details ?? {}).flatMap((d) =>
      (d.payloads ?? []).map((p) => (JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8')) as { id: string }).id),
    );
  });
}

test('every patch id of the workflows has a recorded history that passed through it', () => {
  const recorded = new Set([...raw.values()].flatMap(markers));
  const ids = [...Object.values(PATCHES), ...Object.values(FLEET_PATCHES), ...Object.values(SYNC_PATCHES)] as string[];
  assert.deepEqual(
    ids.filter((id) => !recorded.has(id)),
    [],
    'record histories that exercise each patch (scripts/record-histories.ts) before merging it',
  );
});
