import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../src/activities/index.js';
import { toRows } from '../src/activities/rows.js';
import { createApp } from '../src/api/app.js';
import { createExtractionService } from '../src/api/extractions.js';
import { createFleetService } from '../src/api/fleets.js';
import { loadConfig } from '../src/config.js';
import { QUOTA_PROFILES } from '../src/env-schema.js';
import { GeneratedMailbox } from '../src/emulator/generate.js';
import { startEmulator } from '../src/emulator/server.js';
import { messageResource } from '../src/emulator/gmail-responses.js';
import { Mailbox } from '../src/emulator/mailbox.js';
import { createGmailApi } from '../src/gmail/client.js';
import { persistStaged } from '../src/lake/batches.js';
import { stageBatch } from '../src/lake/staging.js';
import { Lake } from '../src/lake/lake.js';
import { createLogger } from '../src/log.js';
import { startPipeline } from '../src/pipeline.js';
import type { syncWorkflow } from '../src/workflows/sync.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { syntheticCheckpoint, syntheticRows } from '../test/helpers/rows.js';
import { waitFor } from '../test/helpers/ports.js';
import { startWorkerProcess, workerEnv } from '../test/helpers/worker-process.js';
import { type BenchEnv, benchConfig, credentials, runExtraction, startEmulatorProcess } from './harness.js';
import type { Checkpoint, ExtractionProgress } from '../src/workflows/contracts.js';
import { MailboxIds } from '../src/mailbox-ids.js';
import { MemoryBudget } from '../src/activities/memory-budget.js';

export type Row = Record<string, string | number | null>;
/** `n` rounded to `d` decimals. */
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
/** The `p` quantile (0–1) of `xs`, nearest rank; 0 when empty. */
export const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
/** Messages per second a project quota of `units` per `window` seconds allows (legacy costs: a get, and a list per 100). */
const projectCeiling = (units: number, window: number) =>
  units / window / (QUOTA_PROFILES.legacy.costs.get + QUOTA_PROFILES.legacy.costs.list / 100);

/** 1. Quota-bound: achieved messages/s at the Gmail side ÷ the profile's ceiling, and the share of throttled responses. */
export async function quotaBound(env: BenchEnv, profile: 'legacy' | '2026', seconds: number): Promise<Row> {
  const p = QUOTA_PROFILES[profile];
  const batch = 100;
  const ceiling = p.unitsPerWindow / p.windowSeconds / (p.costs.get + p.costs.list / batch);
  const messages = Math.ceil(ceiling * seconds);
  const emu = await startEmulatorProcess({ messages: Math.ceil(messages / 0.96) + 50, seed: `quota-${profile}`, quota: profile });
  const pipeline = await startPipeline(benchConfig(env, emu, { GMAIL_QUOTA_PROFILE: profile }), credentials);
  const gets: [number, number][] = [];
  const poll = setInterval(() => {
    void emu.stats().then((s) => gets.push([performance.now() / 1000, s['messages.get']?.served ?? 0]));
  }, 1000);
  try {
    const run = await runExtraction(pipeline, { account: `${profile}@example.com`, batchSize: batch });
    clearInterval(poll);
    const stats = await emu.stats();
    const served = Object.values(stats).reduce((a, s) => a + s.served, 0);
    const throttled = Object.values(stats).reduce((a, s) => a + s.throttled, 0);
    // Steady state: from the sample where 10% of the gets were served to the one where 90% were.
    const total = gets[gets.length - 1]?.[1] ?? 0;
    const a = gets.find(([, n]) => n >= total * 0.1);
    const b = [...gets].reverse().find(([, n]) => n <= total * 0.9);
    const rate = a && b && b[0] > a[0] ? (b[1] - a[1]) / (b[0] - a[0]) : 0;
    return {
      scenario: `quota ${profile}`,
      messages: run.final.progress.persisted,
      seconds: round(run.seconds),
      'msg/s': round(rate, 2),
      ceiling: round(ceiling, 2),
      'of ceiling': round(rate / ceiling, 3),
      throttled: `${round((100 * throttled) / Math.max(1, served + throttled), 2)}%`,
    };
  } finally {
    clearInterval(poll);
    await pipeline.stop();
    await emu.stop();
  }
}

