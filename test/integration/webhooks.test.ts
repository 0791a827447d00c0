import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { api } from '../helpers/http.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';

// As Standard Webhooks issues secrets; subscribers verify with its library as it comes.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

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
          try {
            new Webhook(SECRET).verify(body, req.headers as Record<string, string>);
            if (req.headers['content-type'] !== 'application/cloudevents+json') throw new Error('not a CloudEvent');
          } catch {
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
let down: ReturnType<typeof subscriber>;
let up: ReturnType<typeof subscriber>;
before(async () => {
  const [downPort, upPort] = [await freePort(), await freePort()];
  down = subscriber(downPort);
  up = subscriber(upPort);
  await up.up();
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 600, settings: { faults: { latencyMs: 3 } } })]);
  p = await startPipeline(
    testConfig(temporal, emu, {
      WEBHOOK_URLS: `http://127.0.0.1:${downPort}/hooks,http://127.0.0.1:${upPort}/hooks`,
      WEBHOOK_SECRET: SECRET,
      GMAIL_FETCH_CONCURRENCY: '2',
      LOG_LEVEL: 'error',
    }),
    credentials,
  );
});
after(async () => {
  await Promise.all([down?.down(), up?.down()]);
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

const typesOf = (s: ReturnType<typeof subscriber>) =>
  [...s.events.values()].map((e) => e.type.replace('dev.gmail-lake.extraction.', '')).sort();

test('lifecycle webhooks: a subscriber down for the whole run neither holds the extraction open nor makes the other receive repeats; back, it receives every event once, signed, as CloudEvents', async () => {
  const started = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata', batchSize: 50 });
  assert.equal(started.status, 202);
  const id = started.body.id;
  const path = `/extract/${encodeURIComponent(id)}`;
  await waitFor('the started event at the subscriber that is up', async () => typesOf(up).includes('started'), 60_000, 100);
  assert.equal((await api(p, 'POST', `${path}/pause`)).status, 202);
  await waitFor('the paused event', async () => typesOf(up).includes('paused'), 60_000, 100);
  assert.equal((await api(p, 'POST', `${path}/resume`)).status, 202);

  // The extraction ends when its work ends: COMPLETED while one subscriber is still down, nothing of it pending.
  const final = await waitFor(
    'completed',
    async () => {
      const s = (await api<{ status: string; progress: { persisted: number } }>(p, 'GET', path)).body;
      return s.status === 'completed' ? s : undefined;
    },
    120_000,
    250,
  );
  const closed = await p.client.workflow.getHandle(id).describe();
  assert.equal(closed.status.name, 'COMPLETED');
  assert.deepEqual(closed.raw.pendingActivities ?? [], []);
  await waitFor('the completed event at the subscriber that is up', async () => typesOf(up).includes('completed'), 60_000, 100);
  assert.deepEqual(typesOf(up), ['completed', 'paused', 'resumed', 'started']);
  assert.equal(down.events.size, 0, 'nothing reached the subscriber that is down');

  // Back (within the day the deliveries are retried): it receives each event once; the other none twice.
  await down.up();
  await waitFor('every event at the subscriber back up', async () => down.events.size === 4, 120_000, 250);
  assert.deepEqual(typesOf(down), ['completed', 'paused', 'resumed', 'started']);
  for (const hook of [down, up]) {
    assert.deepEqual(hook.repeats, []);
    assert.deepEqual(hook.badSignatures, []);
    for (const e of hook.events.values()) {
      assert.equal(e.specversion, '1.0');
      assert.equal(e.subject, id);
    }
  }
  const completed = [...down.events.values()].find((e) => e.type.endsWith('.completed'))!;
  assert.equal(completed.data.status, 'completed');
  assert.equal(completed.data.progress.persisted, final.progress.persisted);
  assert.deepEqual([...down.events.keys()].sort(), [...up.events.keys()].sort(), 'the same event ids at both');
});
