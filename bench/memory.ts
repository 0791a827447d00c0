import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../src/api/app.js';
import { createExtractionService } from '../src/api/extractions.js';
import { loadConfig } from '../src/config.js';
import { Lake } from '../src/lake/lake.js';
import { createLogger } from '../src/log.js';
import { MailboxIds } from '../src/mailbox-ids.js';
import type { ExtractionProgress } from '../src/workflows/contracts.js';
import { startMinio } from '../test/helpers/minio.js';
import { freePort } from '../test/helpers/ports.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { startWorkerProcess, type WorkerProcess, workerEnv } from '../test/helpers/worker-process.js';
import { type BenchEnv, startEmulatorProcess } from './harness.js';
import { memoryOf } from './large.js';
import { lineChartPng } from './plot.js';
import type { Row } from './scenarios.js';

const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;

/** One sample of the run: minutes since its start, what is committed, each process's resident set (MB). */
interface Sample {
  minutes: number;
  persisted: number;
  worker: number;
  /** Of the worker's: V8's heap (total) and its external buffers, from its /metrics. */
  v8: number;
  v8Used: number;
  compactor: number;
}

/** V8's heap (total) with its external buffers, and its heap in use (live objects and garbage not yet collected), in
 * MB, of a process serving prom-client's default metrics. */
