import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { webhookSignature } from '../../src/activities/events.js';
import { loadConfig } from '../../src/config.js';

// Subscribers verify with a Standard Webhooks library as it comes (standardwebhooks, the reference implementation):
// a `whsec_` secret is base64 after its prefix, any other is raw bytes.
const body = JSON.stringify({ specversion: '1.0', id: 'e1', type: 'dev.gmail-lake.extraction.completed', data: { n: 1 } });
const headers = (secret: string) => {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return { 'webhook-id': 'e1', 'webhook-timestamp': timestamp, 'webhook-signature': webhookSignature(secret, 'e1', timestamp, body) };
};

test('a whsec_ secret signs with its decoded bytes: the Standard Webhooks library verifies as it comes', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  assert.deepEqual(new Webhook(secret).verify(body, headers(secret)), JSON.parse(body));
  assert.throws(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(body, headers(secret)), /No matching signature/);
});

test('any other secret signs with its own bytes: verified in the library raw format', () => {
  const secret = 'a-shared-secret-of-our-own-0123';
  assert.deepEqual(new Webhook(secret, { format: 'raw' }).verify(body, headers(secret)), JSON.parse(body));
});

test('WEBHOOK_SECRET: a whsec_ secret must be base64 of 16+ bytes', () => {
  const env = { WEBHOOK_URLS: 'http://127.0.0.1:9/hook' };
  assert.ok(loadConfig({ ...env, WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('base64')}` }).webhooks);
  for (const bad of ['whsec_not base64 at all!!', `whsec_${randomBytes(8).toString('base64')}`])
    assert.throws(() => loadConfig({ ...env, WEBHOOK_SECRET: bad }), /WEBHOOK_SECRET.*whsec_ secret is whsec_ and base64/s);
});
