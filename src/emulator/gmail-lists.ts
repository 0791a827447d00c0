import { googleError } from './gmail-responses.js';
import type { Mailbox } from './mailbox.js';
import { MailboxQuery, QueryError } from './query.js';
import type { SearchDocs } from './search-docs.js';
import { HttpError } from './state.js';

/** Gmail's two paged listings as the emulator serves them. */

function pageSize(q: URLSearchParams, def: number): number {
  const raw = q.get('maxResults');
  const n = raw === null ? def : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, googleError(400, `Invalid maxResults: ${raw}`, 'invalidArgument'));
  return Math.min(n, 500);
}

/** `messages.list`: newest first, filtered by `q` and `labelIds`, paged with tokens of the current generation. */
export function listMessages(mb: Mailbox, q: URLSearchParams, pageTokenGeneration: number, docs: SearchDocs) {
  const max = pageSize(q, 100);
  let query;
  try {
    query = new MailboxQuery(mb, q.get('q') ?? undefined, docs);
  } catch (e) {
    if (e instanceof QueryError) throw new HttpError(400, googleError(400, `Invalid query: ${e.message}`, 'invalidArgument'));
    throw e;
  }
  const labelIds = q.getAll('labelIds');
  const includeSpamTrash =
    q.get('includeSpamTrash') === 'true' || query.mentionsSpamTrash || labelIds.some((l) => l === 'SPAM' || l === 'TRASH');
  const token = q.get('pageToken');
  let start = mb.indexLimit - 1;
  if (token) {
    const [index, generation] = Buffer.from(token, 'base64url').toString().replace(/^p/, '').split('.').map(Number);
    if (!Number.isInteger(index) || index! < -1 || generation !== pageTokenGeneration)
      throw new HttpError(400, googleError(400, 'Invalid pageToken', 'invalidArgument'));
    start = Math.min(index!, mb.indexLimit - 1);
  }
  const baseSize = mb.firstIndexAtOrAfter(Infinity);
  const hi = query.before !== undefined ? mb.firstIndexAtOrAfter(query.before) : baseSize;
  const lo = query.after !== undefined ? mb.firstIndexAtOrAfter(query.after) : 0;
  const messages: { id: string; threadId: string }[] = [];
  let i = start;
  for (; i >= 0 && messages.length < max; i--) {
    if (i < baseSize && i >= hi) i = hi - 1;
    if (i < lo) {
      i = -1;
      break;
    }
    if (i < 0) break;
    const v = mb.view(i);
    if (!v) continue;
    if (!includeSpamTrash && (v.labelIds.includes('SPAM') || v.labelIds.includes('TRASH'))) continue;
    if (labelIds.length && !labelIds.every((l) => v.labelIds.includes(l))) continue;
    if (query.filters && !query.matches(i, v)) continue;
    messages.push({ id: v.id, threadId: v.threadId });
  }
  const more = i >= Math.max(lo, 0);
  const filtered = query.filters || labelIds.length > 0;
  const estimate = filtered
    ? messages.length + (more ? Math.round((i - lo) * (messages.length / Math.max(start - i, 1))) : 0)
    : Math.max(0, mb.messagesTotal);
  return {
    ...(messages.length ? { messages } : {}),
    ...(more ? { nextPageToken: Buffer.from(`p${i}.${pageTokenGeneration}`).toString('base64url') } : {}),
    resultSizeEstimate: estimate,
  };
}

/** `history.list` from `startHistoryId` (404 once it is older than the retained history, as Gmail). */
export function listHistory(mb: Mailbox, q: URLSearchParams) {
  const startRaw = q.get('startHistoryId');
  if (!startRaw || !/^\d+$/.test(startRaw)) throw new HttpError(400, googleError(400, 'Invalid startHistoryId', 'invalidArgument'));
  const start = Number(startRaw);
  if (start < mb.oldestValidHistoryId) throw new HttpError(404, googleError(404, 'Requested entity was not found.', 'notFound'));
  const max = pageSize(q, 100);
  const types = q.getAll('historyTypes');
  const labelId = q.get('labelId');
  const offset = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString()) : 0;
  const keys = {
    messageAdded: 'messagesAdded',
    messageDeleted: 'messagesDeleted',
    labelAdded: 'labelsAdded',
    labelRemoved: 'labelsRemoved',
  } as const;
  const wanted = types.length ? types.map((t) => keys[t as keyof typeof keys]).filter(Boolean) : Object.values(keys);
  const records = mb
    .historySince(start)
    .map((h) => {
      const out: Record<string, unknown> = { id: String(h.id), messages: h.messages };
      for (const k of wanted) if (h[k]) out[k] = h[k];
      return out;
    })
    .filter((h) => wanted.some((k) => h[k] !== undefined))
    .filter(
      (h) =>
        !labelId ||
        wanted.some((k) =>
          (h[k] as { message: { labelIds: string[] }; labelIds?: string[] }[] | undefined)?.some(
            (e) => e.message.labelIds.includes(labelId) || e.labelIds?.includes(labelId),
          ),
        ),
    );
  const page = records.slice(offset, offset + max);
  const next = offset + max < records.length ? Buffer.from(String(offset + max)).toString('base64url') : undefined;
  return { ...(page.length ? { history: page } : {}), ...(next ? { nextPageToken: next } : {}), historyId: String(mb.historyId) };
}
