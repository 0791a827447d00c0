/**
 * One writer of the persist race test, as its own process: opens the lake named by the environment, stages messages
 * [FROM, TO) of a generated mailbox, prints "ready", waits for "go" on stdin, persists, prints the result as JSON.
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config.js';
import { persistStaged } from '../../src/lake/batches.js';
import { stageBatch } from '../../src/lake/staging.js';
import { Lake } from '../../src/lake/lake.js';
import { syntheticCheckpoint, syntheticRows } from './rows.js';

const [account, from, to, size, name] = process.argv.slice(2) as [string, string, string, string, string];
const config = loadConfig(process.env).lake;
const lake = await Lake.open(config);
const slice = syntheticRows(Number(size), account, Number(from), Number(to));
const dir = await stageBatch(join(config.stagingDir, name), slice.messages, slice.attachments);
const lines = createInterface({ input: process.stdin });
console.log('ready');
for await (const line of lines) {
  if (line !== 'go') continue;
  const result = await persistStaged(
    lake,
    dir,
    syntheticCheckpoint(account, name),
    slice.messages.map((m) => m.id),
  );
  console.log(JSON.stringify({ ...result, conflicts: lake.conflicts }));
  break;
}
lake.close();
process.exit(0);
