import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { Lake } from '../../src/lake/lake.js';
import { fleetWorkflow } from '../../src/workflows/fleet.js';
import { emulatorStats } from '../helpers/emulator.js';
import { largestEvents } from '../helpers/history.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { authHeaders, startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';
import { fleetProgressQuery } from '../../src/workflows/fleet.js';

/**
 * A fleet over the emulator's Workspace directory: 15 users, 2 suspended, 1 outside the delegation and 1 deleted
 * mid-fleet, read with one service-account key by two worker processes (one killed with -9 mid-fleet) under a project
 * quota scaled down so that it binds: every other mailbox's lake equals its manifest, the four are reported with their
 * reasons, and the emulator's counters show the project quota held.
 */
const DOMAIN = 'example.com';
const SUSPENDED = ['user004@example.com', 'user008@example.com'];
const UNDELEGATED = 'user012@example.com';
/** Deleted by its administrator while the fleet runs. */
const DELETED = 'user014@example.com';

let temporal: TestTemporal;
let emu: RunningEmulator;
let postgres: TestPostgres;
let env: Record<string, string>;
const procs: WorkerProcess[] = [];
let url = '';
async function call<T>(method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { ...authHeaders, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}
before(async () => {
  [temporal, emu, postgres] = await Promise.all([
    startTestTemporal(),
    startTestEmulator({
      seed: 'fleet',
      messages: 30,
      workspace: { domain: DOMAIN, users: 14, suspended: SUSPENDED, undelegated: [UNDELEGATED] },
      // Project quota: 1,500 units per 10 s = 30 messages/s for the whole domain (per user: 50 messages/s).
      settings: { quota: 'legacy', projectQuotaUnits: 1500, projectQuotaWindowSeconds: 10, faults: { latencyMs: 2 } },
    }),
    startPostgres(),
  ]);
  await postgres.createDatabase('fleet');
  const keyFile = join(temporal.dir, 'service-account.json');
  writeFileSync(keyFile, JSON.stringify(emu.workspace!.key), { mode: 0o600 });
  env = workerEnv(temporal.dir, temporal.address, 'fleet', emu, {
    GMAIL_CREDENTIALS_FILE: keyFile,
    GMAIL_DIRECTORY_ADMIN: 'user@example.com',
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: postgres.dsn('fleet'),
    LAKE_DATA_PATH: join(temporal.dir, 'fleet-files/'),
    GMAIL_QUOTA_PROFILE: 'legacy',
    GMAIL_PROJECT_QUOTA_UNITS: '1500',
    GMAIL_PROJECT_QUOTA_WINDOW_SECONDS: '10',
    // Headroom (1 − share) × 1500 = 300 units: the bookings' bound, (1 + 2 workers) × 50 units, and ~1.2 s of delay
    // between the workers' pacing and the emulator's count (see hosts.test.ts and docs/architecture.md).
    GMAIL_QUOTA_SHARE: '0.8',
  });
});
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all([temporal?.stop(), emu?.close(), postgres?.stop()]);
});

type Fleet = {
  status: string;
  mailboxes: { total: number; pending: number; running: number; completed: number; failed: number };
  messages: { persisted: number };
  failures: { account: string; error: string }[];
  running: { account: string }[];
};

