/**
 * `npm run api`: the HTTP API alone (no worker, no lake), for the scaled-out layout where workers run elsewhere
 * (`npm run worker`). It needs the Gmail credentials only to resolve `me` to the mailbox address.
 */
import 'dotenv/config';
import { runEntryPoint } from '../entry.js';
import { startApi } from './server.js';

await runEntryPoint(async (config, credentials) => {
  const api = await startApi(config, credentials);
  api.logger.info({ pid: process.pid, url: api.url }, 'api ready');
  return api;
});
