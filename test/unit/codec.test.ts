import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { CODEC_SESSION_SECONDS, codecSessions } from '../../src/api/codec-session.js';
import { generateApiKey, parseApiKeys } from '../../src/api-keys.js';
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
    codec: { codec: new AesGcmCodec(k1), uiOrigin: 'http://127.0.0.1:8233', keys: k1.map((k) => k.key) },
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

test('codec sessions for the Web UI: /codec/session with a key sets an HttpOnly cookie for /codec that decodes (encode only for admin), as JSON only; tampered, expired, revoked or foreign cookies are refused', async () => {
  const admin = generateApiKey('ops', 'admin');
  const reader = generateApiKey('ui.reader', 'read');
  const appWith = (entries: string, codecKeys = k1) =>
    createApp({
      auth: { keys: parseApiKeys(entries), ratePerMinute: 0 },
      codec: { codec: new AesGcmCodec(codecKeys), uiOrigin: 'http://127.0.0.1:8233', keys: codecKeys.map((k) => k.key) },
      extractions: {} as ExtractionService,
      readiness: {},
      logger: createLogger('silent'),
    });
  const app = appWith(`${admin.entry},${reader.entry}`);
  const signIn = async (key: string, headers: Record<string, string> = {}) => {
    const res = await app.request('/codec/session', { method: 'POST', headers: { authorization: `Bearer ${key}`, ...headers } });
    assert.equal(res.status, 201);
    return res.headers.get('set-cookie')!;
  };
  const readerCookie = await signIn(reader.key);
  assert.match(readerCookie, /^gmail_lake_codec=[^;]+; Max-Age=43200; Path=\/codec; HttpOnly; SameSite=Strict$/);
  assert.ok(!readerCookie.includes(reader.key) && !readerCookie.includes(parseApiKeys(reader.entry)[0]!.digest), 'no key in it');
  assert.match(await signIn(reader.key, { 'x-forwarded-proto': 'https' }), /; Secure/);
  assert.equal((await app.request('/codec/session', { method: 'POST' })).status, 401, 'a session needs a key');

  const cookie = (setCookie: string) => setCookie.split(';')[0]!;
  const call = (a: typeof app, op: string, c: string, contentType = 'application/json') =>
    a.request(`/codec/${op}`, { method: 'POST', headers: { cookie: c, 'content-type': contentType }, body: JSON.stringify(clear) });
  const clear = {
    payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"a@b.c"').toString('base64') }],
  };
  assert.equal((await call(app, 'decode', cookie(readerCookie))).status, 200);
  assert.equal((await call(app, 'encode', cookie(readerCookie))).status, 403, 'a read key stays read');
  assert.equal((await call(app, 'encode', cookie(await signIn(admin.key)))).status, 200);
  assert.equal((await call(app, 'decode', cookie(readerCookie), 'text/plain')).status, 401, 'a form post cannot use the cookie');
  const [name, value] = cookie(readerCookie).split('=') as [string, string];
  const tampered = `${name}=${value.replace(/\.(.)/, (_m, ch: string) => `.${ch === 'A' ? 'B' : 'A'}`)}`;
  assert.equal((await call(app, 'decode', tampered)).status, 401);
  const renamed = `${name}=${value.replace(/ui\.reader$/, 'ops')}`;
  assert.equal((await call(app, 'encode', renamed)).status, 401, 'a session cannot be moved to another key');
  assert.equal((await app.request('/codec/metrics', { headers: { cookie: cookie(readerCookie) } })).status, 401);
  assert.equal((await app.request('/metrics', { headers: { cookie: cookie(readerCookie) } })).status, 401, 'only /codec takes it');

  // Any replica with the same keys accepts it, also after a codec key rotation; revoking the API key ends it.
  assert.equal((await call(appWith(`${admin.entry},${reader.entry}`, [...k2, ...k1]), 'decode', cookie(readerCookie))).status, 200);
  assert.equal((await call(appWith(`${admin.entry},${reader.entry}`, k2), 'decode', cookie(readerCookie))).status, 401);
  assert.equal((await call(appWith(admin.entry), 'decode', cookie(readerCookie))).status, 401);
  const sessions = codecSessions(
    parseApiKeys(reader.entry),
    k1.map((k) => k.key),
  );
  const token = sessions.issue(parseApiKeys(reader.entry)[0]!, 0);
  assert.ok(sessions.verify(token, CODEC_SESSION_SECONDS * 1000 - 1));
  assert.equal(sessions.verify(token, CODEC_SESSION_SECONDS * 1000), undefined, 'expired');

  const out = await app.request('/codec/session', { method: 'DELETE', headers: { authorization: `Bearer ${reader.key}` } });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie')!, /^gmail_lake_codec=; Max-Age=0; Path=\/codec/);
});
