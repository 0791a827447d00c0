/**
 * `npx tsx scripts/record-histories.ts NAME`: runs a small extraction with the workflow code of this checkout against
 * a real Temporal dev server and the emulator (pause and resume signals, several continue-as-new runs, a completed
 * end that hands over to the mirror and creates its schedule), one that fails when its mailbox's refresh token is
 * revoked (per-mailbox credentials, lifecycle events on), syncs (by history, by reconciliation, from the schedule), a
 * fleet of three mailboxes (paused and resumed), one cancelled while its batches run, a lifecycle event's delivery,
 * and writes every run's history to
 * test/replay/histories/NAME-<workflow>-runN.json (with `--imports-only`, only two mbox imports: one whole, one cut short;
 * with `--sync-push-only`, only syncs told of changes by push, as NAME-syncWorkflow-pushN.json). Run it before changing the workflow code of a deployed version,
 * commit the files, and the replay test (test/replay) then proves the new code still replays what the old code wrote.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GeneratedMailbox, USER_LABELS } from '../src/emulator/generate.js';
import { labelsHeader, mboxEntry } from '../src/export/takeout.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CredentialStore } from '../src/gmail/credential-store.js';
import { execFileSync } from 'node:child_process';
import { toolPath } from '../src/stack/tools.js';
import { startPipeline } from '../src/pipeline.js';
import { authHeaders, credentials, startTestEmulator, startTestTemporal, testConfig } from '../test/helpers/stack.js';
import { waitFor } from '../test/helpers/ports.js';
import { runPushScenario } from '../test/helpers/sync-scenarios.js';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';

const name = process.argv[2];
/** `--imports-only`: only the imports' histories (a workflow added after the others were recorded). */
const importsOnly = process.argv.includes('--imports-only');
/** `--sync-push-only`: only syncs told of changes by push (over mocked activities: see test/helpers/sync-scenarios.ts). */
const syncPushOnly = process.argv.includes('--sync-push-only');
if (!name || !/^[\w-]+$/.test(name)) {
  console.error('usage: npx tsx scripts/record-histories.ts NAME [--imports-only]   (NAME: letters, digits, - and _)');
  process.exit(2);
}
const outDir = new URL('../test/replay/histories/', import.meta.url);
mkdirSync(outDir, { recursive: true });

