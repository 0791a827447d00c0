import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import type { FleetService } from '../../src/api/fleets.js';
import { generateApiKey, parseApiKeys } from '../../src/api-keys.js';
import type { MailboxService } from '../../src/api/mailboxes.js';
import { createLogger } from '../../src/log.js';

/** Services that answer every call: these tests check who gets through, not what the routes do. */
const extractions = {
  start: async (r: { account: string }) => ({ id: `gmail-extract-${r.account}`, runId: 'r', created: true, account: r.account }),
  get: async (id: string) => ({ id }),
  list: async () => [],
  signal: async () => undefined,
} as unknown as ExtractionService;
const mailboxes = {
  sync: async (account: string) => ({ id: `gmail-sync-${account}`, runId: 'r', account, created: true }),
  get: async (account: string) => ({ account, backfill: null, syncRunning: null, lastSync: null, schedule: null, historyId: null }),
  putSchedule: async (account: string) => ({ account, created: true, schedule: null }),
  controlSchedule: async (account: string) => ({ account, schedule: null }),
  assertNoSync: async () => undefined,
  retryFailed: async (account: string) => ({ id: `gmail-extract-${account}`, runId: 'r', account, created: true }),
} as unknown as MailboxService;

const fleets = {
  start: async () => ({ id: 'gmail-fleet-example.com', runId: 'r', created: true }),
  get: async (id: string) => ({ id }),
  list: async () => [],
  signal: async () => undefined,
} as unknown as FleetService;

const admin = generateApiKey('ops', 'admin');
const reader = generateApiKey('grafana', 'read');

function setup(ratePerMinute = 0, readiness: Record<string, () => Promise<void>> = {}) {
  const app = createApp({
    auth: { keys: parseApiKeys(`${admin.entry}, ${reader.entry}`), ratePerMinute },
    extractions,
    mailboxes,
    fleets,
    readiness,
    logger: createLogger('silent'),
  });
  const call = async (method: string, path: string, key?: string, body?: unknown) => {
    const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    // /metrics answers in Prometheus text; everything else in JSON.
    const parsed = res.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as { error?: { code: string; message: string } })
      : {};
    return { status: res.status, headers: res.headers, body: parsed };
  };
  return { app, call };
}

/** Every route of the OpenAPI document, with parameters and a body that pass validation. */
async function routes(app: ReturnType<typeof setup>['app']) {
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  const out: { method: string; path: string; body?: unknown }[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    const path = template.replace('{id}', 'gmail-extract-user@example.com').replace('{account}', 'user@example.com');
    for (const [method, op] of Object.entries(ops)) {
      if (op.security?.length === 0) continue; // declared open: the probes
      const body =
        method === 'post' && template === '/extract'
          ? { account: 'user@example.com' }
          : method === 'post' && template === '/fleets'
            ? { domain: 'example.com' }
            : method === 'put' && template.endsWith('/schedule')
              ? { every: '15m' }
              : undefined;
      out.push({ method: method.toUpperCase(), path, body });
    }
  }
  return out;
}

test('every route of /openapi.json: 401 without a key or with an unknown one, 403 for a read key on writes, through with the right scope', async () => {
  const { app, call } = setup();
  const all = await routes(app);
  assert.ok(all.length >= 12, `found ${all.length} routes`);
  for (const { method, path, body } of all) {
    const none = await call(method, path, undefined, body);
    assert.equal(none.status, 401, `${method} ${path} without a key`);
    assert.equal(none.body.error?.code, 'UNAUTHENTICATED');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await call(method, path, generateApiKey('x', 'admin').key, body);
    assert.equal(wrong.status, 401, `${method} ${path} with an unknown key`);
    const asReader = await call(method, path, reader.key, body);
    if (method === 'GET')
      assert.ok(asReader.status < 400, `${method} ${path} as reader → ${asReader.status} ${JSON.stringify(asReader.body)}`);
    else {
      assert.equal(asReader.status, 403, `${method} ${path} as reader`);
      assert.equal(asReader.body.error?.code, 'FORBIDDEN');
    }
    const asAdmin = await call(method, path, admin.key, body);
    assert.ok(asAdmin.status < 400, `${method} ${path} as admin → ${asAdmin.status} ${JSON.stringify(asAdmin.body)}`);
  }
});

