import { createHash, createHmac } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { extractionWorkflowId, syncScheduleId, syncWorkflowId } from './workflows/ids.js';
import type { ExtractionRequest } from './workflows/contracts.js';

/**
 * The name a mailbox has in workflow and schedule ids. By default its address (`gmail-extract-user@example.com`);
 * with WORKFLOW_ID_KEY set, a keyed digest of it (`gmail-extract-h3f2a…`), so ids — which Temporal keeps in clear,
 * in history too — carry no address when payloads are encrypted. The key is tied to the client the process uses, so
 * the API, the schedules and the activities all derive the same ids; it must never change (the id is what gives a
 * mailbox one writer).
 */
const keys = new WeakMap<Client, string>();

export function keyMailboxIds(client: Client, key: string | undefined): void {
  if (key) keys.set(client, key);
}

export function mailboxName(client: Client | undefined, account: string): string {
  const canonical = account.trim().toLowerCase();
  const key = client && keys.get(client);
  return key ? `h${createHmac('sha256', key).update(canonical).digest('hex').slice(0, 32)}` : canonical;
}

export const extractionIdOf = (client: Client | undefined, account: string) => extractionWorkflowId(mailboxName(client, account));
export const syncIdOf = (client: Client | undefined, account: string) => syncWorkflowId(mailboxName(client, account));
export const scheduleIdOf = (client: Client | undefined, account: string) => syncScheduleId(mailboxName(client, account));

/**
 * The selection of an extraction as a stable key: resuming from the lake needs the same query, labels and format.
 * Derived by the API for a single extraction and by a fleet's planning activity for each of its mailboxes.
 */
export function extractionKey(sel: Pick<ExtractionRequest, 'account' | 'query' | 'labelIds' | 'includeSpamTrash' | 'format'>): string {
  const canonical = JSON.stringify([
    sel.account.toLowerCase(),
    sel.query ?? '',
    [...(sel.labelIds ?? [])].sort(),
    !!sel.includeSpamTrash,
    sel.format,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
