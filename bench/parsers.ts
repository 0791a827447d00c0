/**
 * `npx tsx bench/parsers.ts`: fidelity (strict agreement with Python's email: no 8-bit rule, no adjudications) and
 * speed of this project's MIME reader and of the complete parsers it was weighed against (dev dependencies), on the
 * fidelity corpus. CPU only: µs per message over three cold passes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import PostalMime from 'postal-mime';
import { toRows } from '../src/activities/rows.js';
import { COLUMNS, compare, type ParsedColumns, runReference } from '../test/fidelity/compare.js';

interface Mailbox {
  address?: string;
  name?: string;
  group?: Mailbox[];
}
interface MailparserMail {
  subject?: string;
  from?: { value: Mailbox[] };
  to?: { value: Mailbox[] } | { value: Mailbox[] }[];
  cc?: { value: Mailbox[] } | { value: Mailbox[] }[];
  headers: Map<string, unknown>;
  text?: string;
  html?: string | false;
  attachments: { filename?: string; contentType: string; size: number }[];
}
// mailparser ships no types; the shape used here is its documented `simpleParser` result.
const { simpleParser } = createRequire(import.meta.url)('mailparser') as { simpleParser: (raw: Buffer) => Promise<MailparserMail> };

const dir = new URL('../test/fidelity/corpus', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
const { refs } = runReference(dir);
const columns = COLUMNS.filter((c) => c !== 'internal_date');
const lower = (a?: string) => (a ? a.toLowerCase() : null);
const flat = (list: Mailbox[] = []) => list.flatMap((a) => a.group ?? [a]).map((a) => lower(a.address) ?? '');

async function run(name: string, parse: (raw: Buffer) => Promise<ParsedColumns>) {
  const rows = new Map<string, ParsedColumns>();
  let crashes = 0;
  const t0 = performance.now();
  for (let pass = 0; pass < 3; pass++)
    for (const f of files) {
      try {
        rows.set(f, await parse(readFileSync(`${dir}/${f}`)));
      } catch {
        crashes++;
      }
    }
  const us = Math.round(((performance.now() - t0) * 1000) / (3 * files.length));
  const report = compare(refs, rows, [], columns);
  const stats = Object.values(report.perColumn);
  const overall = (100 * stats.reduce((a, s) => a + s.agreed, 0)) / stats.reduce((a, s) => a + s.compared, 0);
  const per = Object.entries(report.perColumn).map(([c, s]) => `${c} ${((100 * s.agreed) / s.compared).toFixed(1)}`);
  console.log(`${name}: ${us} µs/msg, ${crashes / 3} crashes, ${overall.toFixed(1)}% overall\n  ${per.join(', ')}`);
}

await run('gmail-lake', async (raw) => {
  const ctx = { account: 'a', format: 'raw', extractionId: 'x', fetchedAt: 0 };
  const { message, attachments } = toRows({ id: 'x', raw: raw.toString('base64url') }, ctx);
  return { ...message, attachments };
});
await run('postal-mime 2.7.6', async (raw) => {
  const e = await PostalMime.parse(raw);
  const h = (n: string) => e.headers.find((x) => x.key === n)?.value ?? null;
  return {
    subject: e.subject ?? null,
    from_address: lower(e.from?.address),
    from_name: e.from?.name || null,
    to_addresses: flat(e.to),
    cc_addresses: flat(e.cc),
    message_id_header: h('message-id'),
    in_reply_to: h('in-reply-to'),
    references_header: h('references'),
    body_text: e.text ?? null,
    body_html: e.html ?? null,
    attachments: e.attachments.map((a) => ({
      filename: a.filename ?? '',
      mime_type: a.mimeType,
      size: typeof a.content === 'string' ? a.content.length : a.content.byteLength,
    })),
  };
});
await run('mailparser 3.14.2', async (raw) => {
  const e = await simpleParser(raw);
  const addrs = (v: MailparserMail['to']) => (v ? flat([v].flat().flatMap((x) => x.value)) : []);
  const hv = (n: string) => {
    const v = e.headers.get(n);
    return typeof v === 'string' ? v : Array.isArray(v) ? v.join(' ') : null;
  };
  const from = e.from?.value[0];
  return {
    subject: e.subject ?? null,
    from_address: lower(from?.address),
    from_name: from?.name || null,
    to_addresses: addrs(e.to),
    cc_addresses: addrs(e.cc),
    message_id_header: hv('message-id'),
    in_reply_to: hv('in-reply-to'),
    references_header: hv('references'),
    body_text: e.text ?? null,
    body_html: typeof e.html === 'string' ? e.html : null,
    attachments: e.attachments.map((a) => ({ filename: a.filename ?? '', mime_type: a.contentType, size: a.size })),
  };
});
