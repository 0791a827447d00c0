import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateApiKey } from '../../src/api-keys.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { listable, manifest } from '../helpers/verify.js';
import { credentials, startTestEmulator, startTestTemporal, TEST_API_KEYS, type TestTemporal, testConfig } from '../helpers/stack.js';

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
const reader = generateApiKey('prometheus', 'read');
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 400 })]);
  p = await startPipeline(testConfig(temporal, emu, { API_KEYS: `${TEST_API_KEYS},${reader.entry}` }), credentials);
});
after(async () => {
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

/** The samples of a Prometheus exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('/metrics (read key): messages by stage, Gmail responses by method and status, quota units, activity latencies and the Temporal SDK runtime metrics agree with the extraction; total counts what is listed, paused has no rate; the Web UI shows its summary and current details', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata', batchSize: 50 });
  assert.equal(started.status, 202);
  const path = `/extract/${encodeURIComponent(started.body.id)}`;
  type Progress = {
    status: string;
    phase: string;
    ratePerSecond: number;
    etaSeconds: number | null;
    progress: { listed: number; persisted: number; total: number };
    units: Record<string, number>;
  };
  // Paused at once: once prepared, progress counts what the selection lists (SPAM and TRASH are not listed), and
  // while paused there is no rate and no ETA.
  assert.equal((await api(p, 'POST', `${path}/pause`)).status, 202);
  const paused = await waitFor('prepared while paused', async () => {
    const s = (await api<Progress>(p, 'GET', path)).body;
    return s.phase !== 'preparing' ? s : undefined;
  });
  assert.equal(paused.status, 'paused');
  assert.equal(paused.progress.total, listable(await manifest(emu)).length);
  assert.ok(paused.progress.total < 400, 'the mailbox has SPAM or TRASH messages');
  assert.equal(paused.ratePerSecond, 0);
  assert.equal(paused.etaSeconds, null);
  const whilePaused = await p.client.workflow.getHandle(started.body.id).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  assert.match(whilePaused.currentDetails ?? '', /— paused,/);
  assert.equal((await api(p, 'POST', `${path}/resume`)).status, 202);
  const final = await waitFor('completed', async () => {
    const s = (await api<Progress>(p, 'GET', path)).body;
    return s.status === 'completed' ? s : undefined;
  });

  // What the Web UI's workflow page shows: the summary given at start and the workflow's current details.
  const handle = p.client.workflow.getHandle(started.body.id);
  const described = await handle.describe();
  assert.equal(await described.staticSummary(), 'Gmail backfill of user@example.com');
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  assert.match(metadata.currentDetails ?? '', /^\*\*user@example\.com\*\* — done, 100% \([\d,]+ of [\d,]+\)/);
  assert.match(metadata.currentDetails ?? '', new RegExp(`${final.progress.persisted.toLocaleString('en-US')} stored`));

  assert.equal((await fetch(`${p.url}/metrics`)).status, 401);
  const res = await fetch(`${p.url}/metrics`, { headers: { authorization: `Bearer ${reader.key}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const m = samples(text);
  assert.equal(m.get('gmail_lake_messages_total{stage="persisted"}'), final.progress.persisted);
  assert.equal(m.get('gmail_lake_messages_total{stage="listed"}'), final.progress.listed);
  assert.equal(m.get('gmail_lake_messages_total{stage="fetched"}'), final.progress.persisted);
  // Each message by a get of its own or inside a thread (one threads.get for 3 or more of a batch's messages).
  const gets = m.get('gmail_lake_gmail_responses_total{method="get",status="200"}') ?? 0;
  const threads = m.get('gmail_lake_gmail_responses_total{method="thread",status="200"}') ?? 0;
  assert.ok(gets + 3 * threads <= final.progress.persisted && gets + threads > 0, `${gets} gets, ${threads} threads`);
  assert.ok((m.get('gmail_lake_gmail_responses_total{method="list",status="200"}') ?? 0) >= 1);
  // Units priced per call (the emulator's quota is off; units still count what Gmail would charge).
  assert.equal(m.get('gmail_lake_quota_units_total{method="get"}'), final.units.get);
  assert.equal(final.units.get, 5 * gets);
  assert.equal(m.get('gmail_lake_quota_units_total{method="thread"}') ?? 0, final.units.thread ?? 0);
  assert.equal(final.units.thread ?? 0, 10 * threads);
  assert.equal(
    m.get('gmail_lake_activity_duration_seconds_count{activity="extractBatch",outcome="completed"}'),
    Math.ceil(final.progress.persisted / 50),
  );
  assert.ok(m.has('gmail_lake_process_resident_memory_bytes'));
  assert.ok(
    [...m.keys()].some((k) => k.startsWith('temporal_')),
    'the Temporal SDK runtime metrics are appended',
  );
});