/** Drives the same activities in one process without Temporal (MockActivityEnvironment), depth-2 pipelined. */
async function direct(
  env: BenchEnv,
  emu: { url: string; tokenUrl: string },
  account: string,
  format: string,
  batchSize: number,
  /** Stop listing after this many messages (a warm-up). */
  limit = Infinity,
): Promise<{ n: number; seconds: number; stages: Record<'prepare' | 'list' | 'batch' | 'compact', number> }> {
  const config = benchConfig(env, emu);
  const lake = await Lake.open(config.lake);
  const activities = createActivities({
    lake,
    gmail: createGmailApi({ config: config.gmail, credentials }),
    stagingDir: config.lake.stagingDir,
    fetchConcurrency: config.gmail.fetchConcurrency,
    messageMemory: new MemoryBudget(config.gmail.messageMemory),
    quarantineAfter: config.gmail.quarantineAfter,
    attachmentContent: config.gmail.attachmentContent,
    taskQueue: config.temporal.taskQueue,
    ids: new MailboxIds(),
    logger: createLogger('warn'),
  });
  const env0 = () => new MockActivityEnvironment({ workflowExecution: { workflowId: 'direct', runId: 'direct' } });
  // Seconds spent inside each kind of activity (summed; consecutive batches overlap).
  const stages = { prepare: 0, list: 0, batch: 0, compact: 0 };
  /** An activity run in a mock activity context, its wall time added to its stage. */
  const timed =
    <I, O>(stage: keyof typeof stages, activity: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      const t = performance.now();
      try {
        return await env0().run<[I], O, typeof activity>(activity, input);
      } finally {
        stages[stage] += (performance.now() - t) / 1000;
      }
    };
  const listPage = timed('list', (i: Parameters<typeof activities.listPage>[0]) => activities.listPage(i));
  const extractBatch = timed('batch', (i: Parameters<typeof activities.extractBatch>[0]) => activities.extractBatch(i));
  // What the workflow does, in the same order, with the same batch size, pipeline depth and persistence: prepare,
  // list and run batches `depth` at a time (threads fetched whole as a workflow's batches are), compact at the end.
  const t0 = performance.now();
  await timed('prepare', (i: Parameters<typeof activities.prepareExtraction>[0]) => activities.prepareExtraction(i))({
    account,
    extractionKey: 'direct',
  });
  let token = '';
  let n = 0;
  let seq = 0;
  const inflight: Promise<void>[] = [];
  for (;;) {
    const page = await listPage({ account, pageToken: token, maxResults: batchSize, threads: format !== 'raw' });
    const id = `b${seq++}`;
    const task = (async () => {
      const checkpoint: Omit<Checkpoint, 'workflowId' | 'runId' | 'batchId'> = {
        account,
        extractionKey: 'direct',
        pageToken: token,
        historyId: '',
        listed: 0,
        persisted: 0,
        skipped: 0,
        failed: 0,
      };
      const r = await extractBatch({
        account,
        batchId: id,
        ids: page.ids,
        threadIds: page.threadIds,
        format: format as 'full',
        checkpoint,
      });
      n += r.fetched;
    })();
    inflight.push(task);
    if (inflight.length >= config.pipeline.depth) await inflight.shift();
    if (!page.nextPageToken || seq * batchSize >= limit) break;
    token = page.nextPageToken;
  }
  await Promise.all(inflight);
  await timed('compact', () => activities.compactLake())(undefined);
  const seconds = (performance.now() - t0) / 1000;
  lake.close();
  return { n, seconds, stages };
}

/** CPU milliseconds per message, in this process, of the emulator's response building and the worker's MIME parse + row mapping. */
function cpuPerMessage(format: 'full' | 'raw', n: number): { emulator: number; parse: number } {
  const account = `cpu-${format}@example.com`;
  const mb = new Mailbox(account, new GeneratedMailbox(`cpu:${format}`, n, account));
  let t = performance.now();
  const resources = Array.from({ length: n }, (_, i) => JSON.parse(JSON.stringify(messageResource(mb, mb.view(i)!, format, []))));
  const emulator = (performance.now() - t) / n;
  t = performance.now();
  for (const r of resources) toRows(r, { account, format, extractionId: 'cpu', fetchedAt: Date.now() });
  return { emulator: round(emulator, 2), parse: round((performance.now() - t) / n, 2) };
}

/** 2. Unthrottled ceiling through Temporal, and the same code driven directly. */
export async function unthrottled(env: BenchEnv, format: 'full' | 'raw', messages: number): Promise<Row> {
  const emu = await startEmulatorProcess({ messages, seed: 'ceiling' });
  // Both sides warm (the first run in a process pays its JIT and DuckDB's start): a discarded direct run of 2,000
  // messages first, then the direct run, then the workflow — each with a new lake and mailbox, the same batch size
  // (500), pipeline depth, fetch concurrency, persistence and final compaction.
  await direct(env, emu, `warmup-${format}@example.com`, format, 500, 2_000);
  const baseline = await direct(env, emu, `direct-${format}@example.com`, format, 500);
  const pipeline = await startPipeline(benchConfig(env, emu), credentials);
  let e2e;
  try {
    e2e = await runExtraction(pipeline, { account: `temporal-${format}@example.com`, format, batchSize: 500 });
  } finally {
    await pipeline.stop();
  }
  await emu.stop();
  const rate = e2e.final.progress.persisted / e2e.seconds;
  const directRate = baseline.n / baseline.seconds;
  const cpu = cpuPerMessage(format, 2000);
  const perMessage = (s: number) => round((s * 1000) / baseline.n, 2);
  return {
    scenario: `unthrottled ${format}`,
    messages: e2e.final.progress.persisted,
    seconds: round(e2e.seconds),
    'msg/s': round(rate),
    'direct msg/s': round(directRate),
    'temporal/direct': round(rate / directRate, 2),
    // Where the time goes (direct run, wall ms per message inside each activity kind) and CPU per message measured alone.
    'list ms/msg': perMessage(baseline.stages.list),
    'batch ms/msg': perMessage(baseline.stages.batch),
    'direct prepare+compact s': round(baseline.stages.prepare + baseline.stages.compact),
    'emulator cpu ms/msg': cpu.emulator,
    'parse+map cpu ms/msg': cpu.parse,
  };
}

