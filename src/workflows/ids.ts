/** Workflow and schedule ids of a mailbox (side-effect free: imported by workflows, activities and the API). */

/** Keyword search attribute holding the mailbox, so the Web UI can filter extractions and syncs by it. */
export const ACCOUNT_SEARCH_ATTRIBUTE = 'GmailAccount';
export const WORKFLOW_ID_PREFIX = 'gmail-extract-';
export const SYNC_ID_PREFIX = 'gmail-sync-';
export const IMPORT_ID_PREFIX = 'gmail-import-';

const canonical = (account: string) => account.trim().toLowerCase();

/** One backfill per mailbox: the workflow id is derived from the account. */
export function extractionWorkflowId(account: string): string {
  return `${WORKFLOW_ID_PREFIX}${canonical(account)}`;
}

/** One sync per mailbox at a time: every sync of a mailbox (HTTP, schedule) runs under this workflow id. */
export function syncWorkflowId(account: string): string {
  return `${SYNC_ID_PREFIX}${canonical(account)}`;
}

/** The mailbox's Temporal Schedule (schedule ids are their own namespace: it shares the sync's name). */
export function syncScheduleId(account: string): string {
  return `${SYNC_ID_PREFIX}${canonical(account)}`;
}