test('a fleet of 15 directory mailboxes (2 suspended, 1 undelegated, 1 deleted mid-fleet), kill -9 of a worker mid-fleet: 11 lakes exact, 4 reported, the project quota held', async (t) => {
  procs.push(await startWorkerProcess(env), await startWorkerProcess(env));
  const apiPort = await freePort();
  procs.push(await startWorkerProcess({ ...env, API_PORT: String(apiPort) }, { entry: 'src/api/main.ts', ready: 'api ready' }));
  url = `http://127.0.0.1:${apiPort}`;

  const started = await call<{ id: string }>('POST', '/fleets', { domain: DOMAIN, format: 'raw', batchSize: 20, concurrency: 4 });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const id = started.body.id;
  assert.equal(
    (await call<{ created: boolean }>('POST', '/fleets', { domain: DOMAIN, format: 'raw', batchSize: 20, concurrency: 4 })).status,
    200,
  );
  const fleet = (path = '') => call<Fleet>('GET', `/fleets/${encodeURIComponent(id)}${path}`);

  // Mid-fleet: pause reaches the running extractions; then one worker dies.
  await waitFor('a few mailboxes done', async () => ((await fleet()).body.mailboxes?.completed ?? 0) >= 3, 300_000, 500);
  assert.equal((await call('POST', `/fleets/${encodeURIComponent(id)}/pause`)).status, 202);
  const paused = await waitFor('fleet paused', async () => {
    const f = (await fleet()).body;
    return f.status === 'paused' ? f : undefined;
  });
  // The fleet relays the pause by signals (a child still starting gets it once started): each running extraction
  // reports paused soon after, unless it ended first.
  for (const r of paused.running) {
    await waitFor(`${r.account} paused`, async () => {
      const s = await call<{ paused: boolean; status?: string }>('GET', `/extract/${encodeURIComponent(`gmail-extract-${r.account}`)}`);
      return s.status === 200 && (s.body.status !== 'running' || s.body.paused);
    });
  }
  // While it is paused, an administrator deletes a user whose mailbox is not done.
  const gone = await call<{ status?: string }>('GET', `/extract/${encodeURIComponent(`gmail-extract-${DELETED}`)}`);
  assert.ok(gone.status === 404 || gone.body.status === 'running', `${DELETED} not done yet: ${JSON.stringify(gone.body)}`);
  assert.equal((await fetch(`${emu.url}_emulator/users/${DELETED}/delete`, { method: 'POST' })).status, 200);
  assert.equal((await call('POST', `/fleets/${encodeURIComponent(id)}/resume`)).status, 202);
  await procs[0]!.kill9();
  t.diagnostic(`worker killed with -9 with ${paused.mailboxes.completed} mailboxes done`);

  const done = await waitFor(
    'the fleet to end',
    async () => {
      const f = (await fleet()).body;
      return f.status === 'completed' || f.status === 'failed' ? f : undefined;
    },
    600_000,
    1000,
  );
  t.diagnostic(JSON.stringify({ mailboxes: done.mailboxes, messages: done.messages }));
  assert.equal(done.status, 'completed');
  assert.deepEqual(done.mailboxes, { ...done.mailboxes, total: 15, pending: 0, running: 0, completed: 11, failed: 4 });
  const reasons = Object.fromEntries(done.failures.map((f) => [f.account, f.error]));
  for (const s of SUSPENDED) assert.match(reasons[s] ?? '', /suspended/, s);
  assert.match(reasons[UNDELEGATED] ?? '', /unauthorized_client|not authorized/i);
  t.diagnostic(`${DELETED}: ${reasons[DELETED]}`);
  assert.match(reasons[DELETED] ?? '', /Invalid email or User ID|Gmail is not enabled for this mailbox, or its user was deleted/);

  const lake = await Lake.open(loadConfig({ ...env, DATA_DIR: join(temporal.dir, 'fleet-verify') }).lake);
  let total = 0;
  try {
    const users = emu.workspace!.users.map((u) => u.primaryEmail).filter((a) => !SUSPENDED.includes(a) && a !== UNDELEGATED);
    assert.equal(users.length, 11, 'the directory no longer lists the deleted user');
    for (const account of users) {
      const truth = listable(await manifest(emu, account));
      const rows = await lakeRows(lake, account);
      assert.equal(rows.distinct, rows.rows, `${account}: no duplicates`);
      assert.equal(rows.rows, truth.length, `${account}: every message stored`);
      total += rows.rows;
    }
  } finally {
    lake.close();
  }
  assert.equal(done.messages.persisted, total, 'the fleet counts what the lakes hold');
  const stats = Object.values(await emulatorStats(emu)) as { served: number; projectThrottled?: number }[];
  const served = stats.reduce((n, s) => n + s.served, 0);
  const projectThrottled = stats.reduce((n, s) => n + (s.projectThrottled ?? 0), 0);
  t.diagnostic(`${total} messages in 11 mailboxes; ${projectThrottled} of ${served} requests over the project quota`);
  // Gmail's 403s for a project are retried; a few may still come when the machine stalls past the headroom.
  assert.ok(projectThrottled <= served * 0.01, `the project quota was exceeded ${projectThrottled} times of ${served}`);
});

test('cancelling a fleet cancels its running extractions and waits for them', async () => {
  // New mail in two mailboxes the first fleet completed, so their extractions have work to be cancelled in.
  const accounts = ['user001@example.com', 'user002@example.com'];
  for (const a of accounts)
    await fetch(`${emu.url}_emulator/users/${a}/messages`, { method: 'POST', body: JSON.stringify({ count: 400 }) });
  const started = await call<{ id: string }>('POST', '/fleets', { accounts, format: 'raw', batchSize: 20, concurrency: 2 });
  assert.equal(started.status, 202);
  const id = encodeURIComponent(started.body.id);
  await waitFor('both extractions running', async () => (await call<Fleet>('GET', `/fleets/${id}`)).body.running?.length === 2);
  assert.equal((await call('POST', `/fleets/${id}/cancel`)).status, 202);
  const ended = await waitFor('the fleet canceled', async () => {
    const f = (await call<Fleet & { status: string }>('GET', `/fleets/${id}`)).body;
    return f.status === 'canceled' ? f : undefined;
  });
  assert.equal(ended.status, 'canceled');
  for (const a of accounts) {
    const x = await call<{ status: string }>('GET', `/extract/${encodeURIComponent(`gmail-extract-${a}`)}`);
    assert.equal(x.body.status, 'canceled', a);
  }
});

