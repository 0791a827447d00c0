import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config.js';
import { type DevServer, startDevServer } from '../../src/stack/dev-server.js';
import { DEFAULT_CLIENT, type EmulatorOptions, type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { projectRoot } from '../../src/stack/tools.js';
import { generateApiKey } from '../../src/api-keys.js';
import { freePort } from './ports.js';

export const credentials = {
  client_id: DEFAULT_CLIENT.clientId,
  client_secret: DEFAULT_CLIENT.clientSecret,
  refresh_token: DEFAULT_CLIENT.refreshToken,
};

/** An admin API key every test pipeline admits (API_KEYS of testConfig and workerEnv), and its header. */
const testKey = generateApiKey('test', 'admin');
export const TEST_API_KEY = testKey.key;
export const TEST_API_KEYS = testKey.entry;
export const authHeaders = { authorization: `Bearer ${TEST_API_KEY}` };

/** A temporary data dir and a real Temporal dev server on free ports (one per test file). */
export async function startTestTemporal(dynamicConfig: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-test-'));
  const opts = { dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: await freePort(), dynamicConfig };
  let server: DevServer;
  try {
    server = await startDevServer(opts);
  } catch (e) {
    // A port found free can be taken before the server binds it (the dev server also picks its internal services'
    // ports itself): a server that exited while starting gets one more try on fresh ports, then the error stands.
    if (!/exited with/.test(String(e))) throw e;
    Object.assign(opts, { port: await freePort(), uiPort: await freePort() });
    server = await startDevServer(opts);
  }
  return {
    dir,
    get address() {
      return server.address;
    },
    get server() {
      return server;
    },
    /** Stops and starts the server again on the same SQLite file. */
    async restart() {
      await server.stop();
      server = await startDevServer(opts);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type TestTemporal = Awaited<ReturnType<typeof startTestTemporal>>;

export function testConfig(
  temporal: { address: string; dir: string },
  emulator: RunningEmulator,
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: `test-${Math.random().toString(36).slice(2, 8)}`,
    API_PORT: '0',
    API_KEYS: TEST_API_KEYS,
    DATA_DIR: join(temporal.dir, `data-${Math.random().toString(36).slice(2, 8)}`),
    DUCKDB_EXTENSION_DIR: join(projectRoot, '.tools/duckdb-extensions'),
    GOOGLE_API_URL: emulator.url,
    GMAIL_LAKE_HOME: join(temporal.dir, 'home'),
    GMAIL_QUOTA_PROFILE: 'off',
    GMAIL_REQUEST_ATTEMPTS: '10',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...env,
  });
}

export async function startTestEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ seed: 'test', ...options });
}
