import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../src/config.js';
import { DEFAULT_CLIENT } from '../src/emulator/server.js';
import { type DevServer, startDevServer, stopProcessGroup } from '../src/stack/dev-server.js';
import { projectRoot } from '../src/stack/tools.js';
import type { Pipeline } from '../src/pipeline.js';
import { freePort, waitFor } from '../test/helpers/ports.js';
import type { ExtractionProgress } from '../src/workflows/contracts.js';

export const credentials = {
  client_id: DEFAULT_CLIENT.clientId,
  client_secret: DEFAULT_CLIENT.clientSecret,
  refresh_token: DEFAULT_CLIENT.refreshToken,
};

/** The emulator in its own process (so it never shares the worker's event loop), controlled over HTTP. */
export interface EmulatorProcess {
  url: string;
  tokenUrl: string;
  child: ChildProcess;
  stats(): Promise<Record<string, { served: number; throttled: number; concurrencyRejected: number; faults: number }>>;
  resetStats(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmulatorProcess(args: {
  messages: number;
  seed: string;
  quota?: string;
  concurrency?: number;
  /** `--large EVERY:MIN-MAX` (megabytes). */
  large?: string;
}): Promise<EmulatorProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot, 'src/emulator/main.ts'),
      '--port',
      String(port),
      '--messages',
      String(args.messages),
      '--seed',
      args.seed,
      '--quota',
      args.quota ?? 'off',
      '--concurrency',
      String(args.concurrency ?? 0),
      ...(args.large ? ['--large', args.large] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    'emulator process',
    async () => {
      if (child.exitCode !== null) throw new Error(out);
      return out.includes('listening');
    },
    60_000,
  );
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    tokenUrl: `${url}token`,
    child,
    stats: async () => ((await (await fetch(`${url}_emulator/stats`)).json()) as { methods: never }).methods,
    resetStats: async () => void (await fetch(`${url}_emulator/stats/reset`, { method: 'POST' })),
    stop: () => stopProcessGroup(child),
  };
}

export interface BenchEnv {
  dir: string;
  temporal: DevServer;
  stop(): Promise<void>;
}

export async function startBenchTemporal(): Promise<BenchEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-bench-'));
  const temporal = await startDevServer({ dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: await freePort() });
  return {
    dir,
    temporal,
    async stop() {
      await temporal.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function benchConfig(env: BenchEnv, emu: { url: string; tokenUrl: string }, extra: Record<string, string> = {}): Config {
  return loadConfig({
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_TASK_QUEUE: `bench-${Math.random().toString(36).slice(2, 8)}`,
    API_PORT: '0',
    // In-process, on loopback: the benchmark measures the pipeline, not authentication.
    API_AUTH: 'off',
    DATA_DIR: join(env.dir, `data-${Math.random().toString(36).slice(2, 8)}`),
    DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions'),
    GOOGLE_API_URL: emu.url,
    GMAIL_LAKE_HOME: join(env.dir, 'home'),
    GMAIL_QUOTA_PROFILE: 'off',
    LOG_LEVEL: 'warn',
    ...extra,
  });
}

/** Starts an extraction over HTTP and samples it until it closes; returns the final state and a time series. */
export async function runExtraction(
  p: Pipeline,
  body: Record<string, unknown>,
): Promise<{ final: ExtractionProgress; seconds: number; series: [number, number][] }> {
  const t0 = performance.now();
  const res = await fetch(`${p.url}/extract`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const { statusUrl } = (await res.json()) as { statusUrl: string };
  const series: [number, number][] = [];
  for (;;) {
    const s = (await (await fetch(`${p.url}${statusUrl}`)).json()) as ExtractionProgress;
    series.push([(performance.now() - t0) / 1000, s.progress.persisted + s.progress.skipped]);
    if (s.status !== 'running' && s.status !== 'paused') return { final: s, seconds: (performance.now() - t0) / 1000, series };
    await new Promise((r) => setTimeout(r, 500));
  }
}
