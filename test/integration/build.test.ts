/**
 * The image's way to run: `npm run build` (TypeScript to dist/, the workflow bundles), then the compiled API and worker
 * as separate processes — no tsx, no webpack at start — extract a mailbox exactly, on the Node.js that runs this test
 * (CI: the LTS the Dockerfile uses).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { loadConfig } from '../../src/config.js';
import { Lake } from '../../src/lake/lake.js';
import { projectRoot } from '../../src/stack/tools.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { authHeaders, startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { lakeRows, listable, manifest } from '../helpers/verify.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../helpers/worker-process.js';

let temporal: TestTemporal;
let emu: RunningEmulator;
const procs: WorkerProcess[] = [];
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 300 })]);
});
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await Promise.all([temporal?.stop(), emu?.close()]);
});

test('npm run build, then node dist/worker/main.js and node dist/api/main.js: an extraction completes exactly', async () => {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  for (const variant of ['plain', 'codec', 'plain-traced', 'codec-traced'])
    assert.ok(existsSync(join(projectRoot, 'dist/workflow-bundles', `${variant}.js`)), `the ${variant} workflow bundle is built`);
  const env = workerEnv(temporal.dir, temporal.address, 'compiled', emu);
  const apiPort = await freePort();
  procs.push(await startWorkerProcess(env, { compiled: true }));
  procs.push(
    await startWorkerProcess({ ...env, API_PORT: String(apiPort) }, { entry: 'src/api/main.ts', ready: 'api ready', compiled: true }),
  );
  const url = `http://127.0.0.1:${apiPort}`;
  const started = await fetch(`${url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify({ account: 'user@example.com', format: 'raw' }),
  });
  assert.equal(started.status, 202);
  const { id } = (await started.json()) as { id: string };
  const done = await waitFor('completion', async () => {
    const s = (await (await fetch(`${url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as ExtractionProgress;
    return s.status !== 'running' ? s : undefined;
  });
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const lake = await Lake.openReadOnly(loadConfig(env).lake);
  try {
    const truth = listable(await manifest(emu));
    const rows = await lakeRows(lake, 'user@example.com');
    assert.deepEqual([rows.rows, rows.distinct], [truth.length, truth.length]);
  } finally {
    lake.close();
  }
  assert.doesNotMatch(procs.map((p) => p.output()).join('\n'), /tsx/, 'nothing ran through tsx');
});
