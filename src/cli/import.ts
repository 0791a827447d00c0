import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT, type Out, plural, pollUntilEnded } from './output.js';
import type { ImportProgress } from '../workflows/import-contracts.js';

const n = (v: number) => v.toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * `import`: starts (or joins) the import of an mbox file into a mailbox, then follows it — a bar of the file's bytes on
 * a terminal, a line every 15 s otherwise — until it ends or Ctrl-C detaches (the import keeps running).
 */
export async function importCommand(
  api: ApiClient,
  o: { mbox: string; account: string; chunkBytes?: number; detach?: boolean },
  out: Out,
): Promise<number> {
  const path = resolve(o.mbox);
  let size: number;
  try {
    const s = statSync(path);
    if (!s.isFile()) throw new CliError(`${path} is not a file`, EXIT.usage);
    size = s.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, EXIT.usage);
  }
  const { status, body } = await api.call<{ id: string; created: boolean }>('POST', '/imports', {
    account: o.account,
    path,
    ...(o.chunkBytes ? { chunkBytes: o.chunkBytes } : {}),
  });
  if (!out.json)
    process.stderr.write(
      `${status === 202 ? 'Started' : 'Joined the running'} import of ${path} (${mb(size)}) into ${o.account} (${body.id}).\n`,
    );
  if (o.detach) {
    out.result({ id: body.id, created: body.created }, () =>
      out.line(`Follow it: gmail-lake import --mbox '${path}' --account ${o.account}`),
    );
    return EXIT.ok;
  }
  const bar =
    process.stdout.isTTY && !out.json
      ? new cliProgress.SingleBar(
          { format: ' {bar} {percentage}% | {done} of {all} | {messages} messages', hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  let lastLine = 0;
  const show = (p: ImportProgress) => {
    if (bar) bar.update(p.offset, { done: mb(p.offset), all: mb(p.size ?? size), messages: n(p.messages) });
    else if (!out.json && Date.now() - lastLine > 15_000) {
      out.line(`${p.status} ${p.percent}% — ${mb(p.offset)} of ${mb(p.size ?? size)}, ${n(p.messages)} messages`);
      lastLine = Date.now();
    }
  };
  let followed: { last: ImportProgress | undefined; detached: boolean };
  try {
    bar?.start(Math.max(size, 1), 0, { done: mb(0), all: mb(size), messages: 0 });
    followed = await pollUntilEnded(
      async () => (await api.call<ImportProgress>('GET', `/imports/${encodeURIComponent(body.id)}`)).body,
      show,
      (p) => p.status !== 'running',
    );
  } finally {
    bar?.stop();
  }
  const { last: p, detached } = followed;
  if (detached || !p) {
    out.result({ id: body.id, detached: true, progress: p ?? null }, () => {
      out.line(`Detached: the import keeps running (workflow ${body.id}).`);
      out.line(`  re-attach  gmail-lake import --mbox '${path}' --account ${o.account}`);
      out.line(`  cancel     npm run temporal -- workflow cancel --workflow-id '${body.id}'`);
    });
    return EXIT.ok;
  }
  const ok = p.status === 'completed';
  out.result(p, () => {
    out.line(
      `${ok ? 'Imported' : `Import ${p.status}`}: ${plural(p.messages, 'message')} read (${mb(p.bytes)}), ${n(p.inserted)} stored, ${n(p.present)} already in ${p.account}, ${n(p.malformed)} malformed (stored, flagged).`,
    );
    if (p.error) out.line(`Reason: ${p.error}`);
    if (ok) out.line(`Search it: gmail-lake search --account ${p.account} "…"`);
  });
  return ok ? EXIT.ok : EXIT.failed;
}
