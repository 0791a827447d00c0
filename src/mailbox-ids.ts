import { createHash, createHmac } from 'node:crypto';
import { extractionWorkflowId, IMPORT_ID_PREFIX, syncScheduleId, syncWorkflowId } from './workflows/ids.js';
import type { ExtractionRequest } from './workflows/contracts.js';

/**
 * The names of a mailbox's workflows and schedule. By default ids carry the address (`gmail-extract-user@example.com`);
 * with WORKFLOW_ID_KEY, a keyed digest of it (`gmail-extract-h3f2a…`), so ids — which Temporal keeps in clear, in
 * history too — carry no address when payloads are encrypted. One object, built from the configuration by each
 * composition root and handed to the API's services, the schedules and the activities, so all derive the same ids;
 * the key must never change (the id is what gives a mailbox one writer).
 */
export class MailboxIds {
  constructor(private readonly key?: string) {}

  /** The mailbox (or domain) as ids name it: its canonical address, or `h<digest>` with a key. */
  name(account: string): string {
    const canonical = account.trim().toLowerCase();
    return this.key ? `h${createHmac('sha256', this.key).update(canonical).digest('hex').slice(0, 32)}` : canonical;
  }
  extraction(account: string): string {
    return extractionWorkflowId(this.name(account));
  }
  sync(account: string): string {
    return syncWorkflowId(this.name(account));
  }
  schedule(account: string): string {
    return syncScheduleId(this.name(account));
  }
  /** One import of a file into a mailbox at a time: the id carries a digest of the file's path. */
  import(account: string, path: string): string {
    return `${IMPORT_ID_PREFIX}${this.name(account)}-${createHash('sha256').update(path).digest('hex').slice(0, 12)}`;
  }
}

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
