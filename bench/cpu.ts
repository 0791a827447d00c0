import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtractionProgress } from '../src/workflows/contracts.js';
import { profileSummary } from './profile.js';
import type { BenchEnv } from './harness.js';
import { startEmulatorProcess } from './harness.js';
import { measuredWorkerRun } from './large.js';
import type { Row } from './scenarios.js';

/**
 * The worker's CPU per message (issue 24's first target: ≤ 0.25 ms per `full` message): one worker process (`npm run
 * worker`'s entry under tsx, its defaults; batches of 500, as the unthrottled scenario) backfills `messages` generated
 * messages from an emulator in a process of its own, quota off. Its CPU time over the run (user + system, every
 * thread: DuckDB's, Temporal's core, the tsx loader's), divided by the messages. The emulator's and the Temporal
 * server's CPU are not counted; the worker's start is not either (it is measured from the request that starts the run).
 */
export async function workerCpu(
  env: BenchEnv,
  format: 'full' | 'raw',
  messages: number,
  { profile = false, compiled = false } = {},
): Promise<Row[]> {
  const emu = await startEmulatorProcess({ messages, seed: `cpu-${format}` });
  // With --profile: the worker's main JavaScript thread profiled (V8's sampler; it adds a few % of CPU), summarized.
  const profileDir = profile ? mkdtempSync(join(tmpdir(), 'gmail-lake-cpu-prof-')) : undefined;
  try {
    const { final, seconds, cpuMs, peak, threads } = await measuredWorkerRun<ExtractionProgress>(
      env,
      `cpu-${format}`,
      emu,
      profileDir ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${profileDir}`.trim() } : {},
      { path: '/extract', body: { account: 'cpu@example.com', format, batchSize: 500 } },
      (id) => `/extract/${id}`,
      compiled,
    );
    const n = final.progress.persisted;
    const row: Row = {
      scenario: `worker CPU per message (${format}, unthrottled, one worker process${compiled ? ', compiled' : ', tsx'})`,
      status: final.status,
      messages: n,
      s: Math.round(seconds),
      'messages/s': Math.round(n / seconds),
      'worker CPU s': Math.round(cpuMs / 100) / 10,
      'worker CPU ms/msg': Math.round((cpuMs / n) * 1000) / 1000,
      'worker cores busy': Math.round((cpuMs / 1000 / seconds) * 100) / 100,
      'worker peak RSS MB': Math.round(peak),
      // Where the CPU went, by thread (the main thread runs the activities' JavaScript; the others are named by their
      // runtime: libuv's pool does file I/O, V8's workers collect garbage and compile, DuckDB's run its queries).
      'CPU ms/msg by thread': [...threads]
        .filter(([, ms]) => ms / n >= 0.005)
        .sort((a, b) => b[1] - a[1])
        .map(([name, ms]) => `${name} ${(ms / n).toFixed(2)}`)
        .join(', '),
      ...(profileDir ? { profiled: 'yes (CPU a few % higher)' } : {}),
    };
    return profileDir ? [row, ...profileSummary(profileDir, `worker ${format} profile`)] : [row];
  } finally {
    await emu.stop();
    if (profileDir && process.env.BENCH_KEEP_PROFILE) console.log(`profile kept in ${profileDir}`);
    else if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
}
