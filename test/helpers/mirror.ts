import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Lake } from '../../src/lake/lake.js';
import type { MailboxView } from '../../src/api/mailboxes.js';
import { api } from './http.js';
import { waitFor } from './ports.js';
import { control } from './emulator.js';
import { manifest, type ManifestEntry, rawMismatches } from './verify.js';

const sorted = (xs: string[] | null | undefined) => [...(xs ?? [])].sort();

/** The emulator's control endpoints for changing a mailbox (each change recorded in its history). */
export function mutations(emu: RunningEmulator, account: string) {
  return {
    add: async (count: number) =>
      ((await control(emu, 'POST', `users/${account}/messages`, { count })).messages as { id: string }[]).map((m) => m.id),
    addRaw: async (raw: Buffer, labelIds: string[]) =>
      (
        (await control(emu, 'POST', `users/${account}/messages`, { raw: raw.toString('base64'), labelIds })).messages as { id: string }[]
      )[0]!.id,
    remove: async (ids: string[]) => {
      const r = await control(emu, 'POST', `users/${account}/messages/batchDelete`, { ids });
      assert.deepEqual(r.missing, [], 'every id deleted');
    },
    relabel: async (ids: string[], add: string[], remove: string[]) => {
      const r = await control(emu, 'POST', `users/${account}/messages/batchModify`, { ids, add, remove });
      assert.deepEqual(r.missing, [], 'every id relabelled');
    },
  };
}

/** History entries a batchModify makes: one labels_added / labels_removed per message whose labels really change. */
export function expectedLabelChanges(before: ManifestEntry[], ids: string[], add: string[], remove: string[]) {
  const byId = new Map(before.map((e) => [e.id, e]));
  let added = 0;
  let removed = 0;
  for (const id of ids) {
    const labels = byId.get(id)!.labelIds;
    if (add.some((l) => !labels.includes(l))) added++;
    if (remove.some((l) => labels.includes(l))) removed++;
  }
  return { added, removed };
}

/**
 * Asserts the lake mirrors the emulator's mailbox exactly: live rows == the mailbox's messages (SPAM and TRASH
 * included), one row per id, label sets equal for every message, raw bytes identical, soft-deleted rows == `deleted`.
 */
export async function assertMirror(lake: Lake, emu: RunningEmulator, account: string, deleted: Set<string>): Promise<ManifestEntry[]> {
  const truth = await manifest(emu, account);
  const rows = await lake.query<{ id: string; label_ids: string[] | null; deleted: boolean }>(
    `SELECT id, label_ids, deleted_at IS NOT NULL AS deleted FROM lake.messages WHERE account = $account`,
    { account },
  );
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'one row per message id');
  const live = rows.filter((r) => !r.deleted);
  assert.deepEqual(live.map((r) => r.id).sort(), truth.map((e) => e.id).sort(), "live rows == the mailbox's messages");
  const softDeleted = new Set(rows.filter((r) => r.deleted).map((r) => r.id));
  const extra = [...softDeleted].filter((id) => !deleted.has(id));
  const missing = [...deleted].filter((id) => !softDeleted.has(id));
  assert.deepEqual({ extra, missing }, { extra: [], missing: [] }, 'soft-deleted rows == the deleted ids');
  const labels = new Map(live.map((r) => [r.id, sorted(r.label_ids)]));
  const wrong = truth.filter((e) => JSON.stringify(labels.get(e.id)) !== JSON.stringify(sorted(e.labelIds)));
  assert.equal(
    wrong.length,
    0,
    `label_ids differ for ${wrong.length} messages, e.g. ${JSON.stringify(wrong[0])} vs ${JSON.stringify(labels.get(wrong[0]?.id ?? ''))}`,
  );
  assert.deepEqual(await rawMismatches(lake, account, truth, true), [], 'raw bytes identical');
  return truth;
}

/** Change rows of the account by kind. */
export async function changeCounts(lake: Lake, account: string, source?: string): Promise<Record<string, number>> {
  const rows = await lake.query<{ kind: string; n: number }>(
    `SELECT kind, count(*)::INTEGER AS n FROM lake.message_changes WHERE account = $account ${source ? 'AND source = $source' : ''} GROUP BY kind`,
    source ? { account, source } : { account },
  );
  return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
}

/** The mailbox as `GET /mailboxes/:account` of a running API shows it. */
export const mailboxView = (server: { url: string }, account: string) =>
  api<MailboxView>(server, 'GET', `/mailboxes/${account}`).then((r) => r.body);

/**
 * Runs one sync over HTTP (202) and waits for its end; returns the mailbox once GET /mailboxes shows that sync as its
 * last, completed one.
 */
export async function syncOverHttp(
  server: { url: string; client: { workflow: { getHandle(id: string, runId: string): { result(): Promise<unknown> } } } },
  account: string,
  body?: unknown,
): Promise<MailboxView> {
  const before = (await mailboxView(server, account)).lastSync?.finishedAt ?? '';
  const started = await api<{ id: string; runId: string }>(server, 'POST', `/mailboxes/${account}/sync`, body);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await server.client.workflow.getHandle(started.body.id, started.body.runId).result();
  return waitFor('the sync in GET /mailboxes', async () => {
    const m = await mailboxView(server, account);
    return m.lastSync?.status === 'completed' && !m.syncRunning && (m.lastSync.finishedAt ?? '') > before ? m : undefined;
  });
}
