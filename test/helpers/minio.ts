import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'minio';
import { stopProcessGroup } from '../../src/stack/dev-server.js';
import { toolPath } from '../../src/stack/tools.js';
import { freePort, waitFor } from './ports.js';
import { onFreePort, PortTaken } from '../../src/stack/ports.js';

export interface TestMinio {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  client: Client;
  /** The S3 environment (AWS_*, S3_URL_STYLE) of a lake whose data path is in `bucket`. */
  env(bucket: string): Record<string, string>;
  createBucket(name: string): Promise<void>;
  /** Stops the server (every connection cut), waits `downMs`, and starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Under `npm test` MinIO may still be building in the background (scripts/test.sh writes ok|failed to
 * MINIO_READY_FILE when the build ends): waits for it, or fails with where the build log is.
 */
async function minioBuilt(): Promise<void> {
  const file = process.env.MINIO_READY_FILE;
  if (!file) return;
  const status = await waitFor(
    'the MinIO build',
    async () => (existsSync(file) && readFileSync(file, 'utf8').trim()) || undefined,
    900_000,
    1000,
  );
  if (status !== 'ok') throw new Error(`building MinIO failed: see .tools/test-logs/provision-go.log`);
}

/** A real MinIO server (provisioned binary) on a free port over a temporary folder, removed on stop. */
export async function startMinio(): Promise<TestMinio> {
  await minioBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-minio-'));
  const accessKey = 'lake-test-access';
  const secretKey = `lake-test-secret-${Math.random().toString(36).slice(2)}`;
  let out = '';
  let port = 0;
  let consolePort = 0;
  const serve = async (spawned?: (c: ChildProcess) => void): Promise<ChildProcess | undefined> => {
    const endpoint = `127.0.0.1:${port}`;
    const child = spawn(
      toolPath('minio', 'MINIO_SERVER'),
      ['server', join(dir, 'data'), '--address', endpoint, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
      {
        env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    spawned?.(child);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // Ours when it knows our credentials (another test file's MinIO on a port taken meanwhile does not).
    const ours = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey });
    const served = await waitFor(
      'MinIO to serve',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        if (!(await fetch(`http://${endpoint}/minio/health/live`).catch(() => undefined))?.ok) return false;
        await ours.listBuckets();
        return 'serving';
      },
      60_000,
    );
    return served === 'serving' ? child : undefined;
  };
  // A port found free can be taken before the server binds it (other test files start servers too): a server that
  // exits while starting is started again on fresh ports.
  let child: ChildProcess | undefined;
  let starting: ChildProcess | undefined;
  try {
    child = await onFreePort(undefined, async (p) => {
      port = p;
      consolePort = await freePort();
      const served = await serve((c) => (starting = c));
      if (!served) throw new PortTaken(new Error(`minio exited while starting, on three ports in turn: ${out.slice(-2000)}`));
      return served;
    });
  } catch (e) {
    if (starting) await stopProcessGroup(starting);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `127.0.0.1:${port}`;
  const client = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey });
  return {
    endpoint,
    accessKey,
    secretKey,
    client,
    env: (bucket) => ({
      LAKE_DATA_PATH: `s3://${bucket}/lake/`,
      AWS_ENDPOINT_URL_S3: `http://${endpoint}`,
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
      S3_URL_STYLE: 'path',
    }),
    createBucket: (name) => client.makeBucket(name),
    async restart(downMs = 0) {
      await stopProcessGroup(child!);
      if (downMs > 0) await delay(downMs);
      child = await serve();
      if (!child) throw new Error(`minio exited while starting again on port ${port}: ${out.slice(-2000)}`);
    },
    async stop() {
      if (child) await stopProcessGroup(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
