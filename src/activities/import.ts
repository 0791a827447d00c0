import { createHash } from 'node:crypto';
import { realpath, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DuckDBConnection } from '@duckdb/node-api';
import { labelIdsOf } from '../export/takeout.js';
import { FileChanged, type MboxChunk, readMboxChunk } from '../import/mbox.js';
import { insertStaged } from '../lake/batches.js';
import { CURRENT_LABELS, replaceLabels } from '../lake/runs.js';
import { dropStaged, openStagedBatch } from '../lake/staging.js';
import { guardedWrite } from '../lake/write-guard.js';
import { messagesTotal } from '../metrics.js';
import { parseMailDate } from '../mime/dates.js';
import { IMPORT_FAILURE, type ImportChunkInput, type ImportChunkResult } from '../workflows/import-contracts.js';
import { attemptDir } from './batch.js';
import { type ActivityDeps, activityLog, execution, heartbeating } from './context.js';
import { toRows } from './rows.js';

/** Rows prepareImport hashes per transaction. */
const HASH_SLICE = 500;

/** The id of a message the mbox gives no Gmail id for: from its bytes, so the same message always gets the same one. */
export const importedId = (sha256: string) => `mbox-${sha256.slice(0, 24)}`;

/** A user label an import creates (its name not in the account's labels): an id from the name, the same every time. */
const importedLabelId = (name: string) => `Label_${createHash('sha256').update(name.toLowerCase()).digest('hex').slice(0, 12)}`;

