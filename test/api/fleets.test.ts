import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { createFleetService } from '../../src/api/fleets.js';
import { generateApiKey, parseApiKeys } from '../../src/api-keys.js';
import { createLogger } from '../../src/log.js';
import { MailboxIds } from '../../src/mailbox-ids.js';

/** POST /fleets input checks and the id rule, before anything reaches Temporal (the client is never called). */
const admin = generateApiKey('ops', 'admin');
const app = createApp({
  auth: { keys: parseApiKeys(admin.entry), ratePerMinute: 0 },
  extractions: {} as ExtractionService,
  fleets: createFleetService({} as Client, 'q', { pipelineDepth: 2, compactEvery: 0, events: false }, new MailboxIds()),
  readiness: {},
  logger: createLogger('silent'),
});
const call = async (method: string, path: string, body?: unknown) => {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${admin.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; details?: unknown } } };
};

test('POST /fleets: a domain or a list of addresses, not both, not neither, no "me", bounded concurrency', async () => {
  for (const [body, message] of [
    [{ domain: 'example.com', accounts: ['a@example.com'] }, /either "domain" or "accounts"/],
    [{}, /either "domain" or "accounts"/],
    [{ domain: 'example.com', accounts: [] }, /./],
    [{ accounts: ['me'] }, /not "me"/],
    [{ domain: 'not a domain' }, /domain name/],
    [{ accounts: ['a@example.com\u0000'] }, /email address/],
    [{ domain: 'example.com', concurrency: 0 }, /./],
    [{ domain: 'example.com', concurrency: 501 }, /./],
    [{ domain: 'example.com', concurrency: 51 }, /FLEET_MAX_CONCURRENCY \(50\)/],
    [{ domain: 'example.com', extra: 1 }, /./],
  ] as const) {
    const r = await call('POST', '/fleets', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'INVALID_REQUEST');
    const details = (r.body.error.details ?? []) as { message: string }[];
    assert.match([r.body.error.message, ...details.map((d) => d.message)].join(' '), message, JSON.stringify(body));
  }
});

test('/fleets/{id} acts only on fleets: any other workflow id is a 404', async () => {
  for (const path of ['/fleets/gmail-extract-a@example.com', '/fleets/some-other-workflow/pause', '/fleets/x/cancel']) {
    const r = await call(path.endsWith('pause') || path.endsWith('cancel') ? 'POST' : 'GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(r.body.error.code, 'NOT_FOUND');
  }
});

test('/openapi.json states the rules the API enforces: one of domain or accounts, addresses only, the concurrency cap', async () => {
  const doc = (await (await app.request('/openapi.json')).json()) as {
    components: { schemas: { FleetRequest: { oneOf: unknown; properties: Record<string, Record<string, unknown>> } } };
  };
  const schema = doc.components.schemas.FleetRequest;
  assert.deepEqual(schema.oneOf, [{ required: ['domain'] }, { required: ['accounts'] }]);
  assert.equal(schema.properties.concurrency!.maximum, 50);
  const item = schema.properties.accounts!.items as { pattern: string };
  assert.ok(!new RegExp(item.pattern).test('me') && new RegExp(item.pattern).test('a@example.com'), item.pattern);
});
