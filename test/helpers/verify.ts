import { createHash } from 'node:crypto';
import type { Lake } from '../../src/lake/lake.js';
import type { RunningEmulator } from '../../src/emulator/server.js';

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

/** Ids whose stored raw bytes do not hash to the manifest's sha256 (of the live rows only, with `liveOnly`). */
export async function rawMismatches(lake: Lake, account: string, entries: ManifestEntry[], liveOnly = false): Promise<string[]> {
  const want = new Map(entries.map((e) => [e.id, e.sha256]));
  const bad: string[] = [];
  await lake.withConnection(async (conn) => {
    const reader = await conn.runAndReadAll(
      `SELECT id, raw FROM lake.messages WHERE account = $account ${liveOnly ? 'AND deleted_at IS NULL' : ''}`,
      { account },
    );
    for (const row of reader.getRowObjects()) {
      const raw = row.raw as { bytes: Uint8Array } | null;
      const sha = raw ? createHash('sha256').update(raw.bytes).digest('hex') : 'null';
      if (want.get(String(row.id)) !== sha) bad.push(String(row.id));
    }
  });
  return bad;
}
