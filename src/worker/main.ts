/**
 * `npm run worker`: a worker process alone (no HTTP API), for scaling out — any number, on any hosts, with a
 * PostgreSQL catalog — or for tests that kill it. Same configuration as `npm start`.
 */
import 'dotenv/config';
import { runEntryPoint } from '../entry.js';
import { startWorker } from './run.js';

await runEntryPoint(async (config, credentials) => {
  const worker = await startWorker(config, credentials);
  worker.logger.info({ pid: process.pid }, 'worker ready');
  return worker;
});
