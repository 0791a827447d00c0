import { attachmentParts, findBody, headerValue, partText } from '../mime/content.js';
import { decodeWords } from '../mime/headers.js';
import { parseMime } from '../mime/parse.js';
import type { SearchDoc } from '../search/evaluate.js';
import { fieldText } from '../search/words.js';
import type { Mailbox, MessageView } from './mailbox.js';

/**
 * What the emulator's search reads of a message: the payload tree it serves as `format=full` (its reading of the
 * bytes, as Gmail's index and its API are one reading), kept for the mailbox's later queries within a bound on their text.
 */
type Content = Omit<SearchDoc, 'labelIds' | 'internalDate'>;
type Meta = Omit<Content, 'fields'> & { fields: Omit<Content['fields'], 'body'> };

/** A bounded cache, oldest entry out first, measured in characters. */
class Bounded<T> {
  private readonly entries = new Map<string, { value: T; chars: number }>();
  private chars = 0;
  constructor(private readonly limit: number) {}
  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }
  set(key: string, value: T, chars: number): void {
    this.chars -= this.entries.get(key)?.chars ?? 0;
    this.entries.delete(key);
    this.entries.set(key, { value, chars });
    this.chars += chars;
    for (const [k, v] of this.entries) {
      if (this.chars <= this.limit) break;
      this.entries.delete(k);
      this.chars -= v.chars;
    }
  }
}

export class SearchDocs {
  /** Everything but the body (a few hundred characters a message), and the bodies, kept apart. */
  private readonly metas = new Bounded<Meta>(64 * 1024 * 1024);
  private readonly bodies = new Bounded<string>(512 * 1024 * 1024);

  /**
   * The message's search document, its content read once (per message id) while the caches hold it (a 20,000-message
   * mailbox's bodies are ~300 M characters); the body read again only when `body` (a bare word) asks for it.
   */
  doc(mb: Mailbox, index: number, view: MessageView, body: boolean): SearchDoc {
    const key = `${mb.email}\u0000${view.id}`;
    let meta = this.metas.get(key);
    let text = body ? this.bodies.get(key) : '';
    if (!meta || text === undefined) {
      const content = read(mb.raw(index));
      const { body: b, ...rest } = content.fields;
      meta = { ...content, fields: rest };
      this.metas.set(
        key,
        meta,
        Object.values(rest).reduce((n, f) => n + f.length, 64),
      );
      text = b;
      this.bodies.set(key, b, b.length);
    }
    return { ...meta, fields: { ...meta.fields, body: text }, labelIds: view.labelIds, internalDate: view.internalDate };
  }
}

/** A message's searchable content, from the payload tree `full` serves. */
function read(raw: Buffer): Content {
  const { payload } = parseMime(raw);
  const header = (name: string) =>
    payload.headers
      .filter((h) => h.name.toLowerCase() === name)
      // parseMime's headers are transport-decoded already (as the lake's): only their encoded words are left.
      .map((h) => decodeWords(h.value))
      .join(' ');
  const text = findBody(payload, 'plain');
  const html = findBody(payload, 'html');
  const attachments = attachmentParts(payload);
  return {
    sizeEstimate: raw.length,
    hasAttachment: attachments.some(
      (p) => headerValue(p.headers, 'content-disposition')?.split(';')[0]!.trim().toLowerCase() === 'attachment',
    ),
    messageId: header('message-id').trim().replace(/^<|>$/g, '').toLowerCase(),
    fields: {
      subject: fieldText(header('subject')),
      from: fieldText(header('from')),
      to: fieldText(header('to')),
      cc: fieldText(header('cc')),
      bcc: fieldText(header('bcc')),
      // The text part, else the HTML part without its tags (what the lake's body search reads: src/lake/search.ts).
      body: fieldText(text ? partText(text) : html ? partText(html)?.replace(/<[^>]*>/g, ' ') : ''),
      filename: fieldText(...attachments.map((p) => p.filename)),
      list: fieldText(header('list-id')),
    },
  };
}
