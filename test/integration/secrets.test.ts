import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import pg from 'pg';
import { DEFAULT_CLIENT, type RunningEmulator } from '../../src/emulator/server.js';
import { authHeaders, startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal } from '../helpers/stack.js';
import { rawHistory } from '../helpers/history.js';
import { startMinio, type TestMinio } from '../helpers/minio.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';

/**
 * Known secrets seeded into a real `npm start` process (catalog password, S3 keys, OAuth client secret and refresh
 * token, the API key), failures provoked (revoked credentials, the catalog down), then every log line, every API answer
 * (error bodies and /readyz included) and the raw Temporal history of every workflow searched for them.
 */
const PG_PASSWORD = 'Catalog-Pw-7f3e9a';

let temporal: TestTemporal;
let emu: RunningEmulator;
let postgres: TestPostgres;
let minio: TestMinio;
let app: WorkerProcess;
const answers: string[] = [];
let url = '';

before(async () => {
  [temporal, emu, postgres, minio] = await Promise.all([
    startTestTemporal(),
    startTestEmulator({ messages: 80 }),
    startPostgres(),
    startMinio(),
  ]);
  await Promise.all([postgres.createDatabase('lake'), minio.createBucket('lake')]);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  app = await startWorkerProcess(
    workerEnv(temporal.dir, temporal.address, 'secrets', emu, {
      LAKE_CATALOG: 'postgres',
      // trust authentication in the test cluster: the password is carried (and must be hidden) but not checked
      LAKE_PG_DSN: `${postgres.dsn('lake')} password=${PG_PASSWORD}`,
      LAKE_ENCRYPTED: 'true',
      ...minio.env('lake'),
      API_PORT: String(port),
      LOG_LEVEL: 'debug',
    }),
    { entry: 'src/main.ts', ready: 'gmail-lake API on' },
  );
});
after(async () => {
  await app?.stop();
  await Promise.all([temporal?.stop(), emu?.close(), postgres?.stop(), minio?.stop()]);
});

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method,
    headers: { ...authHeaders, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: JSON.parse(text) as T };
}

type Progress = { status: string; error: string | null };
const settled = (id: string, statuses: string[]) =>
  waitFor(`${id} ${statuses.join('/')}`, async () => {
    const s = (await call<Progress>('GET', `/extract/${encodeURIComponent(id)}`)).body;
    return statuses.includes(s.status) ? s : undefined;
  });

async function rawHistories(): Promise<Buffer> {
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const chunks: Uint8Array[] = [];
  try {
    for await (const w of client.workflow.list()) {
      chunks.push(await rawHistory(client, { workflowId: w.workflowId, runId: w.runId }));
      // Pending activities' last failures (what the Web UI shows of a retrying activity) are not in history yet.
      const described = await client.workflowService.describeWorkflowExecution({
        namespace: 'default',
        execution: { workflowId: w.workflowId, runId: w.runId },
      });
      chunks.push(proto.temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode(described).finish());
    }
  } finally {
    await connection.close();
  }
  return Buffer.concat(chunks);
}

