import assert from 'node:assert/strict';
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { gmail as gmailApi } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import { classifyGmailError } from '../../src/gmail/errors.js';
import { leanJsonAdapter } from '../../src/gmail/http-adapter.js';

// The googleapis client, unchanged but for the adapter, against a server that answers as Google may: compressed or
// not, with errors, cut off mid-body, slow.
const message = { id: 'm1', threadId: 't1', snippet: 'Grüße — ✓', payload: { mimeType: 'text/plain' } };
const seen: IncomingMessage[] = [];
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  plain: (_req, res) => res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(message)),
  gzip: (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(JSON.stringify(message))),
  br: (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' }).end(brotliCompressSync(JSON.stringify(message))),
  rate: (_req, res) =>
    res
      .writeHead(403, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 403, message: 'User-rate limit exceeded', errors: [{ reason: 'userRateLimitExceeded' }] } })),
  gone: (_req, res) =>
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 404, message: 'Not Found' } })),
  proxy: (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>'),
  truncated: (_req, res) => {
    const body = JSON.stringify(message);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length + 100) });
    res.write(body.slice(0, 20));
    setImmediate(() => res.socket?.destroy());
  },
  slow: () => undefined, // never answers
};
const server = createServer((req, res) => {
  seen.push(req);
  const id = /messages\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '';
  (routes[id] ?? routes.gone!)(req, res);
});
let gmail: ReturnType<typeof gmailApi>;
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'token-1', expiry_date: Date.now() + 3_600_000 });
  const rootUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  gmail = gmailApi({ version: 'v1', auth, rootUrl, retry: false, timeout: 60_000, adapter: leanJsonAdapter() });
});
after(() => {
  server.closeAllConnections();
  server.close();
});
const get = (id: string, signal?: AbortSignal) => gmail.users.messages.get({ userId: 'me', id, format: 'full' }, { signal });
const failure = async (id: string, signal?: AbortSignal) => {
  const err = await get(id, signal).then(
    () => assert.fail(`${id}: resolved`),
    (e: unknown) => e as { response?: { status?: number; data?: unknown }; message: string },
  );
  return err;
};

test('a JSON answer is parsed once, whatever its compression; the request carries the token and keeps its connection', async () => {
  for (const id of ['plain', 'gzip', 'br']) {
    const r = await get(id);
    assert.equal(r.status, 200);
    assert.deepEqual(r.data, message, id);
  }
  const last = seen.at(-1)!;
  assert.equal(last.headers.authorization, 'Bearer token-1');
  assert.equal(last.headers['accept-encoding'], 'gzip', 'googleapis asks for gzip');
  assert.equal(new Set(seen.slice(-3).map((r) => r.socket)).size, 1, 'one kept-alive connection for the three requests');
});

test("a request with an agent of its own (a proxy's, a client certificate's) goes by gaxios' transport, with that agent", async () => {
  const agent = new Agent({ keepAlive: false });
  const r = await gmail.users.messages.get({ userId: 'me', id: 'plain', format: 'full' }, { agent });
  assert.deepEqual(r.data, message);
  assert.equal(seen.at(-1)!.headers.connection, 'close', "the given agent's, not the adapter's kept-alive connection");
  const kept = await get('plain');
  assert.deepEqual(kept.data, message);
  assert.equal(seen.at(-1)!.headers.connection, 'keep-alive', "the adapter's own");
});

test('errors come as googleapis makes them: the status and the parsed body, classified as before', async () => {
  const rate = await failure('rate');
  assert.equal(rate.response?.status, 403);
  assert.equal(classifyGmailError(rate), 'transient', 'a rate limit is retried');
  assert.equal(classifyGmailError(await failure('gone')), 'notFound');
  const proxy = await failure('proxy');
  assert.equal(proxy.response?.status, 502);
  assert.equal(proxy.response?.data, '<html>Bad gateway</html>', "a proxy's page stays text");
  assert.equal(classifyGmailError(proxy), 'transient');
});

test('a body cut off mid-way and an aborted request fail without a response (transient), and never hang', async () => {
  const cut = await failure('truncated');
  assert.equal(cut.response, undefined);
  assert.match(cut.message, /aborted|Premature close/);
  assert.equal(classifyGmailError(cut), 'transient');
  const controller = new AbortController();
  const pending = failure('slow', controller.signal);
  setTimeout(() => controller.abort(), 50);
  const aborted = await pending;
  assert.equal(aborted.response, undefined);
  assert.match(aborted.message, /abort/i);
});