test('/readyz without a key says which check failed, not why (the reason can name hosts, ports and users)', async () => {
  const reason = 'connection to server at "db.internal" (10.0.0.7), port 5432 failed: FATAL: role "lake_writer" does not exist';
  const { call } = setup(0, { temporal: async () => undefined, lake: async () => Promise.reject(new Error(reason)) });
  const anonymous = await call('GET', '/readyz');
  assert.equal(anonymous.status, 503);
  assert.deepEqual(anonymous.body, { status: 'not ready', checks: { temporal: 'ok', lake: 'failed (send an API key for the reason)' } });
  const withKey = await call('GET', '/readyz', reader.key);
  assert.equal(withKey.status, 503);
  assert.match(JSON.stringify(withKey.body), /db\.internal.*lake_writer/);
  assert.equal((await call('GET', '/readyz', 'not-a-key')).status, 503, 'an unknown key is no key: still open, no reason');
});

test('probes and the API description need no key; the description declares bearer auth', async () => {
  const { app, call } = setup();
  assert.equal((await call('GET', '/healthz')).status, 200);
  assert.equal((await call('GET', '/readyz')).status, 200);
  assert.equal((await app.request('/docs')).status, 200);
  const doc = (await (await app.request('/openapi.json')).json()) as {
    security: unknown;
    components: { securitySchemes: unknown };
    paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  };
  assert.deepEqual(doc.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.components.securitySchemes, { apiKey: { type: 'http', scheme: 'bearer' } });
  const open = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.security?.length === 0)
      .map(([m]) => `${m} ${path}`),
  );
  assert.deepEqual(
    open.sort(),
    ['get /healthz', 'get /readyz', 'post /push/gmail'],
    "the probes, and Gmail's push (its own OIDC token), are documented as needing no key",
  );
  // Open to the network, Gmail's push still answers 401 without Google's token (here: push not configured, 404).
  assert.notEqual((await call('POST', '/push/gmail', undefined, { message: { data: 'e30=' } })).status, 200);
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      if (op.security?.length !== 0)
        for (const status of ['401', '403', '429']) assert.ok(op.responses[status], `${method} ${path} documents ${status}`);
});

test('rate limit per key: past N requests a minute → 429 with Retry-After; another key is not affected', async () => {
  const { call } = setup(5);
  for (let i = 0; i < 5; i++) assert.equal((await call('GET', '/extract', reader.key)).status, 200);
  const over = await call('GET', '/extract', reader.key);
  assert.equal(over.status, 429);
  assert.equal(over.body.error?.code, 'RATE_LIMITED');
  const retry = Number(over.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  assert.equal((await call('GET', '/extract', admin.key)).status, 200);
  // Unauthenticated requests are refused before they count against anyone.
  assert.equal((await call('GET', '/extract')).status, 401);
});

test('API_KEYS entries: parsed; a malformed entry is refused without echoing it (a key pasted in place of its digest)', () => {
  assert.deepEqual(parseApiKeys(admin.entry), [{ name: 'ops', scope: 'admin', digest: admin.entry.split(':')[2] }]);
  assert.throws(
    () => parseApiKeys(`ops:admin:${admin.key}`),
    (e: Error) => !e.message.includes(admin.key) && /entry 1/.test(e.message),
  );
  assert.throws(() => parseApiKeys(`${admin.entry},${admin.entry}`), /appears twice/);
  assert.throws(() => parseApiKeys(`a:owner:${'0'.repeat(64)}`), /read\|admin/);
});

test('a known path with an undeclared method → 405 with Allow; an unknown path → 404', async () => {
  const { call } = setup();
  const res = await call('DELETE', '/extract', admin.key);
  assert.equal(res.status, 405);
  assert.equal(res.body.error?.code, 'METHOD_NOT_ALLOWED');
  assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'POST']);
  assert.equal((await call('PATCH', '/extract/gmail-extract-me/pause', admin.key)).status, 405);
  assert.equal((await call('GET', '/nothing', admin.key)).status, 404);
});
