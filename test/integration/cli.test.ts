/**
 * The `gmail-lake` command end to end, as a person uses it on one machine: `up --emulator` starts real processes
 * (Temporal dev server, the emulator playing Google, a worker, the API), `login` signs the mailbox in, `extract` runs
 * in a pseudo-terminal with its progress bar, Ctrl-C detaches while the extraction keeps running, `query` reads the
 * lake while it is written, `status` re-attaches, `doctor` names a broken credential and a stopped Temporal, `down`
 * stops it all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { StackState } from '../../src/cli/settings.js';
import type { ExtractionProgress } from '../../src/workflows/extraction.js';
import { cli, cliJson, consent, inTerminal, signInUrl, startCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';

const OWNER = 'user@example.com';
let home: string;
let env: Record<string, string>;
let stack: StackState;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'gmail-lake-cli-'));
  env = { GMAIL_LAKE_HOME: home, LOG_LEVEL: 'warn' };
  const up = await cliJson<StackState & { already: boolean }>(
    ['up', '--emulator', '--messages', '1200', '--temporal-port', String(await freePort())],
    env,
  );
  assert.equal(up.code, 0, `${up.stderr}${JSON.stringify(up.body)}`);
  stack = up.body;
});
after(async () => {
  const down = await cli(['down'], env);
  assert.equal(down.code, 0, down.stderr);
  for (const p of Object.values(stack?.processes ?? {})) assert.ok(!alive(p.pid), `pid ${p.pid} stopped`);
  rmSync(home, { recursive: true, force: true });
});

test('up says where everything is, and a second up finds it running', async () => {
  assert.match(stack.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(Object.keys(stack.processes).sort(), ['api', 'emulator', 'temporal', 'worker']);
  const again = await cliJson<{ already: boolean }>(['up', '--emulator'], env);
  assert.equal(again.body.already, true);
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as Record<string, string>;
  assert.equal(config['api-url'], stack.apiUrl, 'the command now drives the stack it started');
});

test('login, then extract on a terminal: a live bar, Ctrl-C detaches and the extraction keeps running; query reads meanwhile; status re-attaches', async () => {
  const login = startCli(['login', '--no-browser'], env);
  login.child.stdin?.write(`${await consent(await signInUrl(login), OWNER, 'allow')}\n`);
  const signedIn = await login.done;
  assert.equal(signedIn.code, 0, signedIn.stderr);

  const term = inTerminal(['extract'], env);
  await waitFor(
    'a progress bar with messages done',
    async () => /█+░*\s+\d+% \| [1-9][\d,]*\/[\d,]+ messages \| [\d.]+ msg\/s \| ETA/.test(term.output()),
    60_000,
    100,
  );
  term.ctrlC();
  const detached = await term.done;
  assert.equal(detached.code, 0, detached.output);
  assert.match(detached.output, /Detached: the extraction of user@example\.com keeps running\./);
  assert.match(detached.output, /re-attach\s+gmail-lake status user@example\.com/);

  const before = await cliJson<ExtractionProgress>(['status', '--once'], env);
  assert.equal(before.body.status, 'running');
  const rows = await cliJson<{ n: number }[]>(['query', 'SELECT count(*) AS n FROM messages'], env);
  assert.equal(rows.code, 0, rows.stderr);
  assert.ok(rows.body[0]!.n > 0 && Number.isInteger(rows.body[0]!.n), `the lake reads while it is written: ${JSON.stringify(rows.body)}`);
  await waitFor('the detached extraction to go on', async () => {
    const now = await cliJson<ExtractionProgress>(['status', '--once'], env);
    return now.body.progress.persisted > before.body.progress.persisted;
  });

  const reattached = inTerminal(['status'], env);
  const followed = await reattached.done;
  assert.equal(followed.code, 0, followed.output);
  assert.match(followed.output, /█{40} 100% \|/);
  assert.match(followed.output, /Completed: [\d,]+ new messages/);

  const manifest = (await (await fetch(`${stack.googleApiUrl}_emulator/users/${OWNER}/manifest`)).text()).split('\n').filter(Boolean);
  const counted = await cliJson<{ n: number; distinct: number }[]>(
    ['query', 'SELECT count(*) AS n, count(DISTINCT id) AS distinct FROM messages'],
    env,
  );
  assert.deepEqual(counted.body, [{ n: manifest.length, distinct: manifest.length }], 'the whole mailbox, each message once');
  const csv = await cli(['query', 'SELECT id FROM messages ORDER BY id LIMIT 2', '--csv'], env);
  assert.match(csv.stdout, /^id\n[0-9a-f]+\n[0-9a-f]+\n$/);
});

test('doctor names a broken credential and a stopped Temporal, with the fix; commands then say Temporal is unreachable', async () => {
  const file = join(home, 'credentials', `${OWNER}.json`);
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  writeFileSync(file, JSON.stringify({ ...stored, refresh_token: '1//not-a-token' }), { mode: 0o600 });
  const broken = await cliJson<{ checks: { name: string; ok: boolean; fix?: string }[] }>(['doctor'], env);
  assert.equal(broken.code, 1);
  const account = broken.body.checks.find((c) => c.name === `account ${OWNER}`)!;
  assert.equal(account.ok, false);
  assert.match(account.fix!, /gmail-lake login user@example\.com/);
  assert.ok(broken.body.checks.find((c) => c.name === 'Temporal')!.ok);

  process.kill(-stack.processes.temporal!.pid, 'SIGTERM');
  await waitFor('Temporal to stop', async () => !alive(stack.processes.temporal!.pid));
  const stopped = await cliJson<{ checks: { name: string; ok: boolean; detail: string; fix?: string }[] }>(['doctor'], env);
  const temporal = stopped.body.checks.find((c) => c.name === 'Temporal')!;
  assert.equal(temporal.ok, false);
  assert.match(temporal.detail, /no Temporal server answers at 127\.0\.0\.1:\d+/);
  assert.match(temporal.fix!, /gmail-lake up/);
  const status = await cli(['status', OWNER, '--once'], env);
  assert.equal(status.code, 3, status.stderr);
  assert.match(status.stderr, /Temporal cannot be reached/);
});
