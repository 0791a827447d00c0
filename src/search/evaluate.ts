/**
 * Gmail's search evaluated over one message in memory: the emulator's side (Google's stand-in). The lake's side is
 * the same tree compiled to SQL (src/lake/search.ts); both read terms as ./syntax.ts and words as ./words.ts define.
 */
import type { QueryNode, Term, WordField } from './syntax.js';
import { hasWords } from './words.js';

/** A message as search sees it. Word fields are {@link fieldText}s. */
export interface SearchDoc {
  internalDate: number;
  sizeEstimate: number;
  labelIds: readonly string[];
  hasAttachment: boolean;
  /** The Message-ID header without its angle brackets, lower case. */
  messageId: string;
  fields: Record<Exclude<WordField, 'text'>, string> & { body: string };
}

/** The fields a bare word is looked for in (any one of them). */
export const TEXT_FIELDS = ['subject', 'from', 'to', 'cc', 'body'] as const;

/** True when the query holds a term only a message's content answers (words, attachments, size, Message-ID). */
export function needsContent(node: QueryNode): boolean {
  if (node.type === 'not') return needsContent(node.child);
  if (node.type !== 'term') return node.children.some(needsContent);
  return !['label', 'anywhere', 'read', 'date'].includes(node.term.kind);
}

/** True when the query holds a bare word (the only term that reads bodies). */
export function needsBody(node: QueryNode): boolean {
  if (node.type === 'not') return needsBody(node.child);
  if (node.type !== 'term') return node.children.some(needsBody);
  return node.term.kind === 'words' && node.term.field === 'text';
}

function term(t: Term, doc: SearchDoc, resolve: (name: string) => string | undefined): boolean {
  switch (t.kind) {
    case 'words':
      return t.field === 'text' ? TEXT_FIELDS.some((f) => hasWords(doc.fields[f], t.words)) : hasWords(doc.fields[t.field], t.words);
    case 'label': {
      const id = resolve(t.name);
      return id !== undefined && doc.labelIds.includes(id);
    }
    case 'anywhere':
      return true;
    case 'read':
      return !doc.labelIds.includes('UNREAD');
    case 'attachment':
      return doc.hasAttachment;
    case 'date':
      return t.bound === 'after' ? doc.internalDate >= t.at : doc.internalDate < t.at;
    case 'size':
      return t.bound === 'larger' ? doc.sizeEstimate > t.bytes : doc.sizeEstimate < t.bytes;
    case 'msgid':
      return doc.messageId === t.id;
  }
}

/** True when the message matches the query. */
export function matches(node: QueryNode, doc: SearchDoc, resolve: (name: string) => string | undefined): boolean {
  switch (node.type) {
    case 'and':
      return node.children.every((c) => matches(c, doc, resolve));
    case 'or':
      return node.children.some((c) => matches(c, doc, resolve));
    case 'not':
      return !matches(node.child, doc, resolve);
    case 'term':
      return term(node.term, doc, resolve);
  }
}
