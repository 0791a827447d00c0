/**
 * `npm run bench` (quick, a few minutes) or `npm run bench -- --full` (the issue's sizes). Prints a table per scenario
 * and writes bench/results/<quick|full>-<scenarios>.json with the machine's description.
 * `--only emulator,quota,workers,project,ceiling,cpu,http,many,lake,statements,reads,scale,memory,recovery,mirror,fleet,large,import,search,threads,push`;
 * `--report FILE` prints a results file as the README's Markdown table; `--scale N` / `--memory N` / `--search N` set those
 * scenarios' sizes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/stack/tools.js';
import { startBenchTemporal } from './harness.js';
import { workerCpu } from './cpu.js';
import { httpClient } from './http.js';
import { importMbox } from './import.js';
import { largeMessages } from './large.js';
import { memoryOverBackfill } from './memory.js';
import { markdownReport } from './report.js';
import { searchIndex } from './search.js';
import { threadFetching } from './threads.js';
import { pushFreshness } from './push.js';
import { lakeStatements } from './statements.js';
import { readsBesideWrites } from './reads.js';
import {
  emulatorThroughput,
  fleet,
  lakeWrites,
  manyMailboxes,
  mirror,
  projectQuota,
  quotaBound,
  quotaWorkers,
  recovery,
  type Row,
  scale,
  unthrottled,
} from './scenarios.js';

const DEFAULT_ONLY =
  'emulator,quota,workers,project,ceiling,cpu,http,many,lake,statements,reads,scale,memory,recovery,mirror,fleet,large,import,search,threads,push';
const { values } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    // The cpu scenario's worker profiled: self time per area and the top functions (`--only cpu --profile`).
    profile: { type: 'boolean', default: false },
    // The cpu scenario's worker run compiled (dist/, as the container image runs it) as well as under tsx; the memory
    // scenario's worker and compactor run compiled only.
    compiled: { type: 'boolean', default: false },
    // The memory scenario's worker's own settings, `K=V,K=V` (e.g. `LAKE_MEMORY_LIMIT=128MB`).
    'worker-env': { type: 'string', default: '' },
    // The memory scenario's data files in a MinIO server (S3).
    'memory-s3': { type: 'boolean', default: false },
    // The memory scenario's batch size (the API's default, 100, unless given).
    'memory-batch': { type: 'string' },
    // The fleet scenario's mailboxes at once (`20` by default; several, comma-separated, are measured in turn).
    'fleet-concurrency': { type: 'string', default: '20' },
    // The fleet scenario's layouts (`embedded,postgres` by default).
    'fleet-layouts': { type: 'string', default: 'embedded,postgres' },
    // The cpu scenario's formats (`full,raw` by default).
    'cpu-formats': { type: 'string', default: 'full,raw' },
    only: { type: 'string', default: DEFAULT_ONLY },
    report: { type: 'string' },
    // Overrides the scale scenario's mailbox size (diagnostic runs between full ones).
    scale: { type: 'string' },
    // Overrides the memory scenario's mailbox size.
    memory: { type: 'string' },
    // Overrides the search scenario's lake size.
    search: { type: 'string' },
    // Overrides the statements scenario's number of mailboxes.
    statements: { type: 'string' },
  },
});
if (values.report) {
  console.log(markdownReport(values.report));
  process.exit(0);
}
const full = values.full;
const only = new Set(values.only.split(','));
const size = {
  quotaSeconds: full ? 130 : 30,
  ceiling: full ? 50_000 : 5_000,
  cpu: full ? 50_000 : 10_000,
  http: full ? 20_000 : 6_000,
  many: full ? 2_500 : 250,
  manyQuota: full ? 1_000 : 150,
  lake: full ? 50_000 : 5_000,
  statements: values.statements ? Number(values.statements) : full ? 1_000 : 200,
  reads: full ? 64 : 24,
  scale: values.scale ? Number(values.scale) : full ? 1_000_000 : 20_000,
  memory: values.memory ? Number(values.memory) : full ? 1_000_000 : 50_000,
  recovery: full ? 20_000 : 5_000,
  project: full ? 600 : 150,
  mirror: full ? 100_000 : 20_000,
  fleetMailboxes: 200,
  fleetPerMailbox: full ? 100 : 20,
  large: full ? 200 : 40,
  importMB: full ? 2_000 : 200,
  search: values.search ? Number(values.search) : full ? 1_000_000 : 50_000,
  threads: full ? 10_000 : 2_000,
  push: full ? { size: 20_000, arrivals: 100 } : { size: 2_000, arrivals: 30 },
};

const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: process.platform,
};
const results: Row[] = [];
const env = await startBenchTemporal();
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/${full ? 'full' : 'quick'}-${values.only === DEFAULT_ONLY ? 'all' : values.only.replaceAll(',', '-')}.json`;
/** Prints each result and rewrites the results file at once, so a later failure keeps what was measured. */
const record = (rows: Row | Row[]) => {
  for (const r of [rows].flat()) {
    results.push(r);
    console.table([r]);
  }
  writeFileSync(
    file,
    JSON.stringify({ at: new Date().toISOString(), mode: full ? 'full' : 'quick', sizes: size, machine, results }, null, 2),
  );
};
/** Runs one scenario; a failure is recorded as a row with its error, so one broken scenario never loses the others. */
const measure = async (scenario: string, run: () => Promise<Row | Row[]>) => {
  try {
    record(await run());
  } catch (e) {
    console.error(`scenario ${scenario} failed:`, e);
    record({ scenario, error: e instanceof Error ? e.message : String(e) });
  }
};
try {
  // Scale first: it reports the process's peak RSS, which earlier scenarios would inflate (freed memory stays mapped).
  if (only.has('scale')) await measure(`scale ${size.scale}`, () => scale(env, size.scale));
  if (only.has('memory')) {
    if (values.compiled) execFileSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'inherit' });
    const workerEnv = Object.fromEntries(
      values['worker-env']
        .split(',')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    await measure(`memory ${size.memory}`, () =>
      memoryOverBackfill(
        env,
        size.memory,
        `bench/results/${full ? 'full' : 'quick'}-memory-rss-${size.memory}${values['memory-s3'] ? '-s3' : ''}.png`,
        {
          compiled: values.compiled,
          workerEnv,
          s3: values['memory-s3'],
          batchSize: values['memory-batch'] ? Number(values['memory-batch']) : undefined,
        },
      ),
    );
  }
  if (only.has('emulator'))
    for (const f of ['raw', 'full'] as const) await measure(`emulator ${f}`, () => emulatorThroughput(f, full ? 30 : 10));
  if (only.has('quota'))
    for (const p of ['legacy', '2026'] as const) await measure(`quota ${p}`, () => quotaBound(env, p, size.quotaSeconds));
  if (only.has('workers')) await measure('quota legacy, 3 workers', () => quotaWorkers(env, 3, size.quotaSeconds));
  if (only.has('project')) await measure('project quota', () => projectQuota(env, 20, size.project));
  if (only.has('ceiling'))
    for (const f of ['full', 'raw'] as const) await measure(`unthrottled ${f}`, () => unthrottled(env, f, size.ceiling));
  if (only.has('cpu')) {
    if (values.compiled) execFileSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'inherit' });
    for (const compiled of values.compiled ? [false, true] : [false])
      for (const f of values['cpu-formats'].split(',') as ('full' | 'raw')[])
        await measure(`worker cpu ${f}`, () => workerCpu(env, f, size.cpu, { profile: values.profile, compiled }));
  }
  if (only.has('http')) await measure('http client', () => httpClient(size.http));
  if (only.has('many')) {
    await measure('many off', () => manyMailboxes(env, 20, size.many, 'off'));
    await measure('many legacy', () => manyMailboxes(env, 20, size.manyQuota, 'legacy'));
  }
  if (only.has('lake')) await measure('lake writes', () => lakeWrites(env, size.lake));
  if (only.has('statements')) await measure('lake statements', () => lakeStatements(env, size.statements));
  if (only.has('reads')) await measure('reads beside writes', () => readsBesideWrites(env, size.reads));
  if (only.has('recovery')) await measure('recovery', () => recovery(env, size.recovery));
  if (only.has('mirror')) await measure('mirror', () => mirror(env, size.mirror, 1_000));
  if (only.has('fleet')) {
    for (const concurrency of values['fleet-concurrency'].split(',').map(Number)) {
      const layouts = values['fleet-layouts'].split(',');
      if (layouts.includes('embedded')) await measure('fleet', () => fleet(env, size.fleetMailboxes, size.fleetPerMailbox, concurrency));
      if (layouts.includes('postgres'))
        await measure('fleet postgres', () =>
          fleet(env, size.fleetMailboxes, size.fleetPerMailbox, concurrency, { workers: 2, catalog: 'postgres' }),
        );
    }
  }
  if (only.has('large')) await measure('large', () => largeMessages(env, size.large));
  if (only.has('search')) await measure('search', () => searchIndex(env, size.search));
  if (only.has('import')) for (const mb of [16, 4]) await measure(`import ${mb}`, () => importMbox(env, size.importMB, mb));
  if (only.has('threads')) for (const rate of [0.35, 0.8]) await measure(`threads ${rate}`, () => threadFetching(env, size.threads, rate));
  if (only.has('push')) await measure('push', () => pushFreshness(env, size.push.size, size.push.arrivals));
} finally {
  await env.stop();
}
console.log(`\nmachine: ${JSON.stringify(machine)}\nresults: ${file}`);
process.exit(0);
