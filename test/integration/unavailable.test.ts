/**
 * The API against a Temporal namespace it shares: ids of other workflows are not extractions (404, untouched), and
 * with the Temporal server down every route answers 503 promptly instead of hanging in gRPC retries.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api } from '../helpers/http.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;

before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 10 });
  p = await startPipeline(testConfig(temporal, emu), credentials, { worker: false });
});
after(async () => {
  await p.stop();
  await emu.close();
  await temporal.stop();
});

test("ids that are not this application's extractions answer 404 and are left alone", async () => {
  // Another workflow type under the extraction prefix, and one outside it (no worker polls their queue).
  const impostor = await p.client.workflow.start('syncWorkflow', { workflowId: 'gmail-extract-impostor', taskQueue: 'nobody', args: [] });
  const other = await p.client.workflow.start('someoneElsesWorkflow', { workflowId: 'billing-run-1', taskQueue: 'nobody', args: [] });
  try {
    for (const id of ['gmail-extract-impostor', 'billing-run-1']) {
      assert.equal((await api(p, 'GET', `/extract/${id}`)).status, 404, `GET ${id}`);
      for (const action of ['pause', 'resume', 'cancel']) {
        const r = await api<{ error: { code: string } }>(p, 'POST', `/extract/${id}/${action}`);
        assert.equal(r.status, 404, `${action} ${id}`);
        assert.equal(r.body.error.code, 'NOT_FOUND');
      }
    }
    for (const h of [impostor, other]) assert.equal((await h.describe()).status.name, 'RUNNING', `${h.workflowId} untouched`);
  } finally {
    await impostor.terminate();
    await other.terminate();
  }
});

test('with the Temporal server down, every route answers 503 within 5 s', async (t) => {
  const a = 'someone@example.com';
  assert.equal((await api(p, 'GET', '/extract')).status, 200, 'up before');
  await temporal.server.stop();
  const routes: [string, string, unknown?][] = [
    ['GET', '/extract'],
    ['POST', '/extract', { account: a }],
    ['GET', `/extract/gmail-extract-${a}`],
    ['POST', `/extract/gmail-extract-${a}/pause`],
    ['POST', `/extract/gmail-extract-${a}/resume`],
    ['POST', `/extract/gmail-extract-${a}/cancel`],
    ['GET', `/mailboxes/${a}`],
    ['POST', `/mailboxes/${a}/sync`, {}],
    ['PUT', `/mailboxes/${a}/schedule`, { every: '15m' }],
    ['POST', `/mailboxes/${a}/schedule/pause`],
    ['POST', `/mailboxes/${a}/schedule/resume`],
    ['DELETE', `/mailboxes/${a}/schedule`],
    ['GET', '/readyz'],
  ];
  // All at once: each must answer on its own within 5 s.
  const answers = await Promise.all(
    routes.map(async ([method, path, body]) => {
      const t0 = performance.now();
      const r = await api<{ error?: { code: string }; status?: string }>(p, method, path, body);
      return { method, path, r, ms: performance.now() - t0 };
    }),
  );
  for (const { method, path, r, ms } of answers) {
    assert.equal(r.status, 503, `${method} ${path}: ${JSON.stringify(r.body)}`);
    if (path !== '/readyz') assert.equal(r.body.error?.code, 'UNAVAILABLE', `${method} ${path}`);
    assert.ok(ms < 5000, `${method} ${path} answered in ${Math.round(ms)} ms`);
  }
  const slowest = Math.max(...answers.map((a) => a.ms));
  assert.equal((await api(p, 'GET', '/healthz')).status, 200, 'liveness does not depend on Temporal');
  t.diagnostic(`slowest 503: ${Math.round(slowest)} ms`);
});
