import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { projectRoot } from '../../src/stack/tools.js';
import { waitFor } from './ports.js';
import { credentials, TEST_API_KEYS } from './stack.js';

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** kill -9: no shutdown, no cleanup. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Environment of a worker process configured like `npm run worker`. */
export function workerEnv(
  dir: string,
  temporalAddress: string,
  taskQueue: string,
  emu: Pick<RunningEmulator, 'url' | 'tokenUrl'>,
  extra: Record<string, string> = {},
) {
  const credentialsFile = join(dir, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify(credentials));
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DATA_DIR: join(dir, 'data'),
    DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions'),
    GOOGLE_API_URL: emu.url,
    GMAIL_LAKE_HOME: join(dir, 'home'),
    GMAIL_CREDENTIALS_FILE: credentialsFile,
    GMAIL_QUOTA_PROFILE: 'off',
    GMAIL_REQUEST_ATTEMPTS: '10',
    LOG_LEVEL: 'info',
    API_KEYS: TEST_API_KEYS,
    ...extra,
  };
}

export interface ProcessOptions {
  /** The entry under src/ (default the worker). */
  entry?: string;
  /** Run the compiled JavaScript under dist/ (`npm run build`) instead of the TypeScript source through tsx. */
  compiled?: boolean;
  /** The line that says it is ready (default "worker ready"). */
  ready?: string;
  /**
   * Run it as a separate host: its own mount namespace with a private, empty tmpfs mounted over each of these folders
   * (the same absolute paths as every other "host", but a different filesystem), so nothing it writes there can be
   * reached from another process, whatever path that process uses. Needs root (unshare -m).
   */
  privateDirs?: string[];
}

/** Starts `src/worker/main.ts` (or `entry`) in its own process and waits for its ready line. */
export async function startWorkerProcess(env: Record<string, string>, options: ProcessOptions = {}): Promise<WorkerProcess> {
  const entry = options.entry ?? 'src/worker/main.ts';
  const node = options.compiled
    ? [process.execPath, join(projectRoot, entry.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'))]
    : [process.execPath, '--import', 'tsx', join(projectRoot, entry)];
  const [cmd, ...args] = options.privateDirs?.length
    ? [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        // Mount a private tmpfs over each folder, then become the node process (exec keeps the pid for kill -9).
        `set -e; for d in ${options.privateDirs.map((d) => `'${d}'`).join(' ')}; do mkdir -p "$d"; mount -t tmpfs -o size=1g tmpfs "$d"; done; exec "$@"`,
        'host',
        ...node,
      ]
    : node;
  const child = spawn(cmd!, args, {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = options.ready ?? 'worker ready';
  await waitFor(
    `${options.entry ?? 'worker'} process ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`process exited ${child.exitCode}: ${out.slice(-3000)}`);
      return out.includes(ready);
    },
    120_000,
  );
  return {
    child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts `n` worker processes at once; when one fails to start, the others are stopped before the error is thrown. */
export async function startWorkerProcesses(env: Record<string, string>, n: number, options: ProcessOptions = {}): Promise<WorkerProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startWorkerProcess(env, options)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (!failed) return workers;
  await Promise.all(workers.map((w) => w.stop()));
  throw failed.reason;
}