test('secrets that never pass through configuration: the catalog password from PGPASSFILE (PostgreSQL checking it), the S3 keys from AWS_SHARED_CREDENTIALS_FILE; the extraction and the shared project quota work', async () => {
  const password = `File-Only-${Math.random().toString(36).slice(2)}`;
  const pgAuth = await startPostgres({ password });
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-secret-files-'));
  let proc: WorkerProcess | undefined;
  try {
    await Promise.all([pgAuth.createDatabase('lake'), minio.createBucket('files')]);
    const wrong = new pg.Client({ host: '127.0.0.1', port: pgAuth.port, user: 'postgres', database: 'lake', password: 'wrong' });
    await assert.rejects(wrong.connect(), /password authentication failed/, 'the server checks the password');
    const pgpassFile = join(dir, 'pgpass');
    writeFileSync(pgpassFile, `127.0.0.1:${pgAuth.port}:*:postgres:${password}\n`, { mode: 0o600 });
    const awsFile = join(dir, 'aws-credentials');
    writeFileSync(awsFile, `[default]\naws_access_key_id = ${minio.accessKey}\naws_secret_access_key = ${minio.secretKey}\n`, {
      mode: 0o600,
    });
    const s3 = Object.fromEntries(Object.entries(minio.env('files')).filter(([k]) => !/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)$/.test(k)));
    const port = await freePort();
    const env = workerEnv(dir, temporal.address, 'secret-files', emu, {
      LAKE_CATALOG: 'postgres',
      LAKE_PG_DSN: pgAuth.dsn('lake'), // no password
      ...s3, // no keys
      PGPASSFILE: pgpassFile,
      AWS_SHARED_CREDENTIALS_FILE: awsFile,
      GMAIL_QUOTA_PROFILE: 'legacy', // the project quota's bookings go to the catalog's database, through pgpass too
      API_PORT: String(port),
    });
    assert.ok(!JSON.stringify(env).includes(password) && !JSON.stringify(env).includes(minio.secretKey));
    proc = await startWorkerProcess(env, { entry: 'src/main.ts', ready: 'gmail-lake API on' });
    const base = `http://127.0.0.1:${port}`;
    const started = await fetch(`${base}/extract`, {
      method: 'POST',
      headers: { ...authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'user@example.com', format: 'raw' }),
    });
    assert.equal(started.status, 202);
    const { id } = (await started.json()) as { id: string };
    type Done = { status: string; error: string | null; progress: { persisted: number; total: number } };
    const done = await waitFor('the extraction to end', async () => {
      const s = (await (await fetch(`${base}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as Done;
      return ['completed', 'failed'].includes(s.status) ? s : undefined;
    });
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.equal(done.progress.persisted, done.progress.total);
    const objects = await minio.client.listObjectsV2('files', 'lake/', true).toArray();
    assert.ok(
      objects.some((o: { name?: string }) => o.name?.endsWith('.parquet')),
      'data files in S3',
    );
    const check = new pg.Client({ host: '127.0.0.1', port: pgAuth.port, user: 'postgres', database: 'lake', password });
    await check.connect();
    const booked = await check.query('SELECT count(*)::int AS n FROM gmail_lake_project_quota');
    await check.end();
    assert.equal(booked.rows[0].n, 1, 'the project quota booked through the same password file');
    assert.ok(!proc.output().includes(password) && !proc.output().includes(minio.secretKey));
  } finally {
    await proc?.stop();
    await pgAuth.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no secret in any log line, API answer, /readyz or Temporal history — after revoked credentials and with the catalog down', async () => {
  // 1. A good run.
  const ok = await call<{ id: string }>('POST', '/extract', { account: 'user@example.com', format: 'raw' });
  assert.equal(ok.status, 202);
  assert.equal((await settled(ok.body.id, ['completed'])).status, 'completed');

  // 2. Credentials revoked at "Google": the next extraction fails with a readable reason.
  await fetch(`${emu.url}_emulator/tokens/revoke`, {
    method: 'POST',
    body: JSON.stringify({ refresh_token: DEFAULT_CLIENT.refreshToken }),
  });
  const revoked = await call<{ id: string }>('POST', '/extract', { account: 'other@example.com' });
  assert.equal(revoked.status, 202);
  const failed = await settled(revoked.body.id, ['failed']);
  assert.match(failed.error ?? '', /invalid_grant|revoked|credentials/i);

  // 3. The catalog goes down: /readyz says so, an extraction keeps failing its activities.
  await postgres.stop();
  const ready = await waitFor('readyz 503', async () => {
    const r = await call<{ checks: Record<string, string> }>('GET', '/readyz');
    return r.status === 503 ? r.body : undefined;
  });
  assert.notEqual(ready.checks.lake, 'ok');
  const down = await call<{ id: string }>('POST', '/extract', { account: 'third@example.com' });
  assert.equal(down.status, 202);
  await waitFor(
    'activity failures logged',
    async () => (app.output().match(/Activity failed|activity failed/gi) ?? []).length >= 3,
    60_000,
  );
  await call('GET', `/extract/${encodeURIComponent(down.body.id)}`);
  await call('GET', '/nothing');

  const secrets = {
    'catalog password': PG_PASSWORD,
    'S3 secret key': minio.secretKey,
    'S3 access key id': minio.accessKey,
    'OAuth client secret': DEFAULT_CLIENT.clientSecret,
    'OAuth refresh token': DEFAULT_CLIENT.refreshToken,
    'API key': TEST_API_KEY,
  };
  const logs = app.output();
  const history = (await rawHistories()).toString('latin1');
  assert.match(history, /Postgres/, "the retrying activity's last failure is there, and says what failed");
  assert.ok(
    logs.length > 10_000 && history.length > 10_000,
    `searched ${logs.length} characters of logs and ${history.length} bytes of history`,
  );
  for (const [name, secret] of Object.entries(secrets)) {
    assert.equal(
      logs.indexOf(secret),
      -1,
      `${name} in the logs: …${logs.slice(Math.max(0, logs.indexOf(secret) - 300), logs.indexOf(secret) + 50)}`,
    );
    for (const a of answers) assert.ok(!a.includes(secret), `${name} in an API answer: ${a.slice(0, 500)}`);
    assert.equal(history.indexOf(secret), -1, `${name} in Temporal history`);
  }
});