async function v8MemoryOf(metricsUrl: string): Promise<{ v8: number; v8Used: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string) => Number(new RegExp(`^gmail_lake_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0) / 2 ** 20;
  return {
    v8: value('nodejs_heap_size_total_bytes') + value('nodejs_external_memory_bytes'),
    v8Used: value('nodejs_heap_size_used_bytes'),
  };
}

/**
 * Memory over a long backfill (issue 24, row 3): `messages` messages (format `full`, the API's batches of 100 unless
 * `batchSize`) extracted by one
 * worker process with its defaults, the lake's compactions served by a compactor process of their own
 * (LAKE_COMPACTION_TASK_QUEUE), the catalog in PostgreSQL, the API in this process. Both processes' resident sets are sampled every `everyMs`
 * (10 s) from /proc and plotted (`png`); the row has the worker's peak (VmHWM) and its RSS at each quarter of the run,
 * the compactor's peak, and the compactions that succeeded and failed (from the compactor's log).
 */
export async function memoryOverBackfill(
  env: BenchEnv,
  messages: number,
  png: string,
  opts: { compiled?: boolean; workerEnv?: Record<string, string>; everyMs?: number; s3?: boolean; batchSize?: number } = {},
): Promise<Row> {
  const everyMs = opts.everyMs ?? 10_000;
  // A PostgreSQL catalog (the compactor writes the lake beside the worker), the data files on this disk or in a MinIO
  // server of their own.
  const postgres = await startPostgres();
  await postgres.createDatabase('lake');
  const minio = opts.s3 ? await startMinio() : undefined;
  await minio?.createBucket('lake');
  const emu = await startEmulatorProcess({ messages, seed: 'memory' });
  const queue = `bench-memory-${Math.random().toString(36).slice(2, 8)}`;
  const compactionQueue = `${queue}-compactions`;
  const wenv = workerEnv(env.dir, env.temporal.address, queue, emu, {
    DATA_DIR: join(env.dir, queue),
    LAKE_COMPACTION_TASK_QUEUE: compactionQueue,
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: postgres.dsn('lake'),
    ...minio?.env('lake'),
  });
  const workerOnly = opts.workerEnv ?? {};
  const connection = await Connection.connect({ address: env.temporal.address });
  const app = createApp({
    auth: undefined,
    extractions: createExtractionService(
      new Client({ connection }),
      queue,
      { pipelineDepth: 2, compactEvery: 50, events: false, compactionQueue },
      new MailboxIds(),
    ),
    readiness: {},
    logger: createLogger('silent'),
  });
  let worker: WorkerProcess | undefined;
  let compactor: WorkerProcess | undefined;
  const samples: Sample[] = [];
  try {
    const metricsPort = await freePort();
    worker = await startWorkerProcess({ ...wenv, METRICS_PORT: String(metricsPort), ...workerOnly }, { compiled: opts.compiled });
    compactor = await startWorkerProcess(wenv, {
      compiled: opts.compiled,
      entry: 'src/worker/compactor-main.ts',
      ready: 'compactor ready',
    });
    const t0 = performance.now();
    const res = await app.request('/extract', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'memory@example.com', format: 'full', batchSize: opts.batchSize }),
    });
    const { id } = (await res.json()) as { id: string };
    let final: ExtractionProgress | undefined;
    let unanswered = 0;
    let next = 0;
    for (;;) {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null)
        throw new Error(`the worker exited (${worker.child.exitCode ?? worker.child.signalCode}): ${worker.output().slice(-2000)}`);
      // A status the API could not read in time (503 from a loaded Temporal) is asked again a second later; the
      // memory samples keep their pace meanwhile.
      const status = await app.request(`/extract/${id}`);
      if (status.ok) final = (await status.json()) as ExtractionProgress;
      else unanswered++;
      const now = performance.now();
      const ended = final !== undefined && final.status !== 'running';
      if (now >= next || ended) {
        next = now + everyMs;
        samples.push({
          minutes: (now - t0) / 60_000,
          persisted: final?.progress.persisted ?? 0,
          worker: memoryOf(worker.child.pid!).rss,
          ...(await v8MemoryOf(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => ({ v8: 0, v8Used: 0 }))),
          compactor: memoryOf(compactor.child.pid!).rss,
        });
      }
      if (ended) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (!final) throw new Error('the extraction ended without a status');
    const seconds = (performance.now() - t0) / 1000;
    const workerPeak = memoryOf(worker.child.pid!).peak;
    const compactorPeak = memoryOf(compactor.child.pid!).peak;
    const log = compactor.output();
    const lines = log.split('\n');
    const compacted = lines.filter((l) => l.includes('"lake compacted"')).length;
    // A compaction that fails is reported by the SDK's activity logger ("Activity failed"), its cause quoted.
    const failures = lines.filter((l) => /Activity failed|Out of Memory/i.test(l));
    const failed = failures.length;
    writeFileSync(png.replace(/\.png$/, '-compactor.log'), log);
    writeFileSync(
      png,
      lineChartPng({
        title: `Resident memory over a backfill of ${messages.toLocaleString('en')} messages (full), sampled every ${everyMs / 1000} s`,
        xLabel: 'minutes since the extraction started',
        yLabel: 'RSS (MB)',
        series: [
          { name: 'worker (fetch + persist)', color: '#1f77b4', points: samples.map((s) => ({ x: s.minutes, y: s.worker })) },
          { name: "worker's V8 heap + external", color: '#2ca02c', points: samples.map((s) => ({ x: s.minutes, y: s.v8 })) },
          { name: 'compactor', color: '#ff7f0e', points: samples.map((s) => ({ x: s.minutes, y: s.compactor })) },
        ],
        limit: { y: 512, label: '512 MB' },
      }),
    );
    writeFileSync(png.replace(/\.png$/, '.json'), JSON.stringify(samples.map((s) => ({ ...s, minutes: round(s.minutes, 2) }))));
    const lake = await Lake.openReadOnly(loadConfig(wenv).lake);
    const [files] = await lake.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ducklake_list_files('lake', 'messages')`);
    lake.close();
    const at = (q: number) => round(samples[Math.min(samples.length - 1, Math.floor(q * (samples.length - 1)))]?.worker ?? 0);
    // Flat: the worker's RSS over the second half of the run, its least-squares slope in MB per 100,000 messages.
    const half = samples.slice(Math.floor(samples.length / 2));
    const mx = half.reduce((n, s) => n + s.persisted, 0) / (half.length || 1);
    const my = half.reduce((n, s) => n + s.worker, 0) / (half.length || 1);
    const slope =
      half.reduce((n, s) => n + (s.persisted - mx) * (s.worker - my), 0) / (half.reduce((n, s) => n + (s.persisted - mx) ** 2, 0) || 1);
    return {
      scenario: `memory ${messages}${opts.batchSize ? `, batches of ${opts.batchSize}` : ''}${opts.s3 ? ', S3' : ''}${opts.compiled ? ', compiled' : ''}${Object.keys(workerOnly).length ? `, worker ${new URLSearchParams(workerOnly).toString().replaceAll('&', ' ')}` : ''}`,
      status: final.status,
      messages: final.progress.persisted,
      seconds: round(seconds),
      'msg/s': round(final.progress.persisted / seconds),
      'worker peak RSS MB': round(workerPeak),
      'worker RSS sampled max MB': round(Math.max(...samples.map((s) => s.worker))),
      'worker RSS at 25/50/75/100 % MB': `${at(0.25)}/${at(0.5)}/${at(0.75)}/${at(1)}`,
      'worker RSS slope, 2nd half, MB per 100k msgs': round(slope * 100_000, 1),
      'worker V8 heap+external max MB': round(Math.max(...samples.map((s) => s.v8))),
      'compactor peak RSS MB': round(compactorPeak),
      compactions: compacted,
      'compactions failed': failed,
      ...(failed ? { 'first failure': failures[0]!.slice(0, 300) } : {}),
      'data files': files?.n ?? 0,
      samples: samples.length,
      'status requests unanswered': unanswered,
      png,
    };
  } finally {
    await Promise.all([worker?.stop(), compactor?.stop()]);
    await connection.close();
    await emu.stop();
    await minio?.stop();
    await postgres.stop();
  }
}
