/**
 * The search index's words are the emulator's words: random messages of awkward text (accents composed and not,
 * capitals, digits, punctuation glued to words, scripts without spaces, ligatures, final sigma) are put in an index and
 * handed to the emulator's evaluator, and random queries over their words (phrases, fields, OR, negation) must find
 * the same messages in both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { matches, type SearchDoc } from '../../src/search/evaluate.js';
import { parseQuery } from '../../src/search/syntax.js';
import { fieldText } from '../../src/search/words.js';
import { queryIndex } from '../../src/search-index/query.js';
import { IndexStore, type IndexedMessage } from '../../src/search-index/store.js';

const VOCABULARY = [
  'Café',
  'cafe\u0301',
  'CAFÉ',
  'naïve',
  'Straße',
  'STRASSE',
  'İstanbul',
  'istanbul',
  'ΣΊΣΥΦΟΣ',
  'σίσυφος',
  'ﬁle',
  'file',
  'x²',
  '①',
  '東京都',
  'report',
  'Report-2024',
  'q3',
  'budget',
  "o'brien",
  'a.b',
  'Ünïcödé',
  'e-mail',
  'déjà',
  'vu',
];

/** A deterministic pseudo-random source (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(23);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
const text = (n: number) =>
  Array.from({ length: n }, () => pick(VOCABULARY))
    .map((w, i) => (i ? pick([' ', ', ', '. ', '\n', '-', '/', ' (']) : '') + w)
    .join('');

const MESSAGES = 300;
const docs: { id: string; subject: string; body: string; from: string; to: string }[] = Array.from({ length: MESSAGES }, (_, i) => ({
  id: `m${String(i).padStart(4, '0')}`,
  subject: text(1 + Math.floor(rnd() * 4)),
  body: text(Math.floor(rnd() * 12)),
  from: `${text(2)} <${pick(['ann', 'bob', 'café'])}@x.test>`,
  to: text(1),
}));

let dir: string;
let store: IndexStore;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'search-index-'));
  store = await IndexStore.open(join(dir, 'index.sqlite'));
  await store.writing(() => {
    for (const [i, d] of docs.entries()) {
      const m: IndexedMessage = {
        account: 'a@x.test',
        id: d.id,
        threadId: d.id,
        micros: i * 1_000_000,
        internalDate: new Date(i * 1000).toISOString(),
        sizeEstimate: 1000 + i,
        labelIds: ['INBOX'],
        hasAttachment: false,
        messageId: null,
        deleted: false,
        fromAddress: null,
        fromName: null,
        subject: d.subject,
        snippet: null,
        text: { subject: d.subject, from: d.from, to: d.to, cc: null, bcc: null, body: d.body, filename: null, list: null },
      };
      store.put(m);
    }
  });
});
after(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const searchDoc = (d: (typeof docs)[number], i: number): SearchDoc => ({
  internalDate: i * 1000,
  sizeEstimate: 1000 + i,
  labelIds: ['INBOX'],
  hasAttachment: false,
  messageId: '',
  fields: {
    subject: fieldText(d.subject),
    from: fieldText(d.from),
    to: fieldText(d.to),
    cc: fieldText(),
    bcc: fieldText(),
    body: fieldText(d.body),
    filename: fieldText(),
    list: fieldText(),
  },
});

function query(): string {
  const term = () => {
    const w = pick(VOCABULARY);
    const words = rnd() < 0.3 ? `"${w} ${pick(VOCABULARY)}"` : /[\s"]/.test(w) ? `"${w}"` : w;
    return `${rnd() < 0.15 ? '-' : ''}${rnd() < 0.4 ? `${pick(['subject', 'from', 'to'])}:` : ''}${words}`;
  };
  const n = 1 + Math.floor(rnd() * 3);
  const terms = Array.from({ length: n }, term);
  // Sometimes a group: a negated one, or one ORed inside an AND (what FTS5 evaluates as one expression, or cannot).
  if (n > 1 && rnd() < 0.3) terms.splice(0, 2, `${rnd() < 0.3 ? '-' : ''}(${terms[0]} ${rnd() < 0.5 ? 'OR ' : ''}${terms[1]})`);
  return terms.join(rnd() < 0.3 ? ' OR ' : ' ');
}

test('the index finds what the emulator finds, over 250 random queries of awkward words (ranked or newest first)', () => {
  const resolve = () => undefined;
  const differences: { q: string; missing: string[]; extra: string[] }[] = [];
  let nonEmpty = 0;
  for (let i = 0; i < 250; i++) {
    const q = query();
    const tree = parseQuery(q);
    const expected = docs.filter((d, j) => matches(tree, searchDoc(d, j), resolve)).map((d) => d.id);
    if (expected.length && expected.length < MESSAGES) nonEmpty++;
    // Every plan: words ranked (this index is small), or not ranked and checked message by message (what words most
    // messages of a large mailbox hold get), or read into a set.
    for (const [order, plan] of [
      ['date', undefined],
      ['relevance', undefined],
      ['date', { dense: 0, rankAtMost: 0 }],
      ['relevance', { dense: 0, rankAtMost: 0 }],
      ['date', { dense: 2, rankAtMost: 0 }],
    ] as const) {
      const page = queryIndex(store, { account: 'a@x.test', tree, resolve, limit: 10_000, spamTrash: false, deleted: false, order, plan });
      const found = page.rows.map((r) => r.id);
      const missing = expected.filter((id) => !found.includes(id));
      const extra = found.filter((id) => !expected.includes(id));
      if (missing.length || extra.length)
        differences.push({ q: `${q} (${order}, ${JSON.stringify(plan)})`, missing: missing.slice(0, 3), extra: extra.slice(0, 3) });
      if (page.order === 'date') assert.deepEqual(found, [...expected].reverse(), `${q}: newest first`);
      if (plan) assert.equal(page.order, 'date', 'nothing is ranked past rankAtMost');
    }
  }
  assert.deepEqual(differences.slice(0, 10), []);
  assert.ok(nonEmpty > 120, `the queries match something and not everything (${nonEmpty} of 250)`);
});

test('deeply nested groups (as deep as the parser allows) answer as the emulator does, in every plan', () => {
  const resolve = () => undefined;
  const w = (i: number) => VOCABULARY[i % VOCABULARY.length]!.replace(/[\s"]/g, '');
  const nested = (n: number, join: (i: number, inner: string) => string) => {
    let q = w(0);
    for (let i = 1; i < n; i++) q = join(i, q);
    return q;
  };
  for (const q of [
    nested(24, (i, inner) => `${w(i)} OR (${inner})`),
    nested(12, (i, inner) => `${w(i)} -${w(i + 1)} (${w(i + 2)} OR (${inner}))`),
    nested(28, (i, inner) => (i % 2 ? `${w(i)} OR (${inner})` : `${w(i)} (${inner})`)),
    [w(1), ...Array.from({ length: 40 }, (_, i) => `-${w(i + 2)}`)].join(' '),
  ]) {
    const tree = parseQuery(q);
    const expected = docs.filter((d, j) => matches(tree, searchDoc(d, j), resolve)).map((d) => d.id);
    for (const plan of [undefined, { dense: 0, rankAtMost: 0 }, { dense: 2, rankAtMost: 0 }]) {
      const page = queryIndex(store, {
        account: 'a@x.test',
        tree,
        resolve,
        limit: 10_000,
        spamTrash: false,
        deleted: false,
        order: 'date',
        plan,
      });
      assert.deepEqual(
        page.rows.map((r) => r.id),
        [...expected].reverse(),
        `${q.slice(0, 60)}… (${JSON.stringify(plan)})`,
      );
    }
  }
});

test('pages: ranked ones go on by offset, newest-first ones by date; either cursor is taken by either order', () => {
  const resolve = () => undefined;
  const tree = parseQuery('café OR report');
  const base = { account: 'a@x.test', tree, resolve, spamTrash: false, deleted: false };
  for (const order of ['relevance', 'date'] as const) {
    const whole = queryIndex(store, { ...base, limit: 10_000, order }).rows.map((r) => r.id);
    assert.ok(whole.length > 20);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = queryIndex(store, { ...base, limit: 7, order, cursor });
      assert.equal(page.order, cursor && order === 'relevance' ? 'relevance' : order);
      paged.push(...page.rows.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(paged, whole, order);
  }
  // A newest-first page's cursor handed to a ranked search (the lake answered the first page): newest first, from there.
  const dated = queryIndex(store, { ...base, limit: 5, order: 'date' });
  const next = queryIndex(store, { ...base, limit: 5, order: 'relevance', cursor: dated.nextCursor });
  assert.equal(next.order, 'date');
  assert.deepEqual(
    next.rows.map((r) => r.id),
    queryIndex(store, { ...base, limit: 10, order: 'date' })
      .rows.slice(5)
      .map((r) => r.id),
  );
});
