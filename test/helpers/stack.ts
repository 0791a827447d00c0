import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config.js';
import { startDevServer, startDevServerOnFreePorts } from '../../src/stack/dev-server.js';
import { DEFAULT_CLIENT, type EmulatorOptions, type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { projectRoot } from '../../src/stack/tools.js';
import { generateApiKey } from '../../src/api-keys.js';

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

const portOf = (address: string) => Number(/:(\d+)\/?$/.exec(address)![1]);

/** A temporary data dir and a real Temporal dev server on free ports (one per test file). */
export async function startTestTemporal(dynamicConfig: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-test-'));
  let server = await startDevServerOnFreePorts({ dbFile: join(dir, 'temporal.db'), dynamicConfig });
  const opts = { dbFile: join(dir, 'temporal.db'), port: portOf(server.address), uiPort: portOf(server.uiUrl), dynamicConfig };
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
      // The same ports (clients hold the address); the internal services' ports are picked afresh and can collide.
      for (let attempt = 1; ; attempt++) {
        try {
          server = await startDevServer(opts);
          break;
        } catch (e) {
          if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
        }
      }
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
