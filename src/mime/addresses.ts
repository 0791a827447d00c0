import emailAddresses from 'email-addresses';
import { decodeWords } from './headers.js';
import { ParseMemo } from './memo.js';

/** One mailbox of an address header: the addr-spec (lower-cased) and the display name (null when there is none). */
export interface MailboxAddress {
  address: string;
  name: string | null;
}

// A local part is quoted only when it holds a special other than the dot, or white space (Python's `email` rule,
// DOT_ATOM_ENDS): an obsolete local part such as `s..palmer` is kept as written, never turned into `"s..palmer"`, an
// address that appears nowhere in the message.
const NEEDS_QUOTES = /[()<>@,:;"\\[\]\s]/;

function addrSpec(local: string, domain: string | null): string {
  const l = NEEDS_QUOTES.test(local) ? `"${local.replace(/(["\\])/g, '\\$1')}"` : local;
  return (domain === null ? l : `${l}@${domain}`).toLowerCase();
}

function displayName(name: string | null | undefined): string | null {
  const decoded = decodeWords(name?.trim() ?? '').trim();
  return decoded === '' ? null : decoded;
}

/**
 * The mailboxes of an address header value (From, To, Cc…), parsed by RFC 5322 (with RFC 6532 UTF-8) by the
 * `email-addresses` library before any RFC 2047 decoding (a decoded name may hold commas, quotes or `@`), names
 * decoded after: display names that look like addresses, quoted local parts, comments, the obsolete `addr (comment)`
 * form (no display name, as Python's `email` reads it), groups (flattened) and duplicates (kept). A list the grammar
 * refuses is split at its top-level commas and each mailbox read on its own, leniently (see {@link lenientMailbox}).
 */
export function parseAddresses(value: string | null | undefined): MailboxAddress[] {
  if (!value?.trim()) return [];
  // The grammar costs ~75 µs a header; mailboxes repeat their senders and recipients, so parses are remembered.
  const known = cache.get(value);
  if (known) return known;
  const parsed = parse(value);
  cache.set(value, parsed);
  return parsed;
}

const cache = new ParseMemo<MailboxAddress[]>(10_000);

type Parsed = emailAddresses.ParsedMailbox | emailAddresses.ParsedGroup;

function fromGrammar(list: Parsed[]): MailboxAddress[] {
  return list
    .flatMap((a) => (a.type === 'group' ? a.addresses : [a]))
    .map((m) => ({ address: addrSpec(m.local.trim(), m.domain), name: displayName(m.name) }));
}

function parse(value: string): MailboxAddress[] {
  const parsed = emailAddresses.parseAddressList({ input: value, rfc6532: true });
  if (parsed) return fromGrammar(parsed);
  const out: MailboxAddress[] = [];
  for (let piece of splitTopLevel(value)) {
    // a group's name ("undisclosed-recipients:") and its closing ";"
    piece = piece.replace(/^[^"<>@,]*:(?!\S*@)/, '').replace(/;\s*$/, '');
    if (!piece.trim()) continue;
    const one = emailAddresses.parseOneAddress({ input: piece, rfc6532: true });
    const read = one ? fromGrammar([one]) : lenientMailbox(piece);
    out.push(...read);
  }
  return out;
}

/** Splits an address list at the commas outside quotes, angle brackets and comments. */
function splitTopLevel(value: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let quoted = false;
  let angle = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (quoted) quoted = c !== '"';
    else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && c === '<') angle = true;
    else if (depth === 0 && c === '>') angle = false;
    else if (depth === 0 && !angle && c === ',') {
      pieces.push(value.slice(start, i));
      start = i + 1;
    }
  }
  pieces.push(value.slice(start));
  return pieces;
}

const stripComments = (s: string) => s.replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
const unquote = (s: string) => s.replace(/^\s*"((?:[^"\\]|\\.)*)"\s*$/, '$1').replace(/\\(.)/g, '$1');

/**
 * One mailbox the RFC 5322 grammar refuses, read the way Python's `email` reads it (the fidelity test's reference):
 * `name <addr>` with an addr lacking its domain or carrying an obsolete route; text before `<` that holds an
 * unquoted `@` is the address itself (what follows is junk); otherwise a bare addr-spec whose local part is every word
 * before the `@` and whose domain is the first word after it (whitespace around dots dropped, RFC 5322 §4.4).
 */
function lenientMailbox(piece: string): MailboxAddress[] {
  const text = stripComments(piece).trim();
  const lt = text.indexOf('<');
  const before = lt < 0 ? text : text.slice(0, lt);
  if (lt >= 0 && !/^[^"]*@/.test(before.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) {
    const inner = text
      .slice(lt + 1)
      .replace(/>.*$/s, '')
      .replace(/^\s*(@[^:]*:)/, '')
      .replace(/\s+/g, '');
    if (!inner) return [];
    const at = inner.lastIndexOf('@');
    const address = at < 0 ? addrSpec(inner, null) : addrSpec(inner.slice(0, at), inner.slice(at + 1));
    return [{ address, name: displayName(unquote(before)) }];
  }
  const spec = before.replace(/\s*([.@])\s*/g, '$1');
  const at = spec.indexOf('@');
  if (at < 0) {
    const word = spec.split(/\s+/)[0] ?? '';
    return word ? [{ address: addrSpec(unquote(word), null), name: null }] : [];
  }
  const local = unquote(spec.slice(0, at).trim()).replace(/\s+/g, ' ');
  const domain = spec.slice(at + 1).split(/\s+/)[0] ?? '';
  return local || domain ? [{ address: addrSpec(local, domain || null), name: null }] : [];
}
