/**
 * `npm run api`: the HTTP API alone (no worker, no lake), for the scaled-out layout where workers run elsewhere
 * (`npm run worker`). It needs the Gmail credentials only to resolve `me` to the mailbox address.
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from '../config.js';
import { loadCredentials } from '../gmail/client.js';
import { startPipeline } from '../pipeline.js';

try {
  const config = loadConfig();
  if (!config.gmail.credentialsFile) throw new ConfigError('Invalid configuration:\n  GMAIL_CREDENTIALS_FILE: required (to resolve `me`)');
  const pipeline = await startPipeline(config, loadCredentials(config.gmail.credentialsFile), { worker: false });
  pipeline.logger.info({ pid: process.pid, url: pipeline.url }, 'api ready');
  const stop = () => void pipeline.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(e instanceof ConfigError ? 2 : 1);
}
