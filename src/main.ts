/**
 * `npm start`: API + worker in one process against the Gmail API named by GMAIL_ROOT_URL / GMAIL_TOKEN_URL with the
 * OAuth credentials in GMAIL_CREDENTIALS_FILE, and the Temporal server at TEMPORAL_ADDRESS (`npm run stack` locally).
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from './config.js';
import { loadCredentials } from './gmail/client.js';
import { startPipeline } from './pipeline.js';

try {
  const config = loadConfig();
  if (!config.gmail.credentialsFile)
    throw new ConfigError(
      'Invalid configuration:\n  GMAIL_CREDENTIALS_FILE: required (an authorized_user JSON with client_id, client_secret, refresh_token)',
    );
  const pipeline = await startPipeline(config, loadCredentials(config.gmail.credentialsFile));
  console.error(`gmail-lake API on ${pipeline.url} (docs ${pipeline.url}/docs), Temporal UI ${config.temporal.uiUrl}`);
  const stop = () => void pipeline.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(e instanceof ConfigError ? 2 : 1);
}