/** 3. Many mailboxes at once: aggregate rate and fairness (slowest ÷ fastest per-mailbox rate). */
export async function manyMailboxes(env: BenchEnv, mailboxes: number, perMailbox: number, quota: 'off' | 'legacy'): Promise<Row> {
  const emu = await startEmulatorProcess({ messages: perMailbox, seed: 'many', quota });
  const pipeline = await startPipeline(benchConfig(env, emu, { GMAIL_QUOTA_PROFILE: quota }), credentials);
  try {
    const t0 = performance.now();
    const runs = await Promise.all(
      Array.from({ length: mailboxes }, (_, i) => runExtraction(pipeline, { account: `box${i}@example.com`, batchSize: 100 })),
    );
    const seconds = (performance.now() - t0) / 1000;
    const total = runs.reduce((a, r) => a + r.final.progress.persisted, 0);
    const rates = runs.map((r) => r.final.progress.persisted / r.seconds);
    return {
      scenario: `${mailboxes} mailboxes, quota ${quota}`,
      messages: total,
      seconds: round(seconds),
      'msg/s': round(total / seconds),
      fairness: round(Math.min(...rates) / Math.max(...rates), 2),
    };
  } finally {
    await pipeline.stop();
    await emu.stop();
  }
}

/** 4. The lake write path alone: rows/s per batch size and catalog; data files before and after maintenance. */
export async function lakeWrites(env: BenchEnv, total: number): Promise<Row[]> {
  const out: Row[] = [];
  const pg = await startPostgres();
  try {
    for (const catalog of ['sqlite', 'duckdb', 'postgres'] as const) {
      for (const batch of [100, 500, 5000]) {
        const account = `lake-${catalog}-${batch}@example.com`;
        const db = `lake_${batch}`;
        if (catalog === 'postgres') await pg.createDatabase(db);
        const config = loadConfig({
          DATA_DIR: `${env.dir}/lake-${catalog}-${batch}`,
          DUCKDB_EXTENSION_DIR: benchConfig(env, { url: 'http://x/', tokenUrl: 'http://x/t' }).lake.extensionDir,
          LAKE_CATALOG: catalog,
          // The write path alone, up to 5,000-row batches (the API caps batches at 500): measured with room to spare.
          LAKE_MEMORY_LIMIT: '1GB',
          LAKE_PG_DSN: pg.dsn(db),
        });
        const lake = await Lake.open(config.lake);
        const dirs: string[] = [];
        for (let i = 0; i * batch < total; i++) {
          const rows = syntheticRows(total, account, i * batch, (i + 1) * batch);
          dirs.push(await stageBatch(`${config.lake.stagingDir}/b${i}`, rows.messages, rows.attachments));
        }
        const t0 = performance.now();
        for (const [i, dir] of dirs.entries()) {
          await persistStaged(lake, dir, syntheticCheckpoint(account, `b${i}`));
        }
        const seconds = (performance.now() - t0) / 1000;
        const compactT0 = performance.now();
        const files = await lake.compact();
        out.push({
          scenario: `persist ${catalog} batch ${batch}`,
          messages: total,
          seconds: round(seconds, 2),
          'rows/s': round(total / seconds),
          'files before': files.filesBefore,
          'files after': files.filesAfter,
          'compact s': round((performance.now() - compactT0) / 1000, 2),
        });
        lake.close();
      }
    }
  } finally {
    await pg.stop();
  }
  return out;
}

