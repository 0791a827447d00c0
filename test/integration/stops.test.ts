import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { Lake } from '../../src/lake/lake.js';
import { projectRoot } from '../../src/stack/tools.js';
import { authHeaders, startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { workerEnv } from '../helpers/worker-process.js';

/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group (npm, its shell, node), so each process
 * gets it, npm passes it on once more. The run must drain, close the lake, stop what it started and exit 0.
 */
interface Run {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

function npmRun(args: string[], env: Record<string, string>): Run {
  // detached: its own process group, as a shell gives a foreground job.
  const child = spawn('npm', ['run', '-s', ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exit };
}

/** Processes of a process group, and any process whose command line names `marker` (servers started detached). */
function leftovers(pgid: number, marker: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .filter((l) => {
      const [pid, group, ...args] = l.trim().split(/\s+/);
      return pid && (Number(group) === pgid || args.join(' ').includes(marker)) && !args.join(' ').startsWith('ps ');
    })
    .map((l) => l.trim());
}

async function lakeCounts(dataDir: string) {
  const config = loadConfig({ DATA_DIR: dataDir, DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions') });
  const lake = await Lake.open(config.lake);
  try {
    const [row] = await lake.query<{ n: number; ids: number }>(
      'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids FROM lake.messages',
    );
    return row!;
  } finally {
    lake.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-stops-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('npm run demo: a second demo explains itself in one line; Ctrl-C mid-extraction → exit 0, nothing left running, the lake opens', async (t) => {
  const dataDir = join(dir, 'demo');
  const env = {
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${await freePort()}`,
  };
  const demo = npmRun(['demo', '--', '--messages', '3000', '--quota', 'legacy'], env);
  t.after(() => {
    if (demo.child.exitCode === null) process.kill(-demo.child.pid!, 'SIGKILL');
  });
  const persisted = () => Math.max(0, ...[...demo.output().matchAll(/(\d+)\/3000 messages/g)].map((m) => Number(m[1])));
  await waitFor(
    'the demo persisting',
    async () => {
      if (demo.child.exitCode !== null) throw new Error(`demo exited ${demo.child.exitCode}: ${demo.output()}`);
      return persisted() >= 200;
    },
    240_000,
  );

  const second = npmRun(['demo'], env);
  assert.equal(await second.exit, 1);
  const lines = second
    .output()
    .split('\n')
    .filter((l) => l && !l.startsWith('[provision]') && !l.includes('npm warn'));
  assert.equal(lines.length, 1, second.output());
  assert.match(lines[0]!, /^Another demo is running on .* \(pid \d+\)/);

  process.kill(-demo.child.pid!, 'SIGINT');
  assert.equal(await demo.exit, 0, demo.output().slice(-2000));
  assert.match(demo.output(), /Stopping/);
  assert.doesNotMatch(demo.output(), /Error|at .*\.ts:\d+/);
  await waitFor('no process left', async () => leftovers(demo.child.pid!, dataDir).length === 0, 10_000).catch(() => {
    assert.deepEqual(leftovers(demo.child.pid!, dataDir), []);
  });
  assert.equal(existsSync(join(dataDir, 'demo.pid')), false, 'the lock is released');
  const { n, ids } = await lakeCounts(dataDir);
  t.diagnostic(`persisted ${n} of 3000 before Ctrl-C`);
  assert.ok(n >= 200 && n < 3000, `rows ${n}`);
  assert.equal(ids, n, 'no duplicates');
});

let temporal: TestTemporal;
let emu: RunningEmulator;
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 1500, settings: { faults: { latencyMs: 3 } } })]);
});
after(async () => {
  await Promise.all([temporal?.stop(), emu?.close()]);
});

test('npm start: Ctrl-C mid-extraction → exit 0, nothing left running, the lake opens and resumes exactly', async (t) => {
  const port = await freePort();
  const env = workerEnv(dir, temporal.address, 'stops', emu, { DATA_DIR: join(dir, 'start'), API_PORT: String(port), LOG_LEVEL: 'warn' });
  const url = `http://127.0.0.1:${port}`;
  const start = npmRun(['start'], env);
  t.after(() => {
    if (start.child.exitCode === null) process.kill(-start.child.pid!, 'SIGKILL');
  });
  await waitFor(
    'npm start ready',
    async () => {
      if (start.child.exitCode !== null) throw new Error(`npm start exited ${start.child.exitCode}: ${start.output()}`);
      return start.output().includes('gmail-lake API on');
    },
    120_000,
  );
  const res = await fetch(`${url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ account: 'me', format: 'raw' }),
  });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };
  const progress = async () =>
    (
      (await (await fetch(`${url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as {
        progress: { persisted: number };
      }
    ).progress;
  await waitFor('persisting', async () => (await progress()).persisted >= 200, 120_000, 200);

  process.kill(-start.child.pid!, 'SIGINT');
  assert.equal(await start.exit, 0, start.output().slice(-2000));
  assert.doesNotMatch(start.output(), /IllegalStateError|DRAINING|Error:/);
  assert.deepEqual(leftovers(start.child.pid!, join(dir, 'start')), []);
  const { n, ids } = await lakeCounts(join(dir, 'start'));
  assert.ok(n >= 200 && n < 1500, `rows ${n}`);
  assert.equal(ids, n);

  // Started again, the same extraction finishes with every message once.
  const again = npmRun(['start'], env);
  t.after(() => {
    if (again.child.exitCode === null) process.kill(-again.child.pid!, 'SIGKILL');
  });
  type Final = { status: string; progress: { listed: number } };
  const final = await waitFor(
    'extraction completed after the restart',
    async () => {
      if (again.child.exitCode !== null) throw new Error(`npm start exited ${again.child.exitCode}: ${again.output()}`);
      const s = await fetch(`${url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders }).then(
        (r) => r.json() as Promise<Final>,
        () => undefined,
      );
      return s?.status === 'completed' ? s : undefined;
    },
    180_000,
    300,
  );
  process.kill(-again.child.pid!, 'SIGTERM');
  assert.equal(await again.exit, 0, again.output().slice(-2000));
  // Every listed message (SPAM and TRASH are not listed without includeSpamTrash) once.
  assert.ok(final.progress.listed > 1250);
  assert.deepEqual(await lakeCounts(join(dir, 'start')), { n: final.progress.listed, ids: final.progress.listed });
});
