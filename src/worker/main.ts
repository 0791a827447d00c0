/**
 * `npm run worker`: a worker process alone (no HTTP API), for scaling out — any number, on any hosts, with a
 * PostgreSQL catalog — or for tests that kill it. Same configuration as `npm start`.
 */
import 'dotenv/config';
import { runEntryPoint } from '../entry.js';
import { startPipeline } from '../pipeline.js';

await runEntryPoint(async (config, credentials) => {
  const pipeline = await startPipeline(config, credentials, { api: false });
  pipeline.logger.info({ pid: process.pid }, 'worker ready');
  return pipeline;
});
