/**
 * `npm run api`: the HTTP API alone (no worker, no lake), for the scaled-out layout where workers run elsewhere
 * (`npm run worker`). It needs the Gmail credentials only to resolve `me` to the mailbox address.
 */
import 'dotenv/config';
import { runEntryPoint } from '../entry.js';
import { startPipeline } from '../pipeline.js';

await runEntryPoint(async (config, credentials) => {
  const pipeline = await startPipeline(config, credentials, { worker: false });
  pipeline.logger.info({ pid: process.pid, url: pipeline.url }, 'api ready');
  return pipeline;
});
