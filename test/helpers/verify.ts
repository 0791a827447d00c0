import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { Lake } from '../../src/lake/lake.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';
import { waitFor } from './ports.js';
import { authHeaders } from './stack.js';

export interface ManifestEntry {
  id: string;
  threadId: string;
  internalDate: number;
  labelIds: string[];
  from: string;
  to: string[];
  subject: string;
  hasAttachment: boolean;
  sha256: string;
}

/** The emulator's ground truth for a mailbox. */
export async function manifest(emu: RunningEmulator, user = 'user@example.com'): Promise<ManifestEntry[]> {
  const text = await (await fetch(`${emu.url}_emulator/users/${user}/manifest`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManifestEntry);
}

/** Manifest entries Gmail lists by default (SPAM and TRASH excluded). */
export function listable(entries: ManifestEntry[]): ManifestEntry[] {
  return entries.filter((e) => !e.labelIds.includes('SPAM') && !e.labelIds.includes('TRASH'));
}

export interface LakeCheck {
  rows: number;
  distinct: number;
  ids: Set<string>;
}

export async function lakeRows(lake: Lake, account: string): Promise<LakeCheck> {
  const rows = await lake.query<{ id: string }>(`SELECT id FROM lake.messages WHERE account = $account`, { account });
  return { rows: rows.length, distinct: new Set(rows.map((r) => r.id)).size, ids: new Set(rows.map((r) => r.id)) };
}

/**
 * Ids whose stored raw bytes do not hash to the manifest's sha256 (of the live rows only, with `liveOnly`). DuckDB
 * hashes them: no raw message crosses into this process (a mailbox of 30 MB messages would not fit).
 */
export async function rawMismatches(lake: Lake, account: string, entries: ManifestEntry[], liveOnly = false): Promise<string[]> {
  const want = new Map(entries.map((e) => [e.id, e.sha256]));
  const rows = await lake.query<{ id: string; sha: string | null }>(
    `SELECT id, sha256(raw) AS sha FROM lake.messages WHERE account = $account ${liveOnly ? 'AND deleted_at IS NULL' : ''}`,
    { account },
  );
  return rows.filter((r) => want.get(r.id) !== (r.sha ?? 'null')).map((r) => r.id);
}

/** `POST /extract` with `body` on the API at `url` (202 asserted), then the extraction's progress once it has ended. */
export async function extractThroughApi(url: string, body: Record<string, unknown>): Promise<ExtractionProgress> {
  const started = await fetch(`${url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(started.status, 202, await started.clone().text());
  const { id } = (await started.json()) as { id: string };
  return waitFor('completion', async () => {
    const s = (await (await fetch(`${url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as ExtractionProgress;
    return s.status !== 'running' ? s : undefined;
  });
}

/** The lake configured by `env` holds each listable message of `account`'s mailbox once. */
export async function assertLakeExact(env: Record<string, string>, emu: RunningEmulator, account = 'user@example.com'): Promise<void> {
  const lake = await Lake.openReadOnly(loadConfig(env).lake);
  try {
    const truth = listable(await manifest(emu, account));
    const rows = await lakeRows(lake, account);
    assert.deepEqual([rows.rows, rows.distinct], [truth.length, truth.length]);
  } finally {
    lake.close();
  }
}
