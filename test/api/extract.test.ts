import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { ApiError } from '../../src/api/errors.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { createLogger } from '../../src/log.js';
import type { ExtractionProgress, ExtractionRequest } from '../../src/workflows/contracts.js';

/** An in-memory ExtractionService: the route tests check the HTTP contract; integration tests use Temporal. */
function memoryService() {
  const started: ExtractionRequest[] = [];
  const closed = new Set<string>();
  const service: ExtractionService = {
    async start(request) {
      const id = `gmail-extract-${request.account}`;
      const created = !started.some((r) => r.account === request.account);
      started.push(request);
      return { id, runId: 'run-1', created, account: request.account };
    },
    async get(id) {
      if (!started.some((r) => `gmail-extract-${r.account}` === id)) throw new ApiError(404, 'NOT_FOUND', `no extraction ${id}`);
      return {
        id,
        account: id.slice(14),
        status: 'running',
        phase: 'extracting',
        paused: false,
        progress: { listed: 10, fetched: 5, persisted: 5, present: 0, skipped: 0, failed: 0, malformed: 0, total: 10, percent: 50 },
        ratePerSecond: 1,
        etaSeconds: 5,
        startedAt: 'x',
        updatedAt: 'x',
        runs: 1,
        resumedFrom: null,
        relists: 0,
        historyId: '1',
        error: null,
      } satisfies ExtractionProgress;
    },
    async list() {
      return [];
    },
    async signal(id) {
      if (closed.has(id)) throw new ApiError(409, 'CONFLICT', `extraction ${id} is completed`);
      await service.get(id);
    },
  };
  return { service, started, closed };
}

function setup() {
  const mem = memoryService();
  const app = createApp({
    auth: undefined,
    extractions: mem.service,
    readiness: { temporal: async () => undefined, lake: async () => Promise.reject(new Error('lake file locked')) },
    logger: createLogger('silent'),
  });
  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { app, post, ...mem };
}

describe('POST /extract', () => {
  test('happy: 202 with id, runId and statusUrl; defaults applied; the same mailbox again → 200', async () => {
    const { post, started } = setup();
    const res = await post('/extract', { account: 'Me' });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), {
      id: 'gmail-extract-me',
      runId: 'run-1',
      account: 'me',
      created: true,
      status: 'running',
      statusUrl: '/extract/gmail-extract-me',
    });
    assert.deepEqual(started[0], { account: 'me', format: 'full', batchSize: 100 });
    assert.equal((await post('/extract', { account: 'me', format: 'raw' })).status, 200);
  });

  test('errors: 400 with field details for each invalid field, malformed JSON, unknown fields', async () => {
    const { post } = setup();
    const res = await post('/extract', { account: 'not an address', format: 'html', batchSize: 501, maxMessages: 0 });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; requestId: string; details: { path: string }[] } };
    assert.equal(body.error.code, 'INVALID_REQUEST');
    assert.ok(body.error.requestId);
    assert.deepEqual(body.error.details.map((d) => d.path).sort(), ['account', 'batchSize', 'format', 'maxMessages']);
    assert.equal((await post('/extract', '{"account":')).status, 400);
    assert.equal((await post('/extract', { account: 'me', dropTables: true })).status, 400);
    assert.equal((await post('/extract', {})).status, 400);
  });

  test('errors: accounts with control characters or over 320 characters → 400; a body over 64 KB → 413', async () => {
    const { post, started } = setup();
    // A lone UTF-16 surrogate (JSON `\ud800`) is not text either: 400, never a 500 from Temporal or the lake.
    const lone = ['a\ud800b@example.com', 'a\udc00@example.com', '\ud83d@example.com'];
    for (const account of ['a\u0000b@example.com', 'a\nb@example.com', `${'a'.repeat(320)}@example.com`, 'a b@example.com', ...lone]) {
      const res = await post('/extract', { account });
      assert.equal(res.status, 400, JSON.stringify(account));
      const body = (await res.json()) as { error: { details: { path: string }[] } };
      assert.deepEqual([...new Set(body.error.details.map((d) => d.path))], ['account']);
    }
    for (const body of [{ query: 'from:\ud800' }, { labelIds: ['INBOX', '\udfff'] }]) {
      const res = await post('/extract', { account: 'me', ...body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(await res.text(), /lone UTF-16 surrogate/);
    }
    const big = await post('/extract', { account: 'me', query: 'x'.repeat(70_000) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'INVALID_REQUEST');
    assert.equal(started.length, 0, 'nothing was started');
    assert.equal((await post('/extract', { account: 'me', query: 'subject:\ud83d\ude00' })).status, 202, 'a surrogate pair is text');
  });

  test('security: a query string cannot smuggle extra fields; ids are path-encoded', async () => {
    const { post, app } = setup();
    assert.equal((await post('/extract?account=x', { account: 'me', labelIds: 'INBOX' })).status, 400);
    const res = await app.request('/extract/..%2F..%2Fetc');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });
});

describe('GET /extract/:id and signals', () => {
  test('happy: progress object; pause/resume/cancel → 202', async () => {
    const { post, app } = setup();
    await post('/extract', { account: 'a@example.com' });
    const res = await app.request('/extract/gmail-extract-a@example.com');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as ExtractionProgress).progress.percent, 50);
    for (const a of ['pause', 'resume', 'cancel'])
      assert.equal((await app.request(`/extract/gmail-extract-a@example.com/${a}`, { method: 'POST' })).status, 202);
  });

  test('errors: unknown id → 404; closed extraction → 409; unknown route → 404 JSON', async () => {
    const { post, app, closed } = setup();
    assert.equal((await app.request('/extract/nope')).status, 404);
    await post('/extract', { account: 'b@example.com' });
    closed.add('gmail-extract-b@example.com');
    const res = await app.request('/extract/gmail-extract-b@example.com/pause', { method: 'POST' });
    assert.equal(res.status, 409);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CONFLICT');
    assert.equal((await app.request('/nothing')).status, 404);
  });
});

describe('health, readiness and docs', () => {
  test('healthz is 200; readyz reports each check and is 503 when one fails', async () => {
    const { app } = setup();
    assert.equal((await app.request('/healthz')).status, 200);
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'not ready', checks: { temporal: 'ok', lake: 'lake file locked' } });
  });

  test('OpenAPI document is generated from the validating schemas; /docs serves the UI', async () => {
    const { app } = setup();
    const doc = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    assert.ok(doc.paths['/extract'] && doc.paths['/extract/{id}'] && doc.paths['/extract/{id}/pause']);
    assert.ok(doc.components.schemas.ExtractRequest!.properties.batchSize);
    // Every bound the API enforces is in the document: a client generated from it refuses what the API refuses.
    assert.deepEqual(doc.components.schemas.ExtractRequest!.properties.maxMessages, {
      type: 'integer',
      minimum: 1,
      maximum: 1_000_000_000,
      description: 'stop after this many messages (at most 1,000,000,000)',
    });
    assert.match(await (await app.request('/docs')).text(), /swagger/i);
  });
});