/** 5. Scale: one large mailbox; worker peak RSS, runs, largest history, files and three typical queries. */
export async function scale(env: BenchEnv, messages: number): Promise<Row> {
  const emu = await startEmulatorProcess({ messages, seed: 'scale' });
  const config = benchConfig(env, emu);
  const pipeline = await startPipeline(config, credentials);
  let peak = 0;
  let peakHeap = 0;
  let peakDuckdb = 0;
  const rssSamples: number[] = [];
  // Where the RSS goes: V8 (heap + external buffers) and what DuckDB's buffer manager accounts for; the rest is native
  // memory neither tracks (allocator arenas and fragmentation, DuckDB/extension allocations outside the buffer pool).
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed + m.external);
    rssSamples.push(m.rss);
    if (rssSamples.length % 5 === 0)
      void pipeline.lake
        .query<{ b: number }>(`SELECT sum(memory_usage_bytes)::DOUBLE AS b FROM duckdb_memory()`)
        .then((r) => (peakDuckdb = Math.max(peakDuckdb, r[0]?.b ?? 0)))
        .catch(() => undefined);
  }, 1000);
  try {
    const run = await runExtraction(pipeline, { account: 'scale@example.com', batchSize: 500 });
    clearInterval(timer);
    let largest = 0;
    let runs = 0;
    for await (const w of pipeline.client.workflow.list({ query: `WorkflowId = '${run.final.id}'` })) {
      runs++;
      const h = await pipeline.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      largest = Math.max(largest, JSON.stringify(h).length);
    }
    const files = (
      await pipeline.lake.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ducklake_list_files('lake', 'messages')`)
    )[0]!.n;
    const time = async (sql: string) => {
      const t0 = performance.now();
      await pipeline.lake.query(sql);
      return round((performance.now() - t0) / 1000, 3);
    };
    const q1 = await time(`SELECT from_address, count(*) FROM lake.messages GROUP BY 1 ORDER BY 2 DESC LIMIT 10`);
    const q2 = await time(`SELECT date_trunc('month', internal_date) m, count(*) FROM lake.messages GROUP BY 1 ORDER BY 1`);
    const q3 = await time(`SELECT count(*) FROM lake.messages WHERE subject ILIKE '%invoice%'`);
    const mid = rssSamples[Math.floor(rssSamples.length / 2)] ?? 0;
    return {
      scenario: `scale ${messages}`,
      messages: run.final.progress.persisted,
      seconds: round(run.seconds),
      'msg/s': round(run.final.progress.persisted / run.seconds),
      'peak RSS MB': Math.round(peak / 2 ** 20),
      'mid RSS MB': Math.round(mid / 2 ** 20),
      'peak V8 heap+external MB': Math.round(peakHeap / 2 ** 20),
      'peak DuckDB buffers MB': Math.round(peakDuckdb / 2 ** 20),
      runs,
      'largest history KB': Math.round(largest / 1024),
      'data files': files,
      'top senders s': q1,
      'per month s': q2,
      'ILIKE s': q3,
    };
  } finally {
    clearInterval(timer);
    await pipeline.stop();
    await emu.stop();
  }
}

/** 6. Recovery after kill -9 of the worker process: seconds to the next committed batch, messages fetched twice. */
export async function recovery(env: BenchEnv, messages: number): Promise<Row> {
  const emu = await startEmulatorProcess({ messages, seed: 'recovery' });
  const wenv = workerEnv(env.dir, env.temporal.address, 'bench-recovery', emu);
  const connection = await Connection.connect({ address: env.temporal.address });
  const client = new Client({ connection });
  const app = createApp({
    auth: undefined,
    extractions: createExtractionService(client, 'bench-recovery', { pipelineDepth: 2, compactEvery: 50, events: false }, new MailboxIds()),
    readiness: {},
    logger: createLogger('silent'),
  });
  const get = async (id: string) => (await (await app.request(`/extract/${id}`)).json()) as ExtractionProgress;
  let worker = await startWorkerProcess(wenv);
  try {
    const res = await app.request('/extract', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'recovery@example.com', batchSize: 100 }),
    });
    const { id } = (await res.json()) as { id: string };
    const atKill = await waitFor(
      '40%',
      async () => {
        const s = await get(id);
        return s.progress.persisted >= messages * 0.4 ? s : undefined;
      },
      600_000,
      100,
    );
    await worker.kill9();
    const killedAt = performance.now();
    worker = await startWorkerProcess(wenv);
    const restartedAt = performance.now();
    await waitFor('next committed batch', async () => (await get(id)).progress.persisted > atKill.progress.persisted, 600_000, 100);
    const nextBatch = (performance.now() - killedAt) / 1000;
    await waitFor('completion', async () => (await get(id)).status === 'completed', 600_000, 500);
    const stats = await emu.stats();
    const final = await get(id);
    return {
      scenario: 'recovery after kill -9',
      messages: final.progress.persisted,
      'worker restart s': round((restartedAt - killedAt) / 1000),
      'next batch after kill s': round(nextBatch),
      'fetched twice': (stats['messages.get']?.served ?? 0) - final.progress.persisted,
    };
  } finally {
    await worker.stop();
    await connection.close();
    await emu.stop();
  }
}

/** Emulator alone: messages.get responses/s on keep-alive connections (emulator process on one core). */
export async function emulatorThroughput(format: 'raw' | 'full', seconds: number): Promise<Row> {
  const { Agent, request } = await import('node:http');
  const emu = await startEmulatorProcess({ messages: 20_000, seed: 'throughput' });
  try {
    const token = (
      (await (
        await fetch(emu.tokenUrl, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            refresh_token: credentials.refresh_token,
          }),
        })
      ).json()) as { access_token: string }
    ).access_token;
    const ids = (await (await fetch(`${emu.url}_emulator/users/user@example.com/manifest`)).text())
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const url = new URL(emu.url);
    let done = 0;
    let bytes = 0;
    const end = performance.now() + seconds * 1000;
    const one = (id: string) =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: `/gmail/v1/users/me/messages/${id}?format=${format}`,
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => {
            res.on('data', (c: Buffer) => (bytes += c.length));
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async (_, k) => {
        for (let i = k; performance.now() < end; i += 16) {
          await one(ids[i % ids.length]!);
          done++;
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    agent.destroy();
    return {
      scenario: `emulator messages.get ${format}`,
      requests: done,
      seconds: round(s),
      'responses/s': round(done / s),
      'avg KB': round(bytes / done / 1024),
    };
  } finally {
    await emu.stop();
  }
}

/**
 * Mailboxes read by several worker processes on a PostgreSQL catalog (the scaled-out layout), driven through the
 * extraction service; returns the emulator's steady-state messages.get rate, its 403 shares and per-mailbox rates.
 */
async function acrossWorkers(
  env: BenchEnv,
  args: {
    workers: number;
    accounts: string[];
    messages: number;
    seed: string;
    settings: Record<string, unknown>;
    workerEnv: Record<string, string>;
  },
) {
  const emu = await startEmulatorProcess({ messages: args.messages, seed: args.seed, quota: 'legacy' });
  await fetch(`${emu.url}_emulator/settings`, { method: 'PATCH', body: JSON.stringify(args.settings) });
  const postgres = await startPostgres();
  await postgres.createDatabase('lake');
  const queue = `bench-${args.seed}`;
  const wenv = workerEnv(env.dir, env.temporal.address, queue, emu, {
    DATA_DIR: join(env.dir, `${args.seed}-data`),
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: postgres.dsn('lake'),
    ...args.workerEnv,
  });
  const workers = await Promise.all(Array.from({ length: args.workers }, () => startWorkerProcess(wenv)));
  const connection = await Connection.connect({ address: env.temporal.address });
  const service = createExtractionService(
    new Client({ connection }),
    queue,
    { pipelineDepth: 2, compactEvery: 50, events: false },
    new MailboxIds(),
  );
  const gets: [number, number][] = [];
  const poll = setInterval(() => void emu.stats().then((s) => gets.push([performance.now() / 1000, s['messages.get']?.served ?? 0])), 1000);
  try {
    const t0 = performance.now();
    const runs = await Promise.all(
      args.accounts.map(async (account) => {
        const { id } = await service.start({ account, format: 'metadata', batchSize: 100 });
        const final = await waitFor(
          id,
          async () => {
            const s = await service.get(id);
            return s.status !== 'running' ? s : undefined;
          },
          3_600_000,
          500,
        );
        return { final, seconds: (performance.now() - t0) / 1000 };
      }),
    );
    clearInterval(poll);
    const stats = (await emu.stats()) as Record<string, { served: number; throttled: number; projectThrottled?: number }>;
    const all = Object.values(stats);
    const requests = all.reduce((a, s) => a + s.served + s.throttled + (s.projectThrottled ?? 0), 0);
    const total = gets[gets.length - 1]?.[1] ?? 0;
    const a = gets.find(([, n]) => n >= total * 0.1);
    const b = [...gets].reverse().find(([, n]) => n <= total * 0.9);
    return {
      runs,
      seconds: (performance.now() - t0) / 1000,
      steadyRate: a && b && b[0] > a[0] ? (b[1] - a[1]) / (b[0] - a[0]) : 0,
      userThrottled: (100 * all.reduce((n, s) => n + s.throttled, 0)) / Math.max(1, requests),
      projectThrottled: (100 * all.reduce((n, s) => n + (s.projectThrottled ?? 0), 0)) / Math.max(1, requests),
    };
  } finally {
    clearInterval(poll);
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close();
    await emu.stop();
    await postgres.stop();
  }
}

/** Quota-bound with several workers on one mailbox: the per-user quota holds whatever the number of workers. */
export async function quotaWorkers(env: BenchEnv, workers: number, seconds: number): Promise<Row> {
  const p = QUOTA_PROFILES.legacy;
  const ceiling = p.unitsPerWindow / p.windowSeconds / (p.costs.get + p.costs.list / 100);
  const messages = Math.ceil(ceiling * seconds);
  const r = await acrossWorkers(env, {
    workers,
    accounts: ['workers@example.com'],
    messages: Math.ceil(messages / 0.96) + 50,
    seed: 'quota-workers',
    settings: {},
    workerEnv: { GMAIL_QUOTA_PROFILE: 'legacy' },
  });
  return {
    scenario: `quota legacy, ${workers} workers`,
    messages: r.runs[0]!.final.progress.persisted,
    seconds: round(r.seconds),
    'msg/s': round(r.steadyRate, 2),
    ceiling: round(ceiling, 2),
    'of ceiling': round(r.steadyRate / ceiling, 3),
    throttled: `${round(r.userThrottled, 2)}%`,
  };
}

/** Many mailboxes under a project quota scaled down so it binds: the aggregate stays under it, shared fairly. */
export async function projectQuota(env: BenchEnv, mailboxes: number, perMailbox: number): Promise<Row> {
  // 5,000 units per 10 s = 500 units/s = 100 messages.get/s for all mailboxes (20 legacy mailboxes alone could do 1,000).
  const units = 5000;
  const window = 10;
  const ceiling = projectCeiling(units, window);
  const r = await acrossWorkers(env, {
    workers: 2,
    accounts: Array.from({ length: mailboxes }, (_, i) => `project${i}@example.com`),
    messages: perMailbox,
    seed: 'project-quota',
    settings: { projectQuotaUnits: units, projectQuotaWindowSeconds: window },
    workerEnv: {
      GMAIL_QUOTA_PROFILE: 'legacy',
      GMAIL_PROJECT_QUOTA_UNITS: String(units),
      GMAIL_PROJECT_QUOTA_WINDOW_SECONDS: String(window),
    },
  });
  const rates = r.runs.map((x) => x.final.progress.persisted / x.seconds);
  return {
    scenario: `${mailboxes} mailboxes, scaled project quota, 2 workers`,
    messages: r.runs.reduce((a, x) => a + x.final.progress.persisted, 0),
    seconds: round(r.seconds),
    'msg/s': round(r.steadyRate, 2),
    'project ceiling': round(ceiling, 2),
    'of ceiling': round(r.steadyRate / ceiling, 3),
    'project throttled': `${round(r.projectThrottled, 2)}%`,
    'user throttled': `${round(r.userThrottled, 2)}%`,
    fairness: round(Math.min(...rates) / Math.max(...rates), 2),
  };
}

/**
 * 9. The living mirror: a mailbox of `messages` after `changes` changes (¼ adds, ¼ deletes, ½ relabels). Units and
 * seconds of a sync by history, of a reconciliation (history expired), of a full re-run of the backfill, and of a
 * GYB-style label refresh (one messages.get per stored message); units priced with the legacy table.
 */
export async function mirror(env: BenchEnv, messages: number, changes: number): Promise<Row[]> {
  const emu = await startEmulatorProcess({ messages, seed: 'mirror' });
  const pipeline = await startPipeline(benchConfig(env, emu, { GMAIL_FETCH_CONCURRENCY: '16' }), credentials);
  const account = 'mirror@example.com';
  const cost = QUOTA_PROFILES.legacy.costs;
  const control = async (path: string, body?: unknown) =>
    (await (
      await fetch(`${emu.url}_emulator/users/${account}/${path}`, { method: 'POST', body: body ? JSON.stringify(body) : undefined })
    ).json()) as Record<string, unknown>;
  const ids = async () =>
    (await (await fetch(`${emu.url}_emulator/users/${account}/manifest`)).text())
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);
  let offset = 0;
  /** `changes` changes on messages not touched before: adds, deletes, relabels. */
  const change = async () => {
    const all = await ids();
    const pick = (n: number) => all.slice(offset, (offset += n));
    await control('messages', { count: changes / 4 });
    await control('messages/batchDelete', { ids: pick(changes / 4) });
    await control('messages/batchModify', { ids: pick(changes / 2), add: ['Label_2'], remove: ['UNREAD'] });
  };
  const unitsOf = (stats: Record<string, { served: number }>) =>
    (stats['messages.get']?.served ?? 0) * cost.get +
    (stats['messages.list']?.served ?? 0) * cost.list +
    (stats['history.list']?.served ?? 0) * cost.history +
    (stats['users.getProfile']?.served ?? 0) * cost.profile +
    (stats['labels.list']?.served ?? 0) * cost.labels;
  const sync = async () => {
    const t0 = performance.now();
    const r = (await (await fetch(`${pipeline.url}/mailboxes/${account}/sync`, { method: 'POST' })).json()) as {
      id: string;
      runId: string;
    };
    const result = await pipeline.client.workflow.getHandle<typeof syncWorkflow>(r.id, r.runId).result();
    return { result, seconds: (performance.now() - t0) / 1000 };
  };
  const row = (what: string, units: number, seconds: number, detail: string): Row => ({
    scenario: `mirror ${messages}: ${what}`,
    units,
    seconds: round(seconds, 2),
    'legacy-quota s': round(units / QUOTA_PROFILES.legacy.unitsPerWindow, 1),
    detail,
  });
  try {
    const backfill = await runExtraction(pipeline, { account, format: 'metadata', includeSpamTrash: true, batchSize: 500 });
    const rows: Row[] = [];
    await change();
    await emu.resetStats();
    const s = await sync();
    const syncUnits = Object.values(s.result.units).reduce((a, b) => a + b, 0);
    rows.push(
      row(
        `sync after ${changes} changes`,
        syncUnits,
        s.seconds,
        `${JSON.stringify(s.result.changes)} units ${JSON.stringify(s.result.units)}`,
      ),
    );

    await change();
    await control('history/expire');
    await emu.resetStats();
    const r = await sync();
    const reconcileUnits = Object.values(r.result.units).reduce((a, b) => a + b, 0);
    rows.push(
      row(`reconciliation after ${changes} changes`, reconcileUnits, r.seconds, `${r.result.mode} units ${JSON.stringify(r.result.units)}`),
    );

    await emu.resetStats();
    const rerun = await runExtraction(pipeline, { account, format: 'metadata', includeSpamTrash: true, batchSize: 500 });
    rows.push(
      row(
        'full re-run of the backfill',
        unitsOf(await emu.stats()),
        rerun.seconds,
        `${rerun.final.progress.persisted} new, ${rerun.final.progress.present} present (sees no deletions or label changes)`,
      ),
    );

    // GYB-style refresh: one messages.get (format=minimal) per stored message, with the unmodified client.
    const stored = await pipeline.lake.query<{ id: string }>(`SELECT id FROM lake.messages WHERE account = $a AND deleted_at IS NULL`, {
      a: account,
    });
    const gmail = createGmailApi({ config: benchConfig(env, emu).gmail, credentials });
    await emu.resetStats();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < stored.length) await gmail.getMessage(account, stored[next++]!.id, 'minimal');
      }),
    );
    const gyb = unitsOf(await emu.stats());
    rows.push(row('GYB-style label refresh', gyb, (performance.now() - t0) / 1000, `${stored.length} gets`));
    rows.push({
      scenario: `mirror ${messages}: ratios`,
      'GYB ÷ sync units': round(gyb / syncUnits, 1),
      'reconciliation ÷ sync units': round(reconcileUnits / syncUnits, 1),
      'GYB ÷ reconciliation units': round(gyb / reconcileUnits, 1),
      'backfill s': round(backfill.seconds, 1),
    });
    return rows;
  } finally {
    await pipeline.stop();
    await emu.stop();
  }
}

/** Mean seconds per activity type (started → completed) and per workflow (first → last event) over these histories. */
async function activitySeconds(client: Client, workflowIds: string[]): Promise<Record<string, number>> {
  const sums: Record<string, { total: number; n: number }> = {};
  const add = (key: string, ms: number) => {
    const x = (sums[key] ??= { total: 0, n: 0 });
    x.total += ms;
    x.n++;
  };
  for (const id of workflowIds) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const scheduled = new Map<number, string>();
    const started = new Map<number, number>();
    for (const e of events) {
      const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (type) scheduled.set(Number(e.eventId), type);
      const s = e.activityTaskStartedEventAttributes;
      if (s) started.set(Number(s.scheduledEventId), at(e));
      const c = e.activityTaskCompletedEventAttributes;
      if (c) add(scheduled.get(Number(c.scheduledEventId)) ?? '?', at(e) - (started.get(Number(c.scheduledEventId)) ?? at(e)));
    }
    if (events.length) add('workflow', at(events.at(-1)!) - at(events[0]!));
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, round(v.total / v.n / 1000, 2)]));
}

/**
 * 10. A Workspace fleet: `mailboxes` directory users (sizes between a third of and twice `perMailbox`) read with one
 * service-account key by one worker process on the embedded catalog (or by several on a PostgreSQL catalog),
 * `concurrency` at a time, under a project quota scaled down so that it binds. Aggregate messages/s against the
 * project's ceiling, fairness (slowest ÷ fastest mailbox rate, each mailbox's rate over its own extraction's time),
 * throttled responses, the largest worker's peak RSS, and where a mailbox's time goes (mean seconds per activity).
 */
export async function fleet(
  env: BenchEnv,
  mailboxes: number,
  perMailbox: number,
  concurrency: number,
  layout: { workers: number; catalog: 'embedded' | 'postgres' } = { workers: 1, catalog: 'embedded' },
): Promise<Row> {
  const units = 2500;
  const window = 10;
  const ceiling = projectCeiling(units, window);
  const emu = await startEmulator({
    seed: 'fleet-bench',
    messages: perMailbox,
    // Long-tailed, as real domains: most mailboxes small, a few very large (mean perMailbox).
    userSizes: 'long-tail',
    workspace: { domain: 'example.com', users: mailboxes - 1 },
    settings: { quota: 'legacy', projectQuotaUnits: units, projectQuotaWindowSeconds: window },
  });
  const keyFile = join(env.dir, 'fleet-service-account.json');
  writeFileSync(keyFile, JSON.stringify(emu.workspace!.key), { mode: 0o600 });
  // Its own queue and lake per layout and concurrency: a second run in one bench starts from an empty lake.
  const queue = `bench-fleet-${layout.catalog}-${layout.workers}-${concurrency}`;
  const postgres = layout.catalog === 'postgres' ? await startPostgres() : undefined;
  if (postgres) await postgres.createDatabase('fleet');
  const wenv = workerEnv(env.dir, env.temporal.address, queue, emu, {
    DATA_DIR: join(env.dir, `fleet-data-${layout.catalog}-${layout.workers}-${concurrency}`),
    // PostgreSQL: reads run concurrently, every worker commits, and the project's bookings are shared.
    ...(postgres ? { LAKE_CATALOG: 'postgres', LAKE_PG_DSN: postgres.dsn('fleet') } : {}),
    GMAIL_CREDENTIALS_FILE: keyFile,
    GMAIL_DIRECTORY_ADMIN: 'user@example.com',
    GMAIL_QUOTA_PROFILE: 'legacy',
    GMAIL_PROJECT_QUOTA_UNITS: String(units),
    GMAIL_PROJECT_QUOTA_WINDOW_SECONDS: String(window),
  });
  const workers = await Promise.all(Array.from({ length: layout.workers }, () => startWorkerProcess(wenv)));
  const connection = await Connection.connect({ address: env.temporal.address });
  const client = new Client({ connection });
  const fleets = createFleetService(client, queue, { pipelineDepth: 2, compactEvery: 50, events: false }, new MailboxIds(), 500);
  const extractions = createExtractionService(client, queue, { pipelineDepth: 2, compactEvery: 50, events: false }, new MailboxIds());
  try {
    const t0 = performance.now();
    const { id } = await fleets.start({ domain: 'example.com', format: 'metadata', batchSize: 100, concurrency });
    const done = await waitFor(
      'the fleet',
      async () => {
        const f = await fleets.get(id);
        return f.status !== 'running' && f.status !== 'paused' ? f : undefined;
      },
      3_600_000,
      1000,
    );
    const seconds = (performance.now() - t0) / 1000;
    const peakRssMiB = Math.max(
      ...workers.map((w) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${w.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024),
    );
    const rates: number[] = [];
    for (const u of emu.workspace!.users) {
      const x = await extractions.get(`gmail-extract-${u.primaryEmail}`);
      const t = (Date.parse(x.updatedAt ?? '') - Date.parse(x.startedAt ?? '')) / 1000;
      if (x.status === 'completed' && t > 0) rates.push(x.progress.persisted / t);
    }
    const stats = Object.values(emu.limits.snapshot()) as { served: number; throttled: number; projectThrottled?: number }[];
    const requests = stats.reduce((a, s) => a + s.served + s.throttled + (s.projectThrottled ?? 0), 0);
    // Where a mailbox's time goes: each activity's mean duration (started → completed) over 20 mailboxes' histories.
    const spent = await activitySeconds(
      client,
      emu.workspace!.users.slice(0, 20).map((u) => `gmail-extract-${u.primaryEmail}`),
    );
    return {
      scenario: `fleet of ${mailboxes} mailboxes, ${concurrency} at a time, scaled project quota, ${layout.workers} worker${layout.workers > 1 ? 's' : ''}${postgres ? ', PostgreSQL catalog' : ''}`,
      status: done.status,
      completed: done.mailboxes.completed,
      messages: done.messages.persisted,
      seconds: round(seconds),
      'msg/s': round(done.messages.persisted / seconds, 2),
      'project ceiling': round(ceiling, 2),
      'of ceiling': round(done.messages.persisted / seconds / ceiling, 3),
      'project throttled': `${round((100 * stats.reduce((n, s) => n + (s.projectThrottled ?? 0), 0)) / Math.max(1, requests), 2)}%`,
      fairness: round(Math.min(...rates) / Math.max(...rates), 2),
      'worker peak RSS MiB': round(peakRssMiB, 0),
      'mailbox s': spent.workflow ?? null,
      'prepare s': spent.prepareExtraction ?? null,
      'list s': spent.listPage ?? null,
      'batch s': spent.extractBatch ?? null,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close();
    await emu.close();
    await postgres?.stop();
  }
}
