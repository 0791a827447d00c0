/**
 * `npm run compactor`: the lake's compactions in a process of their own, on LAKE_COMPACTION_TASK_QUEUE (set it for the
 * API, the workers and this process alike). Same configuration as `npm run worker`; no Gmail credentials needed.
 */
import 'dotenv/config';
import { runEntryPoint } from '../entry.js';
import { startCompactor } from './compactor.js';

await runEntryPoint(
  async (config) => {
    const compactor = await startCompactor(config);
    compactor.logger.info({ pid: process.pid }, 'compactor ready');
    return compactor;
  },
  { gmail: false },
);
