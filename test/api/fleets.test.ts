import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { createFleetService } from '../../src/api/fleets.js';
import { generateApiKey, parseApiKeys } from '../../src/api/keys.js';
import { createLogger } from '../../src/log.js';

/** POST /fleets input checks and the id rule, before anything reaches Temporal (the client is never called). */
const admin = generateApiKey('ops', 'admin');
const app = createApp({
  auth: { keys: parseApiKeys(admin.entry), ratePerMinute: 0 },
  extractions: {} as ExtractionService,
  fleets: createFleetService({} as Client, 'q', { pipelineDepth: 2, compactEvery: 0 }),
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
    assert.match(`${r.body.error.message} ${JSON.stringify(r.body.error.details ?? '')}`, message, JSON.stringify(body));
  }
});

test('/fleets/{id} acts only on fleets: any other workflow id is a 404', async () => {
  for (const path of ['/fleets/gmail-extract-a@example.com', '/fleets/some-other-workflow/pause', '/fleets/x/cancel']) {
    const r = await call(path.endsWith('pause') || path.endsWith('cancel') ? 'POST' : 'GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(r.body.error.code, 'NOT_FOUND');
  }
});
