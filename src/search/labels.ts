/** How search names labels: Gmail's system labels by their search names, user labels by name or id. */
const SYSTEM_NAMES: Record<string, string> = {
  inbox: 'INBOX',
  sent: 'SENT',
  draft: 'DRAFT',
  drafts: 'DRAFT',
  spam: 'SPAM',
  trash: 'TRASH',
  chat: 'CHAT',
  chats: 'CHAT',
  unread: 'UNREAD',
  starred: 'STARRED',
  important: 'IMPORTANT',
  personal: 'CATEGORY_PERSONAL',
  social: 'CATEGORY_SOCIAL',
  promotions: 'CATEGORY_PROMOTIONS',
  updates: 'CATEGORY_UPDATES',
  forums: 'CATEGORY_FORUMS',
};

/**
 * The label id a name stands for, as Gmail's search reads it: case-insensitive, and "/" or " " in a user label's name
 * may be written "-". `labels` are the mailbox's user labels, id → name. Undefined: no such label (it matches nothing).
 */
export function resolveLabel(name: string, labels: ReadonlyMap<string, string>): string | undefined {
  const n = name.toLowerCase();
  if (SYSTEM_NAMES[n]) return SYSTEM_NAMES[n];
  if (n.startsWith('category_') || n.startsWith('category-')) return n.toUpperCase().replace('-', '_');
  const norm = (s: string) => s.toLowerCase().replace(/[/ ]/g, '-');
  return [...labels].find(([id, label]) => id.toLowerCase() === n || norm(label) === norm(name))?.[0];
}