const temporal = await startTestTemporal({ 'limit.historyCount.suggestContinueAsNew': 60 });
/** Writes the history of every closed run the query finds, as `NAME-<type>-<label>N.json`. */
async function writeHistories(client: Client, query: string, label = 'run') {
  const n: Record<string, number> = {};
  for await (const w of client.workflow.list({ query })) {
    // Every event's delivery is the same short workflow: two of them are enough.
    if (w.type === 'deliverEventWorkflow' && (n[w.type] ?? 0) >= 2) continue;
    // The CLI writes the standard JSON history format (what historyFromJSON and other SDKs' replayers read).
    const json = execFileSync(
      toolPath('temporal', 'TEMPORAL_CLI'),
      ['workflow', 'show', '--workflow-id', w.workflowId, '--run-id', w.runId, '--output', 'json', '--address', temporal.address],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    n[w.type] = (n[w.type] ?? 0) + 1;
    const file = new URL(`${name}-${w.type}-${label}${n[w.type]}.json`, outDir);
    writeFileSync(file, json);
    console.log(`wrote ${file.pathname} (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
  }
}
if (syncPushOnly) {
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: temporal.address });
  try {
    await runPushScenario(env.nativeConnection, env.client, 'record-sync-push', {
      startSignal: '105',
      duringPage: ['115'],
      duringRecord: ['120'],
      trailingReadMs: 60_000,
    });
    await waitFor(
      'the runs visible as closed',
      async () => {
        let closed = 0;
        for await (const w of env.client.workflow.list()) if (w.status.name !== 'RUNNING') closed++;
        return closed >= 2;
      },
      10_000,
    );
    await writeHistories(env.client, `ExecutionStatus != 'Running'`, 'push');
  } finally {
    await env.teardown();
    await temporal.stop();
  }
  process.exit(0);
}
const REVOKED = 'revoked@example.com';
const emu = await startTestEmulator({
  messages: 900,
  settings: { faults: { latencyMs: 2, error500: 0.02 } },
  refreshTokens: { [credentials.refresh_token]: '*', 'replay-revoked-token': REVOKED },
});
// A subscriber that takes every lifecycle event, so the histories carry their deliveries.
const hook = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
const config = testConfig(temporal, emu, {
  GMAIL_FETCH_CONCURRENCY: '4',
  // A compaction every 5 batches, so the extractions' histories carry compactions beside their batches.
  LAKE_COMPACT_EVERY: '5',
  WEBHOOK_URLS: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
  WEBHOOK_SECRET: 'whsec-record-0123456789',
});
new CredentialStore(config.gmail.credentialsDir).write({
  type: 'authorized_user',
  account: REVOKED,
  client_id: credentials.client_id,
  client_secret: credentials.client_secret,
  refresh_token: 'replay-revoked-token',
});
const p = await startPipeline(config, credentials);
/** Starts an extraction of `account` (batches of 50); answers a function that reads its progress. */
async function extract(account: string) {
  const started = await fetch(`${p.url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ account, batchSize: 50 }),
  });
  const { id } = (await started.json()) as { id: string };
  return async () =>
    (await (await fetch(`${p.url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as {
      id: string;
      status: string;
      progress: { persisted: number };
    };
}
/** Imports a Takeout mbox of `messages` generated messages (chunks of 64 KB: several per run), then one cut short. */
async function imports(messages: number) {
  const mailbox = new GeneratedMailbox('replay-import', messages, 'user@example.com');
  const names = new Map(USER_LABELS.map((l) => [l.id, l.name]));
  const file = join(temporal.dir, 'replay.mbox');
  writeFileSync(
    file,
    Buffer.concat(
      Array.from({ length: messages }, (_, i) => {
        const m = mailbox.meta(i);
        const entry = mboxEntry(
          { id: m.id, threadId: m.threadId, internalDate: m.internalDate, labels: labelsHeader(m.labelIds, names) },
          mailbox.raw(i),
        );
        return Buffer.concat(entry.map((x) => Buffer.from(x)));
      }),
    ),
  );
  const cut = join(temporal.dir, 'cut.mbox');
  writeFileSync(cut, readFileSync(file).subarray(0, Math.floor(readFileSync(file).length / 2)));
  for (const path of [file, cut]) {
    const r = await fetch(`${p.url}/imports`, {
      method: 'POST',
      headers: { ...authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'imported@example.com', path, chunkBytes: 64 * 1024 }),
    });
    const { id } = (await r.json()) as { id: string };
    await waitFor(
      `import ${path}`,
      async () =>
        ((await (await fetch(`${p.url}/imports/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as { status: string })
          .status !== 'running',
      120_000,
    );
  }
}
try {
  await imports(200);
  if (!importsOnly) {
    // An extraction that fails when its mailbox's refresh token is revoked (auth_expired, then failed).
    const revokedStatus = await extract(REVOKED);
    await waitFor('100 persisted', async () => (await revokedStatus()).progress.persisted >= 100);
    await fetch(`${emu.url}_emulator/tokens/revoke`, { method: 'POST', body: JSON.stringify({ refresh_token: 'replay-revoked-token' }) });
    await fetch(`${emu.url}_emulator/tokens/expire`, { method: 'POST' });
    await waitFor('the revoked extraction failed', async () => (await revokedStatus()).status === 'failed');

    const res = await fetch(`${p.url}/extract`, {
      method: 'POST',
      headers: { ...authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'replay@example.com', batchSize: 50, includeSpamTrash: true, keepInSync: '1h' }),
    });
    const { id } = (await res.json()) as { id: string };
    const status = async () =>
      (await (await fetch(`${p.url}/extract/${id}`, { headers: authHeaders })).json()) as {
        status: string;
        progress: { persisted: number };
      };
    await waitFor('200 persisted', async () => (await status()).progress.persisted >= 200);
    await fetch(`${p.url}/extract/${id}/pause`, { method: 'POST', headers: authHeaders });
    await waitFor('paused', async () => (await status()).status === 'paused');
    await fetch(`${p.url}/extract/${id}/resume`, { method: 'POST', headers: authHeaders });
    await waitFor('completed', async () => (await status()).status === 'completed', 180_000).catch(async (e: unknown) => {
      console.error(JSON.stringify(await status()));
      throw e;
    });
    // Syncs: one by history (after changes), one by reconciliation (history expired), one started by the schedule.
    const control = (path: string, body?: unknown) =>
      fetch(`${emu.url}_emulator/users/replay@example.com/${path}`, { method: 'POST', body: body ? JSON.stringify(body) : undefined });
    const syncOnce = async () => {
      const r = (await (await fetch(`${p.url}/mailboxes/replay@example.com/sync`, { method: 'POST', headers: authHeaders })).json()) as {
        id: string;
        runId: string;
      };
      await p.client.workflow.getHandle(r.id, r.runId).result();
    };
    await control('messages', { count: 30 });
    await syncOnce();
    await control('history/expire');
    await syncOnce();
    execFileSync(toolPath('temporal', 'TEMPORAL_CLI'), [
      'schedule',
      'trigger',
      '--schedule-id',
      'gmail-sync-replay@example.com',
      '--address',
      temporal.address,
    ]);
    await waitFor(
      'the scheduled sync',
      async () => (await p.client.workflow.count(`WorkflowType = 'scheduledSyncWorkflow' AND ExecutionStatus = 'Completed'`)).count > 0,
    );
    // A fleet of three mailboxes, two at a time, paused and resumed while its children run.
    const fleet = (await (
      await fetch(`${p.url}/fleets`, {
        method: 'POST',
        headers: { ...authHeaders, 'content-type': 'application/json' },
        body: JSON.stringify({
          accounts: ['fleet1@example.com', 'fleet2@example.com', 'fleet3@example.com'],
          format: 'metadata',
          batchSize: 50,
          maxMessages: 150,
          concurrency: 2,
        }),
      })
    ).json()) as { id: string };
    const fleetStatus = async () =>
      (await (await fetch(`${p.url}/fleets/${fleet.id}`, { headers: authHeaders })).json()) as {
        status: string;
        mailboxes: { running: number };
      };
    await waitFor('fleet children running', async () => (await fleetStatus()).mailboxes.running > 0);
    await fetch(`${p.url}/fleets/${fleet.id}/pause`, { method: 'POST', headers: authHeaders });
    await waitFor('fleet paused', async () => (await fleetStatus()).status === 'paused');
    await fetch(`${p.url}/fleets/${fleet.id}/resume`, { method: 'POST', headers: authHeaders });
    await waitFor('fleet completed', async () => (await fleetStatus()).status === 'completed', 180_000);
    // An extraction cancelled while its batches run: the run waits for them before it records its end.
    const cancelledStatus = await extract('cancel@example.com');
    await waitFor('100 persisted', async () => (await cancelledStatus()).progress.persisted >= 100);
    await fetch(`${p.url}/extract/${encodeURIComponent((await cancelledStatus()).id)}/cancel`, { method: 'POST', headers: authHeaders });
    await waitFor('cancelled', async () => (await cancelledStatus()).status === 'canceled');
  }
  await writeHistories(p.client, `ExecutionStatus != 'Running'`);
} finally {
  await p.stop();
  await emu.close();
  await temporal.stop();
  hook.close();
}
