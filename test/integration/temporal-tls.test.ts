/**
 * Temporal behind mutual TLS, as Temporal Cloud or an mTLS cluster is reached: the dev server has no TLS of its own, so
 * a TLS terminator in front of it (a private CA's server certificate, client certificates required, ALPN h2) stands
 * in for the cluster's frontend. The API and worker processes, configured only by the SDK's standard variables
 * (TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_NAME,
 * TEMPORAL_API_KEY), run an extraction to an exact lake through it; a client without a certificate is refused; the
 * key and the API key appear in no output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { freePort } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { assertLakeExact, extractThroughApi } from '../helpers/verify.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';

const API_KEY = 'tmprl-test-api-key-0123456789abcdefghijkl';
let temporal: TestTemporal;
let emu: RunningEmulator;
let proxy: Server;
let proxyPort = 0;
let certs: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>;
const handshakes = { authorized: 0, refused: 0 };
const procs: WorkerProcess[] = [];

/** A private CA, a server certificate for localhost and a client certificate, made with openssl. */
function makeCertificates(dir: string) {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  for (const [name, cn, ext] of [
    ['server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ['client', 'gmail-lake worker', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    ssl(
      ...['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2'],
      ...['-extfile', writeExt(dir, name, ext), '-out', f(`${name}.pem`)],
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}
function writeExt(dir: string, name: string, ext: string): string {
  const file = join(dir, `${name}.ext`);
  writeFileSync(file, `${ext}\n`);
  return file;
}

before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 200 })]);
  certs = makeCertificates(temporal.dir);
  const [host, port] = temporal.address.split(':');
  proxy = createServer(
    {
      key: readFileSync(certs.serverKey),
      cert: readFileSync(certs.serverCert),
      ca: readFileSync(certs.ca),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (tls) => {
      handshakes.authorized++;
      const upstream = connect(Number(port), host);
      tls.pipe(upstream).pipe(tls);
      const close = () => (tls.destroy(), upstream.destroy());
      tls.on('error', close);
      upstream.on('error', close);
    },
  );
  proxy.on('tlsClientError', () => handshakes.refused++);
  proxyPort = await freePort();
  await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', r));
});
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  proxy?.close();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

test('the API and a worker reach Temporal through mutual TLS with an API key, from the standard TEMPORAL_TLS_* variables: an extraction completes exactly', async () => {
  const env = workerEnv(temporal.dir, `localhost:${proxyPort}`, 'tls', emu, {
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    TEMPORAL_API_KEY: API_KEY,
  });
  const apiPort = await freePort();
  procs.push(await startWorkerProcess(env));
  procs.push(await startWorkerProcess({ ...env, API_PORT: String(apiPort) }, { entry: 'src/api/main.ts', ready: 'api ready' }));
  const url = `http://127.0.0.1:${apiPort}`;
  const done = await extractThroughApi(url, { account: 'user@example.com', format: 'raw' });
  assert.equal(done.status, 'completed', JSON.stringify(done));
  await assertLakeExact(env, emu);
  assert.ok(handshakes.authorized >= 2, `both processes connected through TLS (${handshakes.authorized} handshakes)`);
  const output = procs.map((p) => p.output()).join('\n');
  const keyLine = readFileSync(certs.clientKey, 'utf8').split('\n')[1]!;
  assert.ok(!output.includes(API_KEY) && !output.includes(keyLine), 'neither the API key nor the client key is logged');
});

test('without a client certificate the same frontend refuses the connection', async () => {
  const before = handshakes.refused;
  await assert.rejects(
    Connection.connect({
      address: `localhost:${proxyPort}`,
      tls: { serverRootCACertificate: readFileSync(certs.ca), serverNameOverride: 'localhost' },
      connectTimeout: 5000,
    }),
  );
  assert.ok(handshakes.refused > before, 'the TLS handshake was refused');
});
