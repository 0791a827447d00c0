import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { GeneratedMailbox, USER_LABELS } from '../src/emulator/generate.js';
import { labelsHeader, mboxEntry } from '../src/export/takeout.js';
import type { ImportProgress } from '../src/workflows/import-contracts.js';
import type { BenchEnv } from './harness.js';
import { measuredWorkerRun } from './large.js';
import type { Row } from './scenarios.js';

/** Writes a Takeout mbox of generated mail (the emulator's, with its labels) of at least `bytes`; its message count. */
async function takeoutOf(path: string, bytes: number): Promise<number> {
  const mailbox = new GeneratedMailbox('bench-import', 10_000_000, 'user@example.com');
  const names = new Map(USER_LABELS.map((l) => [l.id, l.name]));
  const out = createWriteStream(path);
  let written = 0;
  let i = 0;
  for (; written < bytes; i++) {
    const m = mailbox.meta(i);
    const raw = mailbox.raw(i);
    for (const part of mboxEntry(
      { id: m.id, threadId: m.threadId, internalDate: m.internalDate, labels: labelsHeader(m.labelIds, names) },
      raw,
    )) {
      written += Buffer.byteLength(part);
      if (!out.write(part)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return i;
}

/**
 * `gmail-lake import` of a Takeout mbox of `megabytes` MB by one worker process with its defaults (chunks of 16 MB):
 * messages per second and the worker's peak resident memory. The target: ≥ 2,000 messages/s and RSS < 512 MB
 * for a 2 GB file.
 */
export async function importMbox(env: BenchEnv, megabytes: number, chunkMB = 16): Promise<Row> {
  const file = join(env.dir, `import-${megabytes}.mbox`);
  const generated = await takeoutOf(file, megabytes * 1e6);
  const { final, seconds, peak, sampled, cpuMs } = await measuredWorkerRun<ImportProgress>(
    env,
    'import',
    // No Gmail: an import reads only the file.
    { url: 'http://127.0.0.1:9', tokenUrl: 'http://127.0.0.1:9/token' },
    {},
    { path: '/imports', body: { account: 'imported@example.com', path: file, chunkBytes: chunkMB * 1024 * 1024 } },
    (id) => `/imports/${id}`,
  );
  return {
    scenario: `import of a ${megabytes} MB Takeout mbox (chunks of ${chunkMB} MB, one worker)`,
    status: final.status,
    messages: final.inserted,
    generated,
    MB: Math.round(final.bytes / 1e6),
    s: Math.round(seconds),
    'messages/s': Math.round(final.inserted / seconds),
    'MB/s': Math.round((final.bytes / 1e6 / seconds) * 10) / 10,
    'worker CPU ms/msg': Math.round((cpuMs / final.inserted) * 1000) / 1000,
    'worker peak RSS MB': Math.round(peak),
    'worker RSS sampled max MB': Math.round(sampled),
  };
}
