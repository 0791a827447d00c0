/**
 * `npm run demo`: the whole product on the embedded default. Starts (or reuses) the Temporal dev server with its Web UI,
 * the Gmail emulator with a sample mailbox, a worker and the API; starts an extraction over HTTP; shows live progress;
 * then answers a few SQL questions from the lake. `--keep` leaves everything running until Ctrl-C.
 * Options: --messages N (default 3000), --quota off|legacy|2026 (default off), --format full|raw|metadata|minimal;
 * --resume continues the previous (interrupted) demo with its options instead of starting afresh;
 * --fleet N reads a Workspace domain of N mailboxes (one suspended) with a service account instead (--messages is then
 * each mailbox's size, default 100).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import cliProgress from 'cli-progress';
import { generateApiKey } from '../src/api-keys.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_CLIENT, startEmulator } from '../src/emulator/server.js';
import { loadCredentials } from '../src/gmail/auth.js';
import { startPipeline } from '../src/pipeline.js';
import { type DevServer, startDevServer } from '../src/stack/dev-server.js';
import type { syncWorkflow } from '../src/workflows/sync.js';
import { FLEET_DOMAIN, fleetSuspended, runFleetDemo } from './demo-fleet.js';
import type { ExtractionProgress } from '../src/workflows/contracts.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '3000' },
    quota: { type: 'string', default: 'off' },
    format: { type: 'string', default: 'full' },
    keep: { type: 'boolean', default: false },
    resume: { type: 'boolean', default: false },
    fleet: { type: 'string' },
  },
});

const fail = (line: string): never => {
  console.error(line);
  process.exit(1);
};
if (values.fleet !== undefined && !/^[1-9]\d{0,3}$/.test(values.fleet))
  fail(`--fleet must be a number of mailboxes (1-9999), got ${values.fleet}`);
if (values.fleet !== undefined && !process.argv.some((a) => a.startsWith('--messages'))) values.messages = '100';
if (!/^[1-9]\d*$/.test(values.messages)) fail(`--messages must be a positive whole number, got ${values.messages}`);
if (!['off', 'legacy', '2026'].includes(values.quota)) fail(`--quota must be off, legacy or 2026, got ${values.quota}`);
if (!['full', 'raw', 'metadata', 'minimal'].includes(values.format))
  fail(`--format must be full, raw, metadata or minimal, got ${values.format}`);
const dataDir = process.env.DATA_DIR ?? 'data/demo';
// One demo per data folder: a second one would share the lake and the Temporal database of the first.
const lockFile = join(dataDir, 'demo.pid');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
if (existsSync(lockFile)) {
  const pid = Number(readFileSync(lockFile, 'utf8'));
  if (pid !== process.pid && alive(pid)) {
    fail(`Another demo is running on ${dataDir} (pid ${pid}): stop it with Ctrl-C, or give this one its own DATA_DIR.`);
  }
}
// Each demo starts afresh (a new sample mailbox, an empty lake) unless --resume continues the interrupted one with
// its own options. Only a folder a demo made is ever emptied.
const optionsFile = join(dataDir, 'demo.json');
if (values.resume) {
  if (!existsSync(optionsFile)) fail(`--resume: no earlier demo in ${dataDir}; run without --resume to start one.`);
  const previous = JSON.parse(readFileSync(optionsFile, 'utf8')) as typeof values;
  Object.assign(values, { messages: previous.messages, quota: previous.quota, format: previous.format, fleet: previous.fleet });
  console.log(
    `Resuming the demo in ${dataDir} (--messages ${values.messages} --quota ${values.quota} --format ${values.format}${values.fleet ? ` --fleet ${values.fleet}` : ''})`,
  );
} else if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
  if (!existsSync(optionsFile)) fail(`${dataDir} holds files no demo wrote; give the demo an empty or new DATA_DIR.`);
  for (const entry of readdirSync(dataDir)) rmSync(join(dataDir, entry), { recursive: true, force: true });
}
mkdirSync(dataDir, { recursive: true });
writeFileSync(lockFile, String(process.pid));

// Ctrl-C at any moment, start-up included: stop what has started (the worker first: its batches in flight are
// cancelled, committed ones stay), close the lake, stop the servers this process started, exit 0.
const running: { name: string; stop: () => Promise<void> }[] = [];
let stopping = false;
const shutdown = async () => {
  for (const { stop } of running.reverse()) await stop();
  rmSync(lockFile, { force: true });
};
const interrupt = () => {
  if (stopping) return; // npm passes Ctrl-C on too: the same stop, not a second one
  stopping = true;
  console.log(`\nStopping (\`npm run demo -- --resume\` continues this ${values.fleet ? 'fleet' : 'extraction'} where it stopped)…`);
  shutdown().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(`Stopping failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
writeFileSync(optionsFile, JSON.stringify({ messages: values.messages, quota: values.quota, format: values.format, fleet: values.fleet }));
const fleetSize = values.fleet ? Number(values.fleet) : 0;

const messages = Number(values.messages);

// History ids from the clock: each demo's emulator is a fresh mailbox, and Gmail's history ids only ever grow.
const emulator = await startEmulator({
  seed: 'demo',
  messages,
  settings: { quota: values.quota as 'off' },
  historyIdBase: Date.now(),
  workspace: fleetSize ? { domain: FLEET_DOMAIN, users: fleetSize - 1, suspended: fleetSuspended(fleetSize) } : undefined,
});
running.push({ name: 'emulator', stop: () => emulator.close() });
const credentialsFile = `${dataDir}/emulator-credentials.json`;
// A fleet reads the domain with the service-account key the emulator generated; otherwise the owner's OAuth grant.
writeFileSync(
  credentialsFile,
  JSON.stringify(
    emulator.workspace?.key ?? {
      client_id: DEFAULT_CLIENT.clientId,
      client_secret: DEFAULT_CLIENT.clientSecret,
      refresh_token: DEFAULT_CLIENT.refreshToken,
    },
    null,
    2,
  ),
  { mode: 0o600 },
);
// A fresh admin key for this run: the API admits nobody without one.
const apiKey = generateApiKey('demo', 'admin');
const auth = { authorization: `Bearer ${apiKey.key}` };
const config = loadConfig({
  ...process.env,
  API_KEYS: [process.env.API_KEYS, apiKey.entry].filter(Boolean).join(','),
  DATA_DIR: dataDir,
  GOOGLE_API_URL: emulator.url,
  GMAIL_CREDENTIALS_FILE: credentialsFile,
  // The demo's own (empty) folder of per-mailbox sign-ins: mailboxes signed in with `gmail-lake login` (in
  // ~/.gmail-lake) would otherwise take precedence, and their refresh tokens would go to the emulator.
  GMAIL_CREDENTIALS_DIR: `${dataDir}/credentials`,
  ...(fleetSize ? { GMAIL_DIRECTORY_ADMIN: `user@${FLEET_DOMAIN}` } : {}),
  GMAIL_QUOTA_PROFILE: values.quota,
  API_PORT: process.env.API_PORT ?? '0',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});

let devServer: DevServer | undefined;
try {
  const c = await Connection.connect({ address: config.temporal.address, ...config.temporal.connection, connectTimeout: 1000 });
  await c.close();
  console.log(`Using the Temporal server already running at ${config.temporal.address}`);
} catch {
  devServer = await startDevServer({
    dbFile: `${config.dataDir}/temporal.db`,
    port: Number(config.temporal.address.split(':')[1]),
    uiPort: Number(new URL(config.temporal.uiUrl).port),
  });
  running.push({ name: 'temporal', stop: () => devServer!.stop() });
  console.log(`Started the Temporal dev server at ${devServer.address} (Web UI ${devServer.uiUrl})`);
}
const pipeline = await startPipeline(config, loadCredentials(credentialsFile));
running.push({ name: 'pipeline', stop: () => pipeline.stop() });
const mailboxNote = fleetSize ? `${fleetSize} mailboxes of about ${messages} messages` : `${messages} messages`;
console.log(`Gmail emulator ${emulator.url} (${mailboxNote}), API ${pipeline.url} (docs ${pipeline.url}/docs)`);
console.log(`Dashboard ${pipeline.url}/ui (paste the key below)`);
console.log(`API key of this run (admin): ${apiKey.key}\n  e.g. curl -H 'Authorization: Bearer ${apiKey.key}' ${pipeline.url}/extract\n`);

if (fleetSize) {
  await runFleetDemo(pipeline, auth, { size: fleetSize, format: values.format, isStopping: () => stopping });
  console.log(`\nTemporal Web UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
  if (values.keep) {
    console.log('\n--keep: everything stays up; Ctrl-C stops it.');
    await new Promise(() => undefined);
  }
  stopping = true;
  await shutdown();
  process.exit(0);
}

const account = 'user@example.com';
if (!values.resume && !devServer) {
  // A Temporal server this demo did not start may still run an earlier demo's extraction of the sample mailbox: a
  // fresh demo ends it rather than silently joining it with its old settings.
  await pipeline.client.workflow
    .getHandle(`gmail-extract-${account}`)
    .terminate('a new `npm run demo` starts afresh')
    .catch(() => undefined);
}

const res = await fetch(`${pipeline.url}/extract`, {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  // The whole mailbox (SPAM and TRASH included): on completion it hands its historyId to the mirror.
  body: JSON.stringify({ account, format: values.format, includeSpamTrash: true }),
});
const started = (await res.json()) as { id: string; statusUrl: string };
console.log(`POST /extract → ${res.status} ${JSON.stringify(started)}`);

const bar = new cliProgress.SingleBar(
  {
    format: ' {bar} {percentage}% | {value}/{total} messages | {rate} msg/s | ETA {eta_s}s | {phase}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 2000,
  },
  cliProgress.Presets.shades_classic,
);
bar.start(1, 0, { rate: 0, phase: 'preparing', eta_s: '?' });
let status: ExtractionProgress;
for (;;) {
  // Once Ctrl-C is handled the API goes away: the shutdown ends the process, this loop just waits for it. It stops
  // polling at once: a poll every 500 ms keeps its keep-alive connection busy, and the API server's close (which waits
  // for open connections) would never finish, leaving the worker running.
  if (stopping) await new Promise(() => undefined);
  const polled = await fetch(`${pipeline.url}${started.statusUrl}`, { headers: auth }).catch((e: unknown) => {
    if (stopping) return undefined;
    throw e;
  });
  if (!polled) await new Promise(() => undefined);
  status = (await polled!.json()) as ExtractionProgress;
  const done = status.progress.persisted + status.progress.present + status.progress.skipped;
  bar.setTotal(Math.max(status.progress.total, 1));
  bar.update(done, { rate: status.ratePerSecond, phase: status.phase, eta_s: status.etaSeconds ?? '?' });
  if (status.status !== 'running' && status.status !== 'paused') break;
  await new Promise((r) => setTimeout(r, 500));
}
bar.stop();
console.log(
  `\nExtraction ${status.status}: ${status.progress.persisted} persisted, ${status.progress.skipped} skipped, ${status.progress.malformed} malformed (stored with parse_error), ${status.runs} workflow run(s)${status.error ? `, error: ${status.error}` : ''}\n`,
);

const show = async (title: string, sql: string) => {
  console.log(`-- ${title}`);
  console.table(await pipeline.lake.query(sql));
};
await show(
  'Top senders',
  `SELECT from_address, count(*)::INTEGER AS messages FROM lake.messages WHERE account = '${account}' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
);
await show(
  'Messages per month (latest 6)',
  `SELECT strftime(date_trunc('month', internal_date), '%Y-%m') AS month, count(*)::INTEGER AS messages FROM lake.messages WHERE account = '${account}' GROUP BY 1 ORDER BY 1 DESC LIMIT 6`,
);
await show(
  'Attachments by type',
  `SELECT mime_type, count(*)::INTEGER AS n, round(sum(size) / 1e6, 1) AS mb FROM lake.attachments WHERE account = '${account}' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
);
// The mailbox changes in "Gmail" (the emulator's control endpoints); one sync brings the lake up to date.
if (status.status === 'completed') {
  const control = (path: string, body: unknown) =>
    fetch(`${emulator.url}_emulator/users/${account}/${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
  // 40 messages of the mailbox, picked at random.
  const ids = (await (await fetch(`${emulator.url}_emulator/users/${account}/manifest`)).text())
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id)
    .sort(() => Math.random() - 0.5)
    .slice(0, 40);
  await control('messages', { count: 20 });
  await control('messages/batchDelete', { ids: ids.slice(0, 10) });
  await control('messages/batchModify', { ids: ids.slice(10), add: ['STARRED'], remove: ['UNREAD'] });
  console.log('\nIn the mailbox: 20 messages added, 10 deleted, 30 starred and read. POST /mailboxes/:account/sync …');
  const sync = (await (await fetch(`${pipeline.url}/mailboxes/${account}/sync`, { method: 'POST', headers: auth })).json()) as {
    id: string;
    runId: string;
  };
  const result = await pipeline.client.workflow.getHandle<typeof syncWorkflow>(sync.id, sync.runId).result();
  console.log(
    `Sync ${result.status} by ${result.mode}${result.reason ? ` (${result.reason})` : ''}: changes ${JSON.stringify(result.changes)}, quota units ${JSON.stringify(result.units)}`,
  );
  await show(
    'Changes applied by the sync',
    `SELECT kind, count(*)::INTEGER AS n FROM lake.message_changes WHERE account = '${account}' AND applied_at >= TIMESTAMP '${result.startedAt.replace('T', ' ').replace('Z', '')}' GROUP BY 1 ORDER BY 1`,
  );
}
await show('Data files in the lake', `SELECT count(*)::INTEGER AS parquet_files FROM ducklake_list_files('lake', 'messages')`);

// What the user can type next: the lake stays after the demo ends; the servers only with --keep.
console.log(
  `\nThe lake stays in ${config.dataDir} (read it even while an extraction writes it):\n` +
    `  DATA_DIR=${dataDir} npx gmail-lake query "SELECT from_address, count(*) AS n FROM messages GROUP BY 1 ORDER BY 2 DESC LIMIT 5"\n` +
    `  Python (pip install duckdb==1.5.5): see docs/lake.md`,
);
if (values.keep) {
  console.log(
    `\nWhile it runs:\n  Temporal Web UI  ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(started.id)} (progress under "User Metadata")\n` +
      `  Dashboard        ${pipeline.url}/ui\n` +
      `  Keep it current  GMAIL_LAKE_API_URL=${pipeline.url} GMAIL_LAKE_API_KEY=${apiKey.key} npx gmail-lake schedule set ${account} --every 15m`,
  );
} else console.log('\nYour own mailbox next: README, "Your own mailbox in three commands".');
if (values.keep) console.log('\n--keep: everything stays up; Ctrl-C stops it.');
else {
  stopping = true;
  await shutdown();
}
