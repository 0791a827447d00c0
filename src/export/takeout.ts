/**
 * Google Takeout's mbox, as Takeout writes it (and as an importer reads it back): each message after a `From ` line whose
 * address is the Gmail id in decimal (`From 1685123456789012345@xxx Wed Jun 07 12:34:56 +0000 2023`), then
 * `X-GM-THRID` (the thread id in decimal) and `X-Gmail-Labels` (label names, comma-separated) before the message's own
 * bytes; lines starting with `From ` (after any `>`s) get one more `>` (mboxrd), and a blank line ends each message.
 */

/** Takeout's names of Gmail's system labels; "Opened" is a read message (no UNREAD). */
const SYSTEM: Record<string, string> = {
  INBOX: 'Inbox',
  SENT: 'Sent',
  DRAFT: 'Drafts',
  SPAM: 'Spam',
  TRASH: 'Trash',
  UNREAD: 'Unread',
  STARRED: 'Starred',
  IMPORTANT: 'Important',
  CHAT: 'Chat',
  CATEGORY_PERSONAL: 'Category Personal',
  CATEGORY_SOCIAL: 'Category Social',
  CATEGORY_PROMOTIONS: 'Category Promotions',
  CATEGORY_UPDATES: 'Category Updates',
  CATEGORY_FORUMS: 'Category Forums',
};
const SYSTEM_BY_NAME = new Map(Object.entries(SYSTEM).map(([id, name]) => [name.toLowerCase(), id]));

/** A message's X-Gmail-Labels value: system labels by Takeout's names, user labels by name (quoted when holding a comma). */
export function labelsHeader(labelIds: readonly string[], userLabels: ReadonlyMap<string, string>): string {
  const names = labelIds.map((id) => SYSTEM[id] ?? userLabels.get(id) ?? id);
  if (!labelIds.includes('UNREAD')) names.push('Opened');
  return names.map((n) => (/[,"]/.test(n) ? `"${n.replace(/"/g, '""')}"` : n)).join(',');
}

/** The label names of an X-Gmail-Labels value (quotes and commas as labelsHeader writes them). */
export function parseLabelsHeader(value: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < value.length && (m = re.exec(value))) {
    const name = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.trim();
    if (name) out.push(name);
    if (m[0] === '') break;
  }
  return out;
}

/** Label ids of Takeout names: system labels by their ids, UNREAD unless "Opened", user labels through `userId` ("Archived" is none). */
export function labelIdsOf(names: readonly string[], userId: (name: string) => string): string[] {
  const ids: string[] = [];
  let opened = false;
  for (const name of names) {
    if (name.toLowerCase() === 'opened') opened = true;
    // Takeout's name for "not in the inbox": no label of its own.
    else if (name.toLowerCase() !== 'archived') ids.push(SYSTEM_BY_NAME.get(name.toLowerCase()) ?? userId(name));
  }
  if (!opened && !ids.includes('UNREAD')) ids.push('UNREAD');
  return [...new Set(ids)];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A Gmail id (hex) as Takeout's decimal. */
export const decimalId = (hex: string) => (/^[0-9a-f]{1,16}$/i.test(hex) ? BigInt(`0x${hex}`).toString() : hex);
/** Takeout's decimal id back to Gmail's hex (16 digits). */
export const hexId = (decimal: string) => (/^\d{1,20}$/.test(decimal) ? BigInt(decimal).toString(16).padStart(16, '0') : undefined);

/**
 * Marks a message whose bytes end without a line break: the mbox needs one before the blank line that ends the
 * message, and an importer takes it off again (mbox has no other way to keep such a message exact).
 */
export const ADDED_NEWLINE = 'X-Gmail-Lake-Added-Newline: 1';

/**
 * The `From ` line and Takeout's two headers that open a message (and {@link ADDED_NEWLINE} when `raw` does not end
 * with a line break), with the message's own line ending.
 */
export function takeoutPreamble(
  m: { id: string; threadId: string | null; internalDate: number; labels: string },
  raw: Buffer,
  eol: string,
): string {
  const d = new Date(m.internalDate);
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000 ${d.getUTCFullYear()}`;
  const lines = [`From ${decimalId(m.id)}@xxx ${date}`, `X-GM-THRID: ${decimalId(m.threadId ?? m.id)}`, `X-Gmail-Labels: ${m.labels}`];
  if (raw.at(-1) !== 10) lines.push(ADDED_NEWLINE);
  return [...lines, ''].join(eol);
}

/** The message's bytes with mboxrd's escaping: one more `>` before every line that starts with `>*From `. */
export function escapeMboxrd(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  return /(^|\n)>*From /.test(text) ? Buffer.from(text.replace(/(^|\n)(>*From )/g, '$1>$2'), 'latin1') : raw;
}

/** The reverse of escapeMboxrd: one `>` less before every line that starts with `>+From `. */
export function unescapeMboxrd(text: string): string {
  return text.replace(/(^|\n)>(>*From )/g, '$1$2');
}

/** The line ending a message uses (CRLF when its first line ends so). */
export function lineEnding(raw: Buffer): string {
  const nl = raw.indexOf(10);
  return nl > 0 && raw[nl - 1] === 13 ? '\r\n' : '\n';
}

/** A message as an mbox holds it: the preamble, the escaped bytes and the blank line that ends it (written in turn). */
export function mboxEntry(m: Parameters<typeof takeoutPreamble>[0], raw: Buffer): [string, Buffer, string] {
  const eol = lineEnding(raw);
  return [takeoutPreamble(m, raw, eol), escapeMboxrd(raw), raw.at(-1) === 10 ? eol : eol + eol];
}
