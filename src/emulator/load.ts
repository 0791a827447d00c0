import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddresses } from '../mime/addresses.js';
import { attachmentParts } from '../mime/content.js';
import { parseMailDate } from '../mime/dates.js';
import { decodeWords } from '../mime/headers.js';
import { parseMime } from '../mime/parse.js';
import type { GeneratedMeta } from './generate.js';
import { messageIdFor } from './generate.js';

/**
 * Real mail as a mailbox: an mbox file (mboxrd "From " separators) or a folder of .eml files. Messages are sorted by
 * date so that, as with generated mail, newest first is descending index. Bytes stay in memory: meant for samples and
 * personal archives, not for millions of messages (use the generator for scale).
 */
export class LoadedMail {
  private readonly items: { raw: Buffer; meta: GeneratedMeta }[];
  constructor(
    readonly seed: string,
    raws: Buffer[],
    owner: string,
  ) {
    const loadedAt = Date.now();
    const parsed = raws.map((raw) => ({ raw, ...headerFacts(raw, owner, loadedAt) }));
    parsed.sort((a, b) => a.date - b.date);
    const byMessageId = new Map<string, string>();
    this.items = parsed.map((p, index) => {
      const id = messageIdFor(seed, index);
      const threadId = (p.inReplyTo && byMessageId.get(p.inReplyTo)) || id;
      if (p.messageId) byMessageId.set(p.messageId, threadId);
      return {
        raw: p.raw,
        meta: {
          index,
          id,
          threadId,
          internalDate: p.date,
          labelIds: p.sent ? ['SENT'] : ['INBOX'],
          from: p.from,
          to: p.to,
          cc: p.cc,
          // Search reads a loaded message's blind copies from its bytes; the listing's view does not carry them.
          bcc: [],
          subject: p.subject,
          hasAttachment: p.hasAttachment,
          kind: 'plain',
          messageIdHeader: p.messageId ?? '',
          inReplyTo: p.inReplyTo,
        },
      };
    });
  }
  get size(): number {
    return this.items.length;
  }
  meta(i: number): GeneratedMeta {
    return this.items[i]!.meta;
  }
  raw(i: number): Buffer {
    return this.items[i]!.raw;
  }
  firstIndexAtOrAfter(t: number): number {
    const i = this.items.findIndex((m) => m.meta.internalDate >= t);
    return i < 0 ? this.items.length : i;
  }
}

/** Reads an .mbox file or a folder of .eml files into raw messages. */
export function readMailSource(path: string): Buffer[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .filter((f) => f.toLowerCase().endsWith('.eml'))
      .sort()
      .map((f) => readFileSync(join(path, f)));
  }
  const text = readFileSync(path).toString('latin1');
  return text
    .split(/^From .*\r?\n/m)
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => Buffer.from(chunk.replace(/^>(>*From )/gm, '$1'), 'latin1'));
}

/**
 * What the emulator needs from a loaded message, read as the pipeline reads it. The Date header gives internalDate
 * (Gmail's import can use it); without a readable one, the newest Received header's date (when the mail arrived);
 * without that, the time of loading — never 1970.
 */
function headerFacts(raw: Buffer, owner: string, loadedAt: number) {
  const { payload } = parseMime(raw);
  const carried = (n: string) => payload.headers.find((h) => h.name.toLowerCase() === n)?.value ?? '';
  const get = (n: string) => decodeWords(carried(n));
  const sender = parseAddresses(carried('from'))[0];
  const from = { name: sender?.name ?? '', address: sender?.address ?? '' };
  const received = payload.headers.find((h) => h.name.toLowerCase() === 'received')?.value;
  const date = parseMailDate(get('date')) ?? parseMailDate(received?.slice(received.lastIndexOf(';') + 1)) ?? loadedAt;
  return {
    date,
    from,
    to: parseAddresses(carried('to')).map((a) => a.address),
    cc: parseAddresses(carried('cc')).map((a) => a.address),
    subject: get('subject'),
    messageId: get('message-id') || undefined,
    inReplyTo: get('in-reply-to') || undefined,
    sent: from.address === owner.toLowerCase(),
    hasAttachment: attachmentParts(payload).length > 0,
  };
}
