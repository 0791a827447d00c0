import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
    const parsed = raws.map((raw) => ({ raw, ...headerFacts(raw, owner) }));
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

function headerFacts(raw: Buffer, owner: string) {
  const { payload, leaves } = parseMime(raw);
  const get = (n: string) => payload.headers.find((h) => h.name.toLowerCase() === n)?.value ?? '';
  const addr = (v: string) => (/<([^>]+)>/.exec(v)?.[1] ?? v).trim().toLowerCase();
  const list = (v: string) => (v ? v.split(',').map(addr).filter(Boolean) : []);
  const fromValue = get('from');
  const from = {
    name: fromValue
      .replace(/<[^>]*>/, '')
      .replace(/"/g, '')
      .trim(),
    address: addr(fromValue),
  };
  const parsedDate = Date.parse(get('date'));
  return {
    date: Number.isFinite(parsedDate) ? parsedDate : 0,
    from,
    to: list(get('to')),
    cc: list(get('cc')),
    subject: get('subject'),
    messageId: get('message-id') || undefined,
    inReplyTo: get('in-reply-to') || undefined,
    sent: from.address === owner.toLowerCase(),
    hasAttachment: leaves.some((l) => l.filename !== ''),
  };
}
