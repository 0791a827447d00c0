import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../src/api/app.js';
import { createExtractionService } from '../src/api/extractions.js';
import { createImportService } from '../src/api/imports.js';
import { GeneratedMailbox, USER_LABELS } from '../src/emulator/generate.js';
import { labelsHeader, mboxEntry } from '../src/export/takeout.js';
import { createLogger } from '../src/log.js';
import { MailboxIds } from '../src/mailbox-ids.js';
import type { ImportProgress } from '../src/workflows/import-contracts.js';
import { startWorkerProcess, workerEnv } from '../test/helpers/worker-process.js';
import type { BenchEnv } from './harness.js';
import { memoryOf } from './large.js';
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
  const queue = `bench-import-${Math.random().toString(36).slice(2, 8)}`;
  const wenv = workerEnv(
    env.dir,
    env.temporal.address,
    queue,
    { url: 'http://127.0.0.1:9', tokenUrl: 'http://127.0.0.1:9/token' },
    {
      DATA_DIR: join(env.dir, queue),
    },
  );
  const connection = await Connection.connect({ address: env.temporal.address });
  const client = new Client({ connection });
  const app = createApp({
    auth: undefined,
    extractions: createExtractionService(client, queue, { pipelineDepth: 2, compactEvery: 50, events: false }, new MailboxIds()),
    imports: createImportService(client, queue, new MailboxIds()),
    readiness: {},
    logger: createLogger('silent'),
  });
  const worker = await startWorkerProcess(wenv);
  try {
    const t0 = performance.now();
    const res = await app.request('/imports', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'imported@example.com', path: file, chunkBytes: chunkMB * 1024 * 1024 }),
    });
    const { id } = (await res.json()) as { id: string };
    let sampled = 0;
    let final: ImportProgress;
    for (;;) {
      sampled = Math.max(sampled, memoryOf(worker.child.pid!).rss);
      final = (await (await app.request(`/imports/${id}`)).json()) as ImportProgress;
      if (final.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - t0) / 1000;
    const { peak } = memoryOf(worker.child.pid!);
    return {
      scenario: `import of a ${megabytes} MB Takeout mbox (chunks of ${chunkMB} MB, one worker)`,
      status: final.status,
      messages: final.inserted,
      generated,
      MB: Math.round(final.bytes / 1e6),
      s: Math.round(seconds),
      'messages/s': Math.round(final.inserted / seconds),
      'MB/s': Math.round((final.bytes / 1e6 / seconds) * 10) / 10,
      'worker peak RSS MB': Math.round(peak),
      'worker RSS sampled max MB': Math.round(sampled),
    };
  } finally {
    await worker.stop();
    await connection.close();
  }
}
