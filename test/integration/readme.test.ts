/**
 * Every command the README and docs/ tell a user to type, run as written, in the order a user would: the Quick start
 * demo and the commands it closes with; "Try every step first" against the emulator — `up --emulator`, `login`,
 * `extract` in a pseudo-terminal with Ctrl-C, the API's `curl` and `temporal` examples and the lake readers while it
 * runs, `status` re-attaching, `query`, `accounts`, `doctor` (also naming a broken token and a stopped Temporal),
 * `down`; and the real-Google steps with the emulator playing Google (GOOGLE_API_URL), their addresses and file names
 * substituted. The last test fails when a documented command was run by none of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StackState } from '../../src/cli/settings.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { projectRoot } from '../../src/stack/tools.js';
import { type CliRun, consent, docBlocks, shell, shellInTerminal } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';

const DOCS = ['README.md', ...readdirSync(join(projectRoot, 'docs')).map((f) => `docs/${f}`)];
const blocks = DOCS.flatMap((f) => docBlocks(f, readFileSync(join(projectRoot, f), 'utf8')));
/** What a user is told to type: every shell block, and the `gmail-lake` lines of text blocks (real Google's steps). */
const documented = blocks.flatMap((b) =>
  b.lang === 'sh'
    ? b.commands.map((c) => ({ file: b.file, command: c }))
    : b.lang === 'text'
      ? b.commands.filter((c) => c.includes('npx gmail-lake')).map((c) => ({ file: b.file, command: c }))
      : [],
);
/** Run elsewhere, with the reason. */
const COVERED_ELSEWHERE: Record<string, string> = {
  'npm test': 'the suite this test belongs to',
  'npm install && npm run demo': '`npm install` installed this checkout; `npm run demo` runs below',
  'npm run temporal -- workflow show --workflow-id gmail-extract-user@example.com --codec-endpoint "$API/codec" --codec-auth "Bearer $KEY"':
    'test/integration/codec.test.ts runs `temporal workflow show` with a codec endpoint and key against an encrypted history (checked below)',
};
const ran = new Set<string>();
/** The commands of the block of `file` whose first command starts with `first` (is `first`, with `exact`). */
const block = (file: string, first: string, exact = false) => {
  const b = blocks.find((x) => x.file === file && (exact ? x.commands[0] === first : x.commands[0]?.startsWith(first)));
  assert.ok(b, `${file} has a block starting ${first}`);
  return b.commands;
};
/** Runs a documented command (after `substitute`) with bash; marks it run. */
async function run(command: string, env: Record<string, string>, stdin?: string, substitute = (c: string) => c): Promise<CliRun> {
  const r = await shell(substitute(command), env, stdin);
  ran.add(command);
  return r;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** A running `login` answered as the browser would: the consent page allowed, the address it lands on pasted back. */
async function loginAnswered(command: string, env: Record<string, string>, account: string, substitute = (c: string) => c) {
  const { spawn } = await import('node:child_process');
  const child = spawn('bash', ['-c', substitute(command)], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await waitFor('the sign-in address', async () => /(http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/\S+)/.exec(err)?.[1], 60_000, 100);
  child.stdin.write(`${await consent(url, account, 'allow')}\n`);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  ran.add(command);
  return { code, stdout: out, stderr: err };
}

describe('Quick start: npm run demo, then the commands it closes with', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-demo-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  test('the demo completes and every command it prints at its end works', async () => {
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    const env = {
      DATA_DIR: join(dir, 'demo'),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
      GMAIL_LAKE_HOME: join(dir, 'home'),
    };
    const demo = await shell('npm run demo', env);
    ran.add('npm install && npm run demo');
    assert.equal(demo.code, 0, demo.stdout.slice(-3000) + demo.stderr.slice(-3000));
    assert.match(demo.stdout, /Extraction completed: 3000 persisted/);
    const closing = demo.stdout.slice(demo.stdout.indexOf('The lake stays in'));
    const commands = closing.split('\n').filter((l) => /^\s+DATA_DIR=/.test(l));
    assert.equal(commands.length, 1, closing);
    const query = await shell(commands[0]!.trim(), { GMAIL_LAKE_HOME: env.GMAIL_LAKE_HOME });
    assert.equal(query.code, 0, query.stderr);
    assert.match(query.stdout, /from_address[\s\S]*\(5 rows\)/);
    assert.doesNotMatch(closing, /curl|Web UI|duckdb -c/, 'nothing that needs the servers the demo has stopped');
  });
});

describe('README, "Try every step first, against the emulator playing Google", with the docs examples while it runs', () => {
  const home = mkdtempSync(join(tmpdir(), 'gmail-lake-walk-'));
  let env: Record<string, string>;
  let stack: StackState;
  const walk = block('README.md', 'npx gmail-lake up --emulator');
  before(async () => {
    env = {
      GMAIL_LAKE_HOME: home,
      GMAIL_LAKE_TEMPORAL_PORT: String(await freePort()),
      API_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    };
  });
  after(async () => {
    // Whatever happened above, nothing is left running.
    await shell('npx gmail-lake down', env);
    for (const p of Object.values(stack?.processes ?? {})) assert.ok(!alive(p.pid), `pid ${p.pid} stopped`);
    rmSync(home, { recursive: true, force: true });
  });

  test('the walk, command by command', async () => {
    assert.deepEqual(
      walk.map((c) => c.split(' ').slice(0, 3).join(' ')),
      [
        'npx gmail-lake up',
        'npx gmail-lake login',
        'npx gmail-lake extract',
        'npx gmail-lake status',
        'npx gmail-lake query',
        'npx gmail-lake accounts',
        'npx gmail-lake doctor',
        'npx gmail-lake down',
      ],
      'the README walk this test follows',
    );
    const [up, login, extract, status, query, accounts, doctor] = walk;
    const started = await run(up!, env);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /The stack is up\.[\s\S]*Next: gmail-lake login --client-file /);
    stack = JSON.parse(readFileSync(join(home, 'data', 'stack.json'), 'utf8')) as StackState;

    const signedIn = await loginAnswered(login!, env, 'user@example.com');
    assert.equal(signedIn.code, 0, signedIn.stderr);
    assert.match(signedIn.stdout, /Signed in as user@example\.com/);

    const term = shellInTerminal(extract!, env);
    await waitFor(
      'a progress bar with messages done',
      async () => /█+░*\s+\d+% \| [1-9][\d,]*\/[\d,]+ messages \| [\d.]+ msg\/s \| ETA/.test(term.output()),
      90_000,
      100,
    );
    term.ctrlC();
    const detached = await term.done;
    ran.add(extract!);
    assert.equal(detached.code, 0, detached.output);
    assert.match(
      detached.output,
      /Detached: the extraction of user@example\.com keeps running\.\s+re-attach\s+gmail-lake status user@example\.com/,
    );

    // The docs' examples against the running extraction: HTTP, the temporal CLI, the lake's readers.
    const curlCommands = block('docs/api.md', 'API=$(npx gmail-lake config get api-url)');
    const curl = await shell(curlCommands.join('\n'), env);
    curlCommands.forEach((c) => ran.add(c));
    assert.equal(curl.code, 0, curl.stderr);
    assert.match(curl.stdout, /"created":false[\s\S]*"status":"running"/, 'POST joins the running extraction; GET shows it');
    const temporalCommands = block('docs/api.md', 'npm run temporal -- workflow signal');
    const temporalEnv = { ...env, TEMPORAL_ADDRESS: stack.temporalAddress };
    const signals = await shell(temporalCommands.join(' && '), temporalEnv);
    temporalCommands.forEach((c) => ran.add(c));
    assert.equal(signals.code, 0, signals.stderr);
    assert.match(signals.stdout, /"status": ?"paus(ing|ed)"/, 'the progress query between pause and resume says so');
    // Held paused while the docs' readers run (they read the lake as it is), so that `status` below follows a running
    // extraction to its end however long they take on a loaded machine.
    const held = await shell('npx gmail-lake pause user@example.com', env);
    assert.equal(held.code, 0, held.stderr);
    const readers = block('docs/lake.md', 'npx gmail-lake query');
    for (const r of readers) {
      const out = await run(r, env);
      assert.equal(out.code, 0, out.stderr);
    }
    // Search as Gmail's search box, while the extraction writes the lake.
    for (const c of block('docs/lake.md', 'npx gmail-lake search')) {
      const out = await run(c, env);
      assert.equal(out.code, 0, out.stderr);
      if (c.includes('--json')) assert.ok(Array.isArray((JSON.parse(out.stdout) as { messages: unknown }).messages), c);
      else assert.match(out.stdout, /\((\d+)( shown)?, (best match first|newest first[^;)]*)(; more with --cursor \S+)?\)/, c);
    }
    // Export: this walk extracted in the default format (full), which keeps no bytes to export: each command says so,
    // listing the messages, and exits 1 (search.test.ts exports a raw lake byte for byte).
    for (const c of block('docs/lake.md', 'npx gmail-lake export')) {
      const out = await run(c, env, undefined, (x) =>
        x.replace('mail.mbox', join(home, 'mail.mbox')).replace('attachments-mail', join(home, 'attachments-mail')),
      );
      assert.equal(out.code, 1, `${c}: ${out.stderr}`);
      assert.match(out.stdout, /Not exportable: [\d,]+ stored without their bytes \(extract with --format raw to keep them\)/, c);
    }
    const python = block('docs/lake.md', 'python3 - <<');
    const py = await run(python[0]!, { ...env, PATH: `${join(projectRoot, '.tools/py/bin')}:${process.env.PATH}` });
    assert.equal(py.code, 0, py.stderr);
    assert.match(py.stdout, /from_address\s+│\s+n/, 'Python reads the lake while it is written');

    const resumed = await shell('npx gmail-lake resume user@example.com', env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const followed = shellInTerminal(status!, env);
    const completed = await followed.done;
    ran.add(status!);
    assert.equal(completed.code, 0, completed.output);
    assert.match(completed.output, /█{40} 100% \|[\s\S]*Completed: [\d,]+ new messages/);
    // Import what the export wrote (no message: none had its bytes): the workflow reads the file and completes. After
    // the extraction's end, which the status above follows while it runs.
    for (const c of block('docs/lake.md', 'npx gmail-lake import')) {
      const out = await run(c, env, undefined, (x) => x.replace('mail.mbox', join(home, 'mail.mbox')));
      assert.equal(out.code, 0, `${c}: ${out.stderr}`);
      assert.match(out.stdout, /Imported: 0 messages read/, c);
    }

    const counted = await run(query!, env);
    assert.equal(counted.code, 0, counted.stderr);
    const manifest = (await (await fetch(`${stack.googleApiUrl}_emulator/users/user@example.com/manifest`)).text())
      .split('\n')
      .filter(Boolean);
    assert.match(counted.stdout, new RegExp(`│ ${manifest.length}\\s+│ \\d+\\s+│`), `the whole mailbox: ${manifest.length} messages`);
    const listed = await run(accounts!, env);
    assert.match(listed.stdout, /user@example\.com {2}valid/);
    const healthy = await run(doctor!, env);
    assert.equal(healthy.code, 0, healthy.stdout);
    assert.match(healthy.stdout, /All \d+ checks passed/);
  });

  test('doctor names a broken token and a stopped Temporal with their fixes; commands then say Temporal is unreachable; down stops it all', async () => {
    const file = join(home, 'credentials', 'user@example.com.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...stored, refresh_token: '1//not-a-token' }), { mode: 0o600 });
    const broken = await shell('npx gmail-lake doctor', env);
    assert.equal(broken.code, 1);
    assert.match(
      broken.stdout,
      /✘ account user@example\.com expired or revoked[\s\S]*fix: sign it in again: `gmail-lake login user@example\.com`/,
    );
    process.kill(-stack.processes.temporal!.pid, 'SIGTERM');
    await waitFor('Temporal to stop', async () => !alive(stack.processes.temporal!.pid));
    const stopped = await shell('npx gmail-lake doctor --json', env);
    const temporal = (JSON.parse(stopped.stdout) as { checks: { name: string; ok: boolean; detail: string; fix?: string }[] }).checks.find(
      (c) => c.name === 'Temporal',
    )!;
    assert.equal(temporal.ok, false);
    assert.match(temporal.detail, /no Temporal server answers at 127\.0\.0\.1:\d+/);
    assert.match(temporal.fix!, /gmail-lake up/);
    const status = await shell('npx gmail-lake status user@example.com --once', env);
    assert.equal(status.code, 3, status.stderr);
    assert.match(status.stderr, /Temporal cannot be reached/);
    const down = await run(walk.at(-1)!, env);
    assert.equal(down.code, 0, down.stderr);
    for (const p of Object.values(stack.processes)) assert.ok(!alive(p.pid), `pid ${p.pid} stopped`);
  });
});

describe('the real-Google steps (README, docs/gmail-setup.md) with the emulator playing Google', () => {
  const home = mkdtempSync(join(tmpdir(), 'gmail-lake-google-'));
  let google: RunningEmulator;
  let env: Record<string, string>;
  let substitute: (c: string) => string;
  before(async () => {
    google = await startEmulator({ seed: 'readme', messages: 300, workspace: { domain: 'example.com', users: 3 } });
    const clientFile = join(home, 'client_secret.json');
    const saFile = join(home, 'sa-key.json');
    writeFileSync(clientFile, JSON.stringify(google.clientFile()));
    writeFileSync(saFile, JSON.stringify(google.workspace!.key), { mode: 0o600 });
    env = {
      GMAIL_LAKE_HOME: home,
      GOOGLE_API_URL: google.url,
      GMAIL_QUOTA_PROFILE: 'off',
      GMAIL_LAKE_TEMPORAL_PORT: String(await freePort()),
      API_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    };
    substitute = (c) =>
      c
        .replace(/~\/Downloads\/client_secret\S*\.json/g, clientFile)
        .replace('/secure/sa-key.json', saFile)
        .replaceAll('you@gmail.com', 'user@example.com')
        .replaceAll('admin@yourdomain.com', 'user@example.com')
        .replaceAll('yourdomain.com', 'example.com');
  });
  after(async () => {
    await shell('npx gmail-lake down', env);
    await google.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('up, login, extract, query, schedule, doctor, down — then a Workspace fleet with a service account', async () => {
    const steps = [
      ...block('README.md', 'npx gmail-lake up', true),
      ...block('README.md', 'npx gmail-lake query'),
      ...block('docs/gmail-setup.md', 'npx gmail-lake up', true),
      ...block('docs/gmail-setup.md', 'GMAIL_CREDENTIALS_FILE='),
    ];
    const done = new Set<string>();
    for (const step of steps) {
      const command = substitute(step);
      if (done.has(command)) {
        ran.add(step); // the same command after substitution (another file name for the client file)
        continue;
      }
      done.add(command);
      const r = step.includes(' login ')
        ? await loginAnswered(step, env, 'user@example.com', substitute)
        : await run(step, env, undefined, substitute);
      assert.equal(r.code, 0, `${command}\n${r.stdout}\n${r.stderr}`);
      if (step.includes(' extract ')) assert.match(r.stdout, /Completed: [\d,]+ new messages/);
      if (step.includes(' schedule set ')) assert.match(r.stdout, /user@example\.com: synced every 15m, next run /);
      if (step.includes(' doctor')) assert.match(r.stdout, /All \d+ checks passed/);
    }
    const fleet = steps.filter((s) => s.includes('fleet start'));
    assert.equal(fleet.length, 1);
    const status = await shell('npx gmail-lake fleet status --json', env);
    const fleets = (JSON.parse(status.stdout) as { fleets: { status: string }[] }).fleets;
    assert.equal(fleets[0]?.status, 'completed', status.stdout);
  });
});

test('every command the README and docs tell a user to type was run above, or is run elsewhere', () => {
  const missing = documented.filter((d) => !ran.has(d.command) && !COVERED_ELSEWHERE[d.command]);
  assert.deepEqual(
    missing.map((d) => `${d.file}: ${d.command}`),
    [],
  );
  const codec = readFileSync(join(projectRoot, 'test/integration/codec.test.ts'), 'utf8');
  assert.match(
    codec,
    /'workflow', 'show'[\s\S]*--codec-endpoint/,
    'codec.test.ts runs `temporal workflow show --codec-endpoint` as docs/operations.md shows',
  );
});
