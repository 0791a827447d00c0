import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../src/api/app.js';
import { createExtractionService } from '../src/api/extractions.js';
import { createImportService } from '../src/api/imports.js';
import { loadConfig } from '../src/config.js';
import { Lake } from '../src/lake/lake.js';
import { createLogger } from '../src/log.js';
import { MailboxIds } from '../src/mailbox-ids.js';
import type { ExtractionProgress } from '../src/workflows/contracts.js';
import { startWorkerProcess, workerEnv } from '../test/helpers/worker-process.js';
import { type BenchEnv, startEmulatorProcess } from './harness.js';
import type { Row } from './scenarios.js';

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux; `getconf CLK_TCK` says otherwise). */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The process's CPU time so far (user + system, its threads included), in milliseconds. */
export function cpuMsOf(pid: number): number {
  return ticksMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** user + system of a /proc stat line, in milliseconds. */
function ticksMs(stat: string): number {
  // The fields after the command name (which may hold spaces), from field 3 (state): utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
}

/**
 * The CPU time so far of each of the process's threads, by thread id, with its name (main `node`, libuv's pool
 * `libuv-worker`, V8's `V8 DefaultWorke` (GC, compilers), the Temporal core's `tokio-runtime-w`, DuckDB's…).
 */
export function threadCpuOf(pid: number): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: ticksMs(stat) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The CPU each group of threads spent between two snapshots (threads that ended in between are not counted). */
export function threadCpuSpent(before: ReturnType<typeof threadCpuOf>, after: ReturnType<typeof threadCpuOf>): Map<string, number> {
  const byName = new Map<string, number>();
  // The main thread's id is the process's: the smallest.
  const main = Math.min(...[...after.keys()].map(Number));
  for (const [tid, t] of after) {
    const name = Number(tid) === main ? 'main (JavaScript)' : t.name.replace(/\d+$/, '');
    byName.set(name, (byName.get(name) ?? 0) + t.ms - (before.get(tid)?.ms ?? 0));
  }
  return byName;
}

/** A process's resident set and its peak (VmRSS, VmHWM) in MB, from /proc. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * One worker process (its defaults and `extra`) on a task queue and data folder of its own, driven through an
 * in-process API: `start` (a POST that starts a workflow) is followed at `statusOf(id)` until it ends, the worker's
 * resident memory sampled every 200 ms meanwhile, and its CPU time over the run (from the request that starts it); the
 * worker is stopped before this returns.
 */
export async function measuredWorkerRun<P extends { status: string }>(
  env: BenchEnv,
  name: string,
  emu: { url: string; tokenUrl: string },
  extra: Record<string, string>,
  start: { path: string; body: unknown },
  statusOf: (id: string) => string,
  /** Run the compiled worker (dist/, as the container image does; `npm run build` first) rather than tsx's. */
  compiled = false,
): Promise<{
  final: P;
  seconds: number;
  peak: number;
  sampled: number;
  cpuMs: number;
  threads: Map<string, number>;
  wenv: Record<string, string>;
}> {
  const queue = `bench-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const wenv = workerEnv(env.dir, env.temporal.address, queue, emu, { DATA_DIR: join(env.dir, queue), ...extra });
  const connection = await Connection.connect({ address: env.temporal.address });
  const client = new Client({ connection });
  const app = createApp({
    auth: undefined,
    extractions: createExtractionService(client, queue, { pipelineDepth: 2, compactEvery: 50, events: false }, new MailboxIds()),
    imports: createImportService(client, queue, new MailboxIds()),
    readiness: {},
    logger: createLogger('silent'),
  });
  const worker = await startWorkerProcess(wenv, { compiled });
  try {
    const t0 = performance.now();
    const cpu0 = cpuMsOf(worker.child.pid!);
    const threads0 = threadCpuOf(worker.child.pid!);
    const res = await app.request(start.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(start.body),
    });
    const { id } = (await res.json()) as { id: string };
    let sampled = 0;
    let final: P;
    for (;;) {
      sampled = Math.max(sampled, memoryOf(worker.child.pid!).rss);
      final = (await (await app.request(statusOf(id))).json()) as P;
      if (final.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = cpuMsOf(worker.child.pid!) - cpu0;
    const threads = threadCpuSpent(threads0, threadCpuOf(worker.child.pid!));
    const { peak } = memoryOf(worker.child.pid!);
    return { final, seconds, peak, sampled, cpuMs, threads, wenv };
  } finally {
    await worker.stop();
    await connection.close();
  }
}

/**
 * A backfill of `messages` messages of 24–34 MB each (attachments of 18–25 MB, format raw: Gmail's largest) by one
 * worker process with its defaults (20 gets per batch, batches of 100, GMAIL_MESSAGE_MEMORY_MB 128, LAKE_MEMORY_LIMIT
 * 256 MB) or the given LAKE_MEMORY_LIMIT: the worker's peak resident memory (VmHWM) and throughput. The target:
 * under 768 MB for 200 such messages (docs/architecture.md, Known limits, has where it stands).
 */
export async function largeMessages(env: BenchEnv, messages: number, lakeMemory?: string): Promise<Row> {
  const emu = await startEmulatorProcess({ messages, seed: 'large', large: '1:18-25' });
  try {
    const { final, seconds, peak, sampled, wenv } = await measuredWorkerRun<ExtractionProgress>(
      env,
      'large',
      emu,
      lakeMemory ? { LAKE_MEMORY_LIMIT: lakeMemory } : {},
      { path: '/extract', body: { account: 'large@example.com', format: 'raw' } },
      (id) => `/extract/${id}`,
    );
    // Summing the raw column reads each ~30 MB value whole: more than a reader's default memory limit allows.
    const lake = await Lake.openReadOnly(loadConfig({ ...wenv, LAKE_MEMORY_LIMIT: '1GB' }).lake);
    const [sum] = await lake.query<{ bytes: bigint }>(`SELECT sum(octet_length(raw)) AS bytes FROM lake.messages`);
    lake.close();
    const mb = Number(sum?.bytes ?? 0) / 1e6;
    return {
      scenario: `large messages (24–34 MB, raw, LAKE_MEMORY_LIMIT ${lakeMemory ?? 'default'})`,
      status: final.status,
      messages: final.progress.persisted,
      MB: Math.round(mb),
      s: Math.round(seconds),
      'MB/s': Math.round((mb / seconds) * 10) / 10,
      'worker peak RSS MB': Math.round(peak),
      'worker RSS sampled max MB': Math.round(sampled),
    };
  } finally {
    await emu.stop();
  }
}
