import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { generateApiKey, parseApiKeys } from '../../src/api/keys.js';
import { AesGcmCodec, ENCODING, generateCodecKey, parseCodecKeys } from '../../src/codec.js';
import { createLogger } from '../../src/log.js';

const payload = (text: string) => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(text)) });
const k1 = parseCodecKeys(generateCodecKey('k1'));
const k2 = parseCodecKeys(generateCodecKey('k2'));

test('AES-256-GCM codec: ciphertext without the clear text, round trip, rotation, tampering and unknown keys refused', async () => {
  const codec = new AesGcmCodec(k1);
  const [enc] = await codec.encode([payload('user@example.com after:2001/02/03')]);
  assert.equal(Buffer.from(enc!.metadata!.encoding!).toString(), ENCODING);
  assert.ok(!Buffer.from(enc!.data!).includes('user@example.com'));
  const [dec] = await codec.decode([enc!]);
  assert.equal(Buffer.from(dec!.data!).toString(), '"user@example.com after:2001/02/03"');
  // Rotation: a new key first encrypts; the old one, kept after it, still decrypts old payloads.
  const rotated = new AesGcmCodec([...k2, ...k1]);
  assert.equal(Buffer.from((await rotated.decode([enc!]))[0]!.data!).toString(), '"user@example.com after:2001/02/03"');
  assert.equal(Buffer.from((await rotated.encode([payload('x')]))[0]!.metadata!['encryption-key-id']!).toString(), 'k2');
  await assert.rejects(new AesGcmCodec(k2).decode([enc!]), /key "k1", which PAYLOAD_KEYS does not hold/);
  const tampered = { ...enc!, data: Buffer.from(enc!.data!).fill(1, 20, 21) };
  await assert.rejects(codec.decode([tampered]), /authenticate/);
  // Payloads written before the codec was turned on pass through.
  assert.deepEqual(await codec.decode([payload('old')]), [payload('old')]);
  assert.throws(() => parseCodecKeys('k1:c2hvcnQ='), /entry 1 is not id:<32 bytes in base64>/);
});

test('codec endpoint: decode with a read key, encode only with admin, no key 401; CORS preflight for the Web UI without a key', async () => {
  const admin = generateApiKey('ops', 'admin');
  const reader = generateApiKey('ui', 'read');
  const app = createApp({
    auth: { keys: parseApiKeys(`${admin.entry},${reader.entry}`), ratePerMinute: 0 },
    codec: { codec: new AesGcmCodec(k1), uiOrigin: 'http://127.0.0.1:8233' },
    extractions: {} as ExtractionService,
    readiness: {},
    logger: createLogger('silent'),
  });
  const post = (path: string, key: string | undefined, body: unknown) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
  const clear = {
    payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"a@b.c"').toString('base64') }],
  };
  assert.equal((await post('/codec/encode', undefined, clear)).status, 401);
  assert.equal((await post('/codec/encode', reader.key, clear)).status, 403);
  const encoded = await post('/codec/encode', admin.key, clear);
  assert.equal(encoded.status, 200);
  const enc = (await encoded.json()) as typeof clear;
  assert.equal(Buffer.from(enc.payloads[0]!.metadata.encoding, 'base64').toString(), ENCODING);
  assert.equal((await post('/codec/decode', undefined, enc)).status, 401);
  const decoded = await post('/codec/decode', reader.key, enc);
  assert.equal(decoded.status, 200);
  assert.deepEqual(await decoded.json(), clear);
  assert.equal((await post('/codec/decode', reader.key, { payloads: 'x' })).status, 400);
  const preflight = await app.request('/codec/decode', {
    method: 'OPTIONS',
    headers: {
      origin: 'http://127.0.0.1:8233',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-namespace',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
});
