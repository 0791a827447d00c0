import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateCodecKey } from '../../src/codec.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { rawHistory } from '../helpers/history.js';
import { api, temporalCli } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal, testConfig } from '../helpers/stack.js';

const ACCOUNT = 'user@example.com';
const QUERY = 'after:2001/02/03';

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 300 })]);
  p = await startPipeline(
    testConfig(temporal, emu, { PAYLOAD_KEYS: generateCodecKey('k1'), WORKFLOW_ID_KEY: 'ids-key-0123456789abcdef' }),
    credentials,
  );
});
after(async () => {
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

/** The payload bytes in `temporal workflow show --output json` (base64 there), as text. */
const payloadText = (json: string) =>
  [...json.matchAll(/"data":\s*"([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1')).join('\n');

test('payload codec on: an extraction (signals, queries, heartbeats, result) (and WORKFLOW_ID_KEY) leaves no query and no mailbox address in its raw history; the API and the CLI with the codec endpoint read it in clear', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: ACCOUNT, query: QUERY, batchSize: 50, format: 'metadata' });
  assert.equal(started.status, 202);
  const id = started.body.id;
  assert.equal((await api(p, 'POST', `/extract/${encodeURIComponent(id)}/pause`)).status, 202);
  assert.equal((await api(p, 'POST', `/extract/${encodeURIComponent(id)}/resume`)).status, 202);
  type Progress = { status: string; account: string; progress: { listed: number; persisted: number } };
  const final = await waitFor('completed', async () => {
    const s = (await api<Progress>(p, 'GET', `/extract/${encodeURIComponent(id)}`)).body;
    return s.status === 'completed' ? s : undefined;
  });
  assert.equal(final.account, ACCOUNT, 'the API decodes the result');
  const listed = (await api<{ extractions: { id: string; account: string | null }[] }>(p, 'GET', '/extract')).body.extractions;
  assert.deepEqual(
    listed.find((x) => x.id === id),
    { ...listed.find((x) => x.id === id), account: ACCOUNT },
    'the list shows the mailbox, read from the encrypted memo',
  );
  assert.ok(final.progress.persisted > 100);

  const raw = await rawHistory(p.client, { workflowId: id });
  assert.ok(raw.includes('binary/encrypted'), 'payloads are encrypted');
  for (const secret of [QUERY, 'GmailAccount']) assert.equal(raw.indexOf(secret), -1, `${secret} is not in the raw history`);
  // Not even in the id: with WORKFLOW_ID_KEY, ids carry a keyed digest of the address.
  assert.match(id, /^gmail-extract-h[0-9a-f]{32}$/);
  assert.equal(raw.indexOf(ACCOUNT), -1, 'the mailbox address is nowhere in the raw history');
  const described = await p.client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: id } });
  assert.equal(Object.keys(described.workflowExecutionInfo?.searchAttributes?.indexedFields ?? {}).includes('GmailAccount'), false);

  // The real CLI: ciphertext without the codec endpoint, clear text through it with an API key.
  const show = (...options: string[]) =>
    temporalCli(temporal.address, ['workflow', 'show', '--workflow-id', id, '--output', 'json', ...options]);
  assert.equal(payloadText(await show()).includes(QUERY), false);
  const decoded = await show('--codec-endpoint', `${p.url}/codec`, '--codec-auth', `Bearer ${TEST_API_KEY}`);
  assert.ok(payloadText(decoded).includes(QUERY), 'the codec endpoint decodes the history for the CLI');
  // Without a key the endpoint refuses (401) and the CLI gives up at its deadline, showing nothing decoded.
  await assert.rejects(show('--codec-endpoint', `${p.url}/codec`, '--command-timeout', '3s'), (e: Error) => !e.message.includes(QUERY));
});

test('a fleet with the codec and WORKFLOW_ID_KEY: no mailbox address or query in its raw history or its children’s ids', async () => {
  const accounts = ['fleet-a@example.com', 'fleet-b@example.com'];
  const started = await api<{ id: string }>(p, 'POST', '/fleets', {
    accounts,
    query: QUERY,
    format: 'metadata',
    batchSize: 50,
    concurrency: 2,
  });
  assert.equal(started.status, 202);
  type Fleet = { status: string; mailboxes: { completed: number }; messages: { persisted: number } };
  const done = await waitFor('the fleet', async () => {
    const f = (await api<Fleet>(p, 'GET', `/fleets/${encodeURIComponent(started.body.id)}`)).body;
    return f.status === 'completed' ? f : undefined;
  });
  assert.equal(done.mailboxes.completed, 2);
  assert.ok(done.messages.persisted > 0);
  const raw = await rawHistory(p.client, { workflowId: started.body.id });
  assert.ok(raw.includes('binary/encrypted'));
  for (const secret of [...accounts, QUERY]) assert.equal(raw.indexOf(secret), -1, `${secret} is not in the fleet's raw history`);
  const children: string[] = [];
  for await (const w of p.client.workflow.list({
    query: `WorkflowType = 'extractionWorkflow' AND ParentWorkflowId = '${started.body.id}'`,
  }))
    children.push(w.workflowId);
  assert.equal(children.length, 2);
  for (const id of children) assert.match(id, /^gmail-extract-h[0-9a-f]{32}$/);
});
