/**
 * `npm run worker`: a worker process alone (no HTTP API), for scaling out with a PostgreSQL catalog, or for tests that
 * kill it. Same configuration as `npm start`.
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from '../config.js';
import { loadCredentials } from '../gmail/client.js';
import { startPipeline } from '../pipeline.js';

try {
  const config = loadConfig();
  if (!config.gmail.credentialsFile) throw new ConfigError('Invalid configuration:\n  GMAIL_CREDENTIALS_FILE: required');
  const pipeline = await startPipeline(config, loadCredentials(config.gmail.credentialsFile), { api: false });
  pipeline.logger.info({ pid: process.pid }, 'worker ready');
  const stop = () => void pipeline.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(e instanceof ConfigError ? 2 : 1);
}
