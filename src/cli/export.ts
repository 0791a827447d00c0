import { exportMessages } from '../export/export.js';
import { mailboxOf } from './extractions.js';
import { CliError, EXIT, type Out } from './output.js';
import { withReadLake } from './read-lake.js';
import type { Home } from './settings.js';

/**
 * `export`: a mailbox's stored messages (those a Gmail query finds, or all) as Takeout's mbox or .eml files, byte for
 * byte; progress on stderr; messages stored without their bytes are listed and make the exit code 1.
 */
export async function exportCommand(
  home: Home,
  o: { account?: string; q?: string; mbox?: string; emlDir?: string; includeDeleted?: boolean },
  out: Out,
): Promise<number> {
  if (!o.mbox === !o.emlDir) throw new CliError('name one destination: --mbox FILE or --eml-dir FOLDER', EXIT.usage);
  const account = mailboxOf(home, o.account, false);
  return withReadLake(home, async (lake) => {
    const result = await exportMessages(lake, {
      account,
      q: o.q,
      mbox: o.mbox,
      emlDir: o.emlDir,
      includeDeleted: o.includeDeleted,
      progress: (n) => {
        if (!out.json && process.stderr.isTTY) process.stderr.write(`\r${n.toLocaleString('en-US')} messages written`);
      },
    });
    if (!out.json && process.stderr.isTTY) process.stderr.write('\n');
    out.result(result, () => {
      out.line(
        `Exported ${result.exported.toLocaleString('en-US')} messages of ${account} (${(result.bytes / 1e6).toFixed(1)} MB) to ${o.mbox ?? o.emlDir}.`,
      );
      if (result.deletedInGmail)
        out.line(
          `${result.deletedInGmail.toLocaleString('en-US')} messages of ${account} deleted in Gmail are kept in the lake and were left out (--include-deleted exports them).`,
        );
      if (result.notExportable.length) {
        out.line(
          `Not exportable: ${result.notExportable.length} stored without their bytes (extract with --format raw to keep them): ${result.notExportable
            .slice(0, 20)
            .map((m) => `${m.id} (${m.format ?? '?'})`)
            .join(', ')}${result.notExportable.length > 20 ? ', …' : ''}`,
        );
      }
    });
    return result.notExportable.length ? EXIT.failed : EXIT.ok;
  });
}
