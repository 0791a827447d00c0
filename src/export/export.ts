/**
 * `export`: the stored bytes of a mailbox's messages (all, or those a Gmail query finds) as Takeout's mbox or a folder
 * of .eml files, streamed: pages of 500 ids, their bytes read in groups of at most 32 MB (a larger message alone) and
 * written with backpressure, so memory stays flat whatever the mailbox's size. A message stored without its bytes
 * (format other than raw) cannot be exported: it is listed, never skipped silently.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import type { Lake } from '../lake/lake.js';
import { readRaws } from '../lake/read.js';
import { searchMessages, userLabels } from '../lake/search.js';
import { labelsHeader, mboxEntry } from './takeout.js';

export interface ExportOptions {
  account: string;
  q?: string;
  /** Write one mbox file here (Takeout's layout) … */
  mbox?: string;
  /** … or one `<id>.eml` per message in this folder (the bytes exactly). */
  emlDir?: string;
  /** Also the messages deleted in Gmail that the lake keeps (deleted_at). */
  includeDeleted?: boolean;
  /** Called after each page with the messages written so far. */
  progress?: (written: number) => void;
}

export interface ExportResult {
  exported: number;
  bytes: number;
  /** Messages the query found that were stored without their bytes. */
  notExportable: { id: string; format: string | null }[];
  /** Messages of the account deleted in Gmail, kept in the lake, not exported (without includeDeleted). */
  deletedInGmail: number;
}

const GROUP_BYTES = 32 * 1024 * 1024;

/** Writes with backpressure; a stream that failed (a full disk, a folder that is not there) fails the export. */
async function write(out: WriteStream, chunk: Buffer | string, failed: Promise<void>): Promise<void> {
  if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
}

/** A stream's end as a promise that rejects with its error (attached at once, so no error goes unheard). */
function ended(out: WriteStream): Promise<void> {
  const done = finished(out);
  done.catch(() => undefined);
  return done;
}

export async function exportMessages(lake: Lake, o: ExportOptions): Promise<ExportResult> {
  if (!o.mbox === !o.emlDir) throw new Error('export to an mbox file or to an .eml folder (one of them)');
  const labels = await userLabels(lake, o.account);
  const mbox = o.mbox ? createWriteStream(o.mbox) : undefined;
  const mboxEnded = mbox && ended(mbox);
  if (o.emlDir) mkdirSync(o.emlDir, { recursive: true });
  const [deleted] = o.includeDeleted
    ? [{ n: 0 }]
    : await lake.query<{ n: number }>(
        `SELECT count(*)::INTEGER AS n FROM lake.messages WHERE account = $account AND deleted_at IS NOT NULL`,
        {
          account: o.account,
        },
      );
  const result: ExportResult = { exported: 0, bytes: 0, notExportable: [], deletedInGmail: deleted?.n ?? 0 };
  try {
    let cursor: string | undefined;
    do {
      // The whole mailbox by default, spam and trash included (as Takeout exports it).
      const page = await searchMessages(lake, {
        account: o.account,
        q: o.q,
        limit: 500,
        cursor,
        spamTrash: true,
        deleted: o.includeDeleted,
        labels,
        // Newest first from the lake itself (the export reads its bytes there anyway): no index to build first.
        order: 'date',
        index: false,
      });
      cursor = page.nextCursor;
      const ids = page.messages.map((m) => m.id);
      const sizes = await lake.query<{ id: string; format: string | null; has_raw: boolean; size: number | null }>(
        `SELECT id, format, raw IS NOT NULL AS has_raw, size_estimate AS size FROM lake.messages
          WHERE account = $account AND id IN (SELECT unnest($ids::VARCHAR[]))`,
        { account: o.account, ids: listValue(ids) },
      );
      const info = new Map(sizes.map((s) => [s.id, s]));
      // Groups of ids whose bytes together stay under GROUP_BYTES, in the page's order (newest first).
      const groups: string[][] = [];
      let size = Infinity;
      for (const m of page.messages) {
        const s = info.get(m.id);
        if (!s?.has_raw) {
          result.notExportable.push({ id: m.id, format: s?.format ?? null });
          continue;
        }
        const bytes = Number(s.size ?? 0);
        if (size + bytes > GROUP_BYTES) {
          groups.push([]);
          size = 0;
        }
        groups.at(-1)!.push(m.id);
        size += bytes;
      }
      const hits = new Map(page.messages.map((m) => [m.id, m]));
      for (const group of groups) {
        const raws = await readRaws(lake, o.account, group);
        for (const id of group) {
          const raw = raws.get(id)!;
          const m = hits.get(id)!;
          if (mbox) {
            const entry = mboxEntry(
              {
                id,
                threadId: m.threadId,
                internalDate: Date.parse(m.internalDate ?? '1970-01-01T00:00:00Z'),
                labels: labelsHeader(m.labelIds, labels),
              },
              raw,
            );
            for (const part of entry) await write(mbox, part, mboxEnded!);
          } else {
            const file = createWriteStream(join(o.emlDir!, `${id}.eml`));
            const fileEnded = ended(file);
            await write(file, raw, fileEnded);
            file.end();
            await fileEnded;
          }
          result.exported++;
          result.bytes += raw.length;
        }
      }
      o.progress?.(result.exported);
    } while (cursor);
  } finally {
    mbox?.end();
  }
  await mboxEnded;
  return result;
}
