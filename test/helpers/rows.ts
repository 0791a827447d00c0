import { toRows } from '../../src/activities/rows.js';
import { GeneratedMailbox } from '../../src/emulator/generate.js';
import { messageResource } from '../../src/emulator/gmail-responses.js';
import { Mailbox } from '../../src/emulator/mailbox.js';
import type { AttachmentRow, MessageRow } from '../../src/lake/staging.js';
import type { Checkpoint } from '../../src/workflows/contracts.js';

/**
 * Lake rows of messages [from, to) of an n-message generated mailbox, as fetch would stage them with format=full
 * (slices keep large mailboxes out of memory).
 */
export function syntheticRows(n: number, account: string, from = 0, to = n): { messages: MessageRow[]; attachments: AttachmentRow[] } {
  const mb = new Mailbox(account, new GeneratedMailbox(`lake:${account}`, n, account));
  const messages: MessageRow[] = [];
  const attachments: AttachmentRow[] = [];
  for (let i = from; i < Math.min(to, n); i++) {
    const rows = toRows(messageResource(mb, mb.view(i)!, 'full', []), {
      account,
      format: 'full',
      extractionId: 'test',
      fetchedAt: Date.now(),
    });
    messages.push(rows.message);
    attachments.push(...rows.attachments);
  }
  return { messages, attachments };
}

/** A checkpoint for persisting synthetic batches outside a workflow (counters zero). */
export function syntheticCheckpoint(account: string, batchId: string): Checkpoint {
  const ids = { extractionKey: 'synthetic', workflowId: 'synthetic', runId: 'synthetic' };
  return { account, ...ids, batchId, pageToken: '', historyId: '', listed: 0, persisted: 0, skipped: 0, failed: 0 };
}