/** Whether `path` (its real path: links followed) is inside one of `dirs` (IMPORT_DIRS; none: anywhere). */
async function allowed(path: string, dirs: string[]): Promise<boolean> {
  if (!dirs.length) return true;
  const real = await realpath(path);
  for (const d of dirs) {
    const root = await realpath(d).catch(() => undefined);
    if (root && (real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) return true;
  }
  return false;
}

/** Reads the chunk, or fails the import at once (no retry helps) when the file cannot be read, or has changed. */
async function readChunk(input: ImportChunkInput, dirs: string[]): Promise<MboxChunk> {
  const unreadable = (why: string) =>
    ApplicationFailure.nonRetryable(`this worker cannot import ${input.path}: ${why}`, IMPORT_FAILURE.fileUnreadable);
  try {
    if (!(await allowed(input.path, dirs))) throw unreadable(`it is outside IMPORT_DIRS (${dirs.join(', ')})`);
    return await readMboxChunk(input.path, input.offset, { maxBytes: input.maxBytes, maxMessages: input.maxMessages }, input.expect);
  } catch (e) {
    if (e instanceof ApplicationFailure) throw e;
    if (e instanceof FileChanged) throw ApplicationFailure.nonRetryable(e.message, IMPORT_FAILURE.fileChanged);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFILE') throw unreadable('it is not a regular file');
    if (code && ['ENOENT', 'EACCES', 'EISDIR', 'EPERM', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG'].includes(code))
      throw unreadable(`${code} (the file must be readable at that path on the workers)`);
    throw e;
  }
}

/** The import activity: one chunk of an mbox into the lake. */
export function importActivities(deps: ActivityDeps) {
  return {
    /**
     * Hashes the raw bytes of the account's rows stored before the raw_sha256 column existed (once: later rows carry
     * it), so that the import's "same bytes" check sees them too. Returns how many it hashed.
     */
    prepareImport: (input: { account: string }): Promise<{ hashed: number }> =>
      heartbeating(async () => {
        const [held] = await deps.lake.query<{ n: bigint | string }>(
          `SELECT count(*) AS n FROM lake.messages WHERE account = $account AND raw_sha256 IS NULL AND format = 'raw'`,
          input,
        );
        if (!Number(held?.n ?? 0)) return { hashed: 0 };
        let hashed = 0;
        // In transactions of a few hundred rows: one UPDATE of a whole mailbox would rewrite all its bytes at once and
        // start over whenever a sync of the mailbox commits meanwhile.
        for (;;) {
          const n = await guardedWrite(deps.lake, input.account, async (conn) => {
            const r = await conn.run(
              `UPDATE lake.messages SET raw_sha256 = sha256(raw) WHERE account = $account AND id IN (
                 SELECT id FROM lake.messages WHERE account = $account AND raw_sha256 IS NULL AND format = 'raw' AND raw IS NOT NULL
                 LIMIT ${HASH_SLICE})`,
              input,
            );
            return Number(r.rowsChanged);
          });
          hashed += n;
          if (n < HASH_SLICE) break;
        }
        if (hashed) activityLog(deps).info({ account: input.account, hashed }, 'hashed the raw bytes of rows stored before raw_sha256');
        return { hashed };
      }),

    /**
     * Reads the whole messages of one chunk of the file from `offset`, makes each a row as a fetched `raw` message is
     * (the same MIME reader), and commits those the account does not hold yet — by Gmail id, or by the same bytes under
     * any id — with any user labels they name, in one guarded lake transaction. Idempotent (a re-run of a chunk stores
     * nothing twice), so the workflow's offset is the only checkpoint. Heartbeats every second.
     */
    async importChunk(input: ImportChunkInput): Promise<ImportChunkResult> {
      const ctx = Context.current();
      const { workflowId } = execution();
      const logger = activityLog(deps);
      const dir = attemptDir(deps.stagingDir, workflowId, `import-${input.offset}`, ctx.info.attempt);
      const detail = { offset: input.offset, phase: 'reading', messages: 0 };
      let release: (() => void) | undefined;
      try {
        // The chunk's bytes, their rows (both bodies) and the commit's copies: from the worker's message budget, shared
        // with the batches of the extractions it runs.
        release = await deps.messageMemory.take(input.maxBytes * 3);
        return await heartbeating(
          async () => {
            const chunk = await readChunk(input, deps.importDirs ?? []);
            const result: ImportChunkResult = {
              messages: chunk.messages.length,
              inserted: 0,
              present: 0,
              malformed: 0,
              bytes: 0,
              next: chunk.next,
              size: chunk.size,
              end: chunk.end,
              ...(chunk.problem ? { problem: { offset: chunk.problem.offset, detail: chunk.problem.detail } } : {}),
            };
            if (!chunk.messages.length) return result;
            const known = await deps.lake.query<{ id: string; name: string }>(`SELECT id, name FROM ${CURRENT_LABELS}`, {
              account: input.account,
            });
            const byName = new Map(known.map((l) => [l.name.toLowerCase(), l.id]));
            const created = new Map<string, string>();
            const userId = (name: string) => {
              const id = byName.get(name.toLowerCase()) ?? importedLabelId(name);
              if (!byName.has(name.toLowerCase())) created.set(id, name);
              return id;
            };
            detail.phase = 'staging';
            const staged = await openStagedBatch(dir);
            const seen = new Set<string>();
            let stagedCount = 0;
            const fetchedAt = Date.now();
            try {
              for (const [i, m] of chunk.messages.entries()) {
                const sha = createHash('sha256').update(m.raw).digest('hex');
                const id = m.gmailId ?? importedId(sha);
                result.bytes += m.raw.length;
                detail.messages = i + 1;
                // Twice in the file (by id or by bytes): stored once.
                if (seen.has(id) || seen.has(sha)) {
                  result.present++;
                  continue;
                }
                seen.add(id).add(sha);
                stagedCount++;
                const file = join(dir, `${i}.eml`);
                await writeFile(file, m.raw);
                const rows = toRows(
                  {
                    id,
                    threadId: m.threadId ?? id,
                    labelIds: m.labels ? labelIdsOf(m.labels, userId) : [],
                    internalDate: m.date !== undefined ? String(m.date) : null,
                    sizeEstimate: m.raw.length,
                  },
                  { account: input.account, format: 'raw', extractionId: workflowId, fetchedAt, attachmentContent: deps.attachmentContent },
                  { bytes: m.raw, file },
                );
                // A file without From-line dates: the message's own Date header, as Gmail does for imported mail.
                rows.message.internal_date ??= parseMailDate(rows.message.date_header) ?? null;
                if (rows.message.parse_error) result.malformed++;
                await staged.message(rows.message);
                for (const a of rows.attachments) await staged.attachment(a);
                for (const c of rows.contents) await staged.content(input.account, c);
              }
              await staged.close();
            } catch (err) {
              await staged.close().catch(() => undefined);
              throw err;
            }
            ctx.cancellationSignal.throwIfAborted();
            detail.phase = 'persisting';
            const inserted = await guardedWrite(deps.lake, input.account, async (conn) => {
              const n = await insertStaged(conn, dir, input.account, true);
              if (created.size) await addLabels(conn, input.account, created);
              return n;
            });
            result.inserted = inserted;
            result.present += stagedCount - inserted;
            messagesTotal.inc({ stage: 'imported' }, inserted);
            logger.debug({ offset: input.offset, ...result }, 'import chunk committed');
            return result;
          },
          () => detail,
        );
      } finally {
        release?.();
        await dropStaged(dir);
      }
    },
  };
}

/** Adds user labels to the account's labels snapshot (inside the commit's transaction, so none is added twice). */
async function addLabels(conn: DuckDBConnection, account: string, created: Map<string, string>): Promise<void> {
  const reader = await conn.runAndReadAll(`SELECT id, name, type FROM ${CURRENT_LABELS}`, { account });
  const current = reader.getRows().map(([id, name, type]) => ({ id: String(id), name: String(name), type: String(type) }));
  const missing = [...created].filter(([id]) => !current.some((l) => l.id === id));
  if (missing.length) await replaceLabels(conn, account, [...current, ...missing.map(([id, name]) => ({ id, name, type: 'imported' }))]);
}