test('a fleet continues as new every N mailboxes and still ends with all of them', async () => {
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const client = new Client({ connection });
    // Mailboxes the first fleet completed: each extraction starts again and finds its lake current.
    const accounts = ['user005@example.com', 'user006@example.com', 'user007@example.com', 'user009@example.com', 'user010@example.com'];
    const handle = await client.workflow.start(fleetWorkflow, {
      workflowId: 'gmail-fleet-continue-as-new',
      taskQueue: 'fleet',
      args: [
        {
          request: { accounts, format: 'raw', batchSize: 50, concurrency: 2 },
          options: { pipelineDepth: 2, compactEvery: 0, events: false },
          childrenPerRun: 2,
        },
      ],
    });
    const result = await handle.result();
    assert.equal(result.mailboxes.completed, 5);
    assert.equal(result.runs, 3, 'two, two, then one mailbox per run');
  } finally {
    await connection.close();
  }
});

test('a fleet of a 20,000-user domain: its plan stored in the lake and read a page at a time; no event of any run over 64 KB', async (t) => {
  const USERS = 20_000;
  // A domain and a lake of its own: none of its mailboxes is one the tests above extracted.
  const domain = 'big.example';
  const owner = `admin@${domain}`;
  const big = await startTestEmulator({ seed: 'fleet-20k', owner, messages: 2, workspace: { domain, users: USERS } });
  const keyFile = join(temporal.dir, 'service-account-20k.json');
  writeFileSync(keyFile, JSON.stringify(big.workspace!.key), { mode: 0o600 });
  await postgres.createDatabase('fleet20k');
  const bigEnv = workerEnv(temporal.dir, temporal.address, 'fleet-20k', big, {
    GMAIL_CREDENTIALS_FILE: keyFile,
    GMAIL_DIRECTORY_ADMIN: owner,
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: postgres.dsn('fleet20k'),
    LAKE_DATA_PATH: join(temporal.dir, 'fleet-20k-files/'),
  });
  const worker = await startWorkerProcess(bigEnv);
  const connection = await Connection.connect({ address: temporal.address });
  t.after(async () => {
    await connection.close();
    await worker.stop();
    await big.close();
  });
  const client = new Client({ connection });
  const workflowId = 'gmail-fleet-20k';
  // Pages of 7 and runs of 12 mailboxes: pages end inside runs and runs inside pages.
  const handle = await client.workflow.start(fleetWorkflow, {
    workflowId,
    taskQueue: 'fleet-20k',
    args: [
      {
        request: { domain, format: 'metadata', batchSize: 50, concurrency: 4 },
        options: { pipelineDepth: 2, compactEvery: 0, events: false },
        childrenPerRun: 12,
        planPage: 7,
      },
    ],
  });
  let last: unknown;
  const progress = await waitFor(
    '30 mailboxes completed',
    async () => {
      const p = await handle.query(fleetProgressQuery).catch((e: unknown) => void (last = e));
      last = p ?? last;
      return p && p.mailboxes.completed >= 30 ? p : undefined;
    },
    300_000,
    500,
  ).catch((e: unknown) => {
    t.diagnostic(`last progress: ${JSON.stringify(last)}\nworker output (tail):\n${worker.output().slice(-3000)}`);
    throw e;
  });
  // The directory's users and its owner, every one planned; the order is the directory's.
  assert.equal(progress.mailboxes.total, USERS + 1);
  const { pending, running, completed, failed, canceled } = progress.mailboxes;
  assert.deepEqual(progress.failures, []);
  assert.equal(pending + running + completed + failed + canceled, USERS + 1, JSON.stringify(progress.mailboxes));
  assert.ok(progress.runs >= 3, `continued as new at least twice (runs: ${progress.runs})`);
  await handle.cancel();
  await assert.rejects(handle.result());

  const lake = await Lake.open(loadConfig({ ...bigEnv, DATA_DIR: join(temporal.dir, 'verify-20k') }).lake);
  try {
    const [plan] = await lake.query<{ n: number; first: string }>(
      `SELECT count(*)::INTEGER AS n, arg_min(account, seq) AS first FROM lake.fleet_mailboxes WHERE fleet LIKE $p`,
      { p: `${workflowId}/%` },
    );
    assert.deepEqual(plan, { n: USERS + 1, first: owner });
  } finally {
    lake.close();
  }
  // Every run's largest event (the planning's answer, a page, the continue-as-new state): far under Temporal's limits.
  const runs = await waitFor('every run listed', async () => {
    const r = await largestEvents(client, workflowId);
    return r.length >= progress.runs ? r : undefined;
  });
  t.diagnostic(`largest event per run: ${runs.map((r) => `${r.bytes} B (${r.type})`).join(', ')}`);
  for (const r of runs) assert.ok(r.bytes < 64 * 1024, `run ${r.runId}: an event of ${r.bytes} bytes (${r.type})`);
});
