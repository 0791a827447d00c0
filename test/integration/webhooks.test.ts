import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { webhookSignature } from '../../src/activities/events.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api } from '../helpers/http.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';

const SECRET = 'whsec-test-0123456789abcdef';

interface Received {
  id: string;
  type: string;
  subject: string;
  specversion: string;
  data: { status: string; progress: { persisted: number } };
}

/** A subscriber: verifies each delivery's signature, keeps the first delivery of each event id, counts repeats. */
function subscriber(port: number) {
  const events = new Map<string, Received>();
  const repeats: string[] = [];
  const badSignatures: string[] = [];
  let server: Server | undefined;
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          const id = String(req.headers['webhook-id']);
          const expected = webhookSignature(SECRET, id, String(req.headers['webhook-timestamp']), body);
          if (req.headers['webhook-signature'] !== expected || req.headers['content-type'] !== 'application/cloudevents+json') {
            badSignatures.push(id);
            return void res.writeHead(401).end();
          }
          const event = JSON.parse(body) as Received;
          if (events.has(event.id)) repeats.push(event.id);
          else events.set(event.id, event);
          res.writeHead(204).end();
        });
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const down = () =>
    new Promise<void>((resolve) => {
      if (!server?.listening) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { events, repeats, badSignatures, up, down };
}

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
let hook: ReturnType<typeof subscriber>;
before(async () => {
  const port = await freePort();
  hook = subscriber(port);
  await hook.up();
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 600, settings: { faults: { latencyMs: 3 } } })]);
  p = await startPipeline(
    testConfig(temporal, emu, {
      WEBHOOK_URLS: `http://127.0.0.1:${port}/hooks`,
      WEBHOOK_SECRET: SECRET,
      GMAIL_FETCH_CONCURRENCY: '2',
      LOG_LEVEL: 'error',
    }),
    credentials,
  );
});
after(async () => {
  await hook?.down();
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

test('lifecycle webhooks: the subscriber down across several retries mid-extraction still receives started, paused, resumed and completed, each once, signed, as CloudEvents', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata', batchSize: 50 });
  assert.equal(started.status, 202);
  const id = started.body.id;
  const path = `/extract/${encodeURIComponent(id)}`;
  await waitFor('started event', async () => [...hook.events.values()].some((e) => e.type.endsWith('.started')), 60_000);

  // The attempts Temporal has made at each event still undelivered (its pending deliverEvent activities).
  const deliveries = async () => {
    const d = await p.client.workflow.getHandle(id).describe();
    return (d.raw.pendingActivities ?? []).filter((a) => a.activityType?.name === 'deliverEvent').map((a) => a.attempt ?? 0);
  };
  await hook.down();
  assert.equal((await api(p, 'POST', `${path}/pause`)).status, 202);
  // Paused, so the extraction cannot complete while the subscriber is away; resumed while it is still down, once the
  // paused event has failed three times.
  await waitFor('the paused event refused three times', async () => (await deliveries()).some((n) => n >= 3), 60_000, 250);
  assert.equal((await api(p, 'POST', `${path}/resume`)).status, 202);
  const status = (await api<{ status: string }>(p, 'GET', path)).body.status;
  await waitFor(
    'both events refused at least twice',
    async () => {
      const attempts = await deliveries();
      return attempts.length >= 2 && attempts.every((n) => n >= 2);
    },
    60_000,
    250,
  );
  assert.equal(hook.events.size, 1, 'nothing reached the subscriber while it was down');
  await hook.up();

  const final = await waitFor(
    'completed and its event',
    async () => {
      const s = (await api<{ status: string; progress: { persisted: number } }>(p, 'GET', path)).body;
      return s.status === 'completed' && [...hook.events.values()].some((e) => e.type.endsWith('.completed')) ? s : undefined;
    },
    120_000,
    500,
  );
  const types = [...hook.events.values()].map((e) => e.type.replace('dev.gmail-lake.extraction.', ''));
  assert.deepEqual(types.sort(), ['completed', 'paused', 'resumed', 'started'], `status when resumed: ${status}`);
  assert.deepEqual(hook.repeats, []);
  assert.deepEqual(hook.badSignatures, []);
  for (const e of hook.events.values()) {
    assert.equal(e.specversion, '1.0');
    assert.equal(e.subject, id);
  }
  const completed = [...hook.events.values()].find((e) => e.type.endsWith('.completed'))!;
  assert.equal(completed.data.status, 'completed');
  assert.equal(completed.data.progress.persisted, final.progress.persisted);
});
