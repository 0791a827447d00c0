import emailAddresses from 'email-addresses';

/** One mailbox of an address header: the addr-spec (lower-cased) and the display name (null when there is none). */
export interface MailboxAddress {
  address: string;
  name: string | null;
}

// RFC 5322 dot-atom: a local part made only of these needs no quotes.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LOOSE = /[^\s<>,;:"()[\]]+@[^\s<>,;:"()[\]]+/g;

function addrSpec(local: string, domain: string): string {
  const l = DOT_ATOM.test(local) || /[^\p{ASCII}]/u.test(local) ? local : `"${local.replace(/(["\\])/g, '\\$1')}"`;
  return `${l}@${domain}`.toLowerCase();
}

/**
 * The mailboxes of an address header value (From, To, Cc…), parsed by RFC 5322 (with RFC 6532 UTF-8) by the
 * `email-addresses` library: display names that look like addresses, quoted local parts, comments, the obsolete
 * `addr (comment)` form (no display name, as Python's `email` reads it), groups (flattened) and duplicates (kept) all
 * come out as RFC 5322 says. A value the grammar refuses falls back to the address-shaped tokens in it, without names.
 */
export function parseAddresses(value: string | null | undefined): MailboxAddress[] {
  if (!value?.trim()) return [];
  // The grammar costs ~75 µs a header; mailboxes repeat their senders and recipients, so parses are remembered.
  const known = cache.get(value);
  if (known) return known;
  if (cache.size >= CACHE_SIZE) cache.clear();
  const parsed = parse(value);
  cache.set(value, parsed);
  return parsed;
}

const CACHE_SIZE = 10_000;
const cache = new Map<string, MailboxAddress[]>();

function parse(value: string): MailboxAddress[] {
  const parsed = emailAddresses.parseAddressList({ input: value, rfc6532: true });
  if (!parsed) return (value.match(LOOSE) ?? []).map((a) => ({ address: a.toLowerCase(), name: null }));
  return parsed
    .flatMap((a) => (a.type === 'group' ? a.addresses : [a]))
    .map((m) => ({ address: addrSpec(m.local, m.domain), name: m.name?.trim() || null }));
}
