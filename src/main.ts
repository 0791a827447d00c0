/**
 * `npm start`: API + worker in one process against the Gmail API named by GMAIL_ROOT_URL / GMAIL_TOKEN_URL with the
 * OAuth credentials in GMAIL_CREDENTIALS_FILE, and the Temporal server at TEMPORAL_ADDRESS (`npm run stack` locally).
 */
import 'dotenv/config';
import { runEntryPoint } from './entry.js';
import { startPipeline } from './pipeline.js';

await runEntryPoint(async (config, credentials) => {
  const pipeline = await startPipeline(config, credentials);
  console.error(`gmail-lake API on ${pipeline.url} (docs ${pipeline.url}/docs), Temporal UI ${config.temporal.uiUrl}`);
  return pipeline;
});
