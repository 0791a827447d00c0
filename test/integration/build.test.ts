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
import { projectRoot } from '../../src/stack/tools.js';
import { freePort } from '../helpers/ports.js';
import { startTestEmulator, startTestTemporal, type TestTemporal } from '../helpers/stack.js';
import { assertLakeExact, extractThroughApi } from '../helpers/verify.js';
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
  const done = await extractThroughApi(url, { account: 'user@example.com', format: 'raw' });
  assert.equal(done.status, 'completed', JSON.stringify(done));
  await assertLakeExact(env, emu);
  assert.doesNotMatch(procs.map((p) => p.output()).join('\n'), /tsx/, 'nothing ran through tsx');
});
