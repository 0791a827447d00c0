import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matches, type SearchDoc } from '../../src/search/evaluate.js';
import { resolveLabel } from '../../src/search/labels.js';
import { dateBounds, mentionsSpamTrash, parseQuery, QueryError } from '../../src/search/syntax.js';
import { fieldText } from '../../src/search/words.js';

const labels = new Map([
  ['Label_1', 'Projects'],
  ['Label_6', 'Archive/2019'],
]);
const resolve = (n: string) => resolveLabel(n, labels);
const doc = (over: Partial<SearchDoc> & { text?: Partial<SearchDoc['fields']> } = {}): SearchDoc => ({
  internalDate: Date.UTC(2024, 5, 1),
  sizeEstimate: 30_000,
  labelIds: ['INBOX', 'UNREAD', 'Label_6'],
  hasAttachment: false,
  messageId: 'abc.1@mail.example.com',
  ...over,
  fields: {
    subject: fieldText('Quarterly report: Q2, final'),
    from: fieldText('Ann Lee', 'ann.lee@acme.test'),
    to: fieldText('', 'me@example.com'),
    cc: fieldText(),
    bcc: fieldText('', 'boss@acme.test'),
    body: fieldText('Hello Ann,\nthe café opens on Friday.'),
    filename: fieldText('report.pdf', 'chart.png'),
    list: fieldText('Weekly <weekly.news.example.com>'),
    ...over.text,
  },
});
const hit = (q: string, d = doc()) => matches(parseQuery(q, { now: Date.UTC(2024, 6, 1) }), d, resolve);

test('words match whole words, in order, case-insensitively, in the field named', () => {
  assert.ok(hit('subject:quarterly'));
  assert.ok(hit('subject:QUARTERLY'));
  assert.ok(!hit('subject:quarter'), 'a prefix is not a word');
  assert.ok(hit('subject:"report q2"'), 'punctuation between words does not break a phrase');
  assert.ok(!hit('subject:"q2 report"'), 'a phrase keeps its order');
  assert.ok(hit('from:ann.lee@acme.test') && hit('from:acme.test') && hit('from:lee') && !hit('from:nn'));
  assert.ok(hit('bcc:boss') && !hit('to:boss'));
  assert.ok(hit('café') && hit('friday') && !hit('caf'), 'bare words: subject, body, addresses');
  assert.ok(hit('filename:pdf') && hit('filename:report.pdf') && !hit('filename:doc'));
  assert.ok(hit('list:weekly.news.example.com'));
});

test('labels, dates, sizes, Message-ID, OR, braces, groups and negation', () => {
  assert.ok(hit('label:archive-2019') && hit('label:Archive/2019') && hit('in:inbox') && hit('is:unread') && !hit('is:read'));
  assert.ok(!hit('label:nope'), 'an unknown label matches nothing, no error');
  assert.ok(hit('after:2024/05/31 before:2024-06-02') && !hit('after:2024/06/02'));
  assert.ok(hit('newer_than:31d') && !hit('newer_than:29d') && hit('older_than:29d'));
  assert.ok(hit('larger:29k') && !hit('larger:30k') && hit('smaller:1M'));
  assert.ok(hit('rfc822msgid:<abc.1@mail.example.com>') && hit('rfc822msgid:ABC.1@mail.example.com'));
  assert.ok(hit('from:bob OR from:ann') && hit('{from:bob from:ann}') && !hit('{from:bob from:carol}'));
  assert.ok(hit('-from:bob') && !hit('-from:ann') && hit('-(from:bob subject:report)') && !hit('-{from:bob subject:report}'));
  assert.ok(hit('subject:(quarterly final)') && !hit('subject:(quarterly hello)') && hit('subject:{hello final}'));
  assert.ok(hit('from:ann OR from:bob subject:report'), 'OR binds tighter than AND');
  assert.ok(!hit('has:attachment') && hit('has:attachment', doc({ hasAttachment: true })));
  assert.ok(hit('') && hit('!!'), 'nothing to look for matches everything');
  assert.ok(hit('subject:Q2:final') && !hit('subject:Q2:nope'), "an operator's value keeps its colons");
  assert.ok(!hit('10:30') && hit('friday 10:30', doc({ text: { body: fieldText('see you Friday at 10:30') } })), 'a time is words');
  assert.ok(hit('https://cafe.example/friday', doc({ text: { body: fieldText('https://cafe.example/friday') } })), 'a link is words');
});

test('spam and trash are searched only when named; date bounds are read for the listing', () => {
  assert.equal(mentionsSpamTrash(parseQuery('in:anywhere'), resolve), true);
  assert.equal(mentionsSpamTrash(parseQuery('subject:x OR in:trash'), resolve), true);
  assert.equal(mentionsSpamTrash(parseQuery('-in:spam'), resolve), false);
  // Midnights in Pacific time by default, as Gmail's API reads dates: PST in January, PDT in July.
  assert.deepEqual(dateBounds(parseQuery('after:2024/01/01 before:2024/07/01 x')), {
    after: Date.UTC(2024, 0, 1, 8),
    before: Date.UTC(2024, 6, 1, 7),
  });
  assert.equal(dateBounds(parseQuery('after:2024/01/01', { timeZone: 'UTC' })).after, Date.UTC(2024, 0, 1));
  assert.equal(dateBounds(parseQuery('after:1704067200')).after, Date.UTC(2024, 0, 1), 'seconds are exact, whatever the zone');
  assert.deepEqual(dateBounds(parseQuery('after:2024/01/01 OR x')), {});
  assert.equal(dateBounds(parseQuery('after:2024/01/01', { timeZone: 'America/New_York' })).after, Date.UTC(2024, 0, 1, 5));
  assert.equal(dateBounds(parseQuery('after:2024/07/01', { timeZone: 'America/New_York' })).after, Date.UTC(2024, 6, 1, 4));
});

test('what Gmail refuses is a QueryError naming the position and the operator', () => {
  const refused = (q: string, position: number, operator?: string) =>
    assert.throws(
      () => parseQuery(q),
      (e: unknown) => e instanceof QueryError && e.position === position && e.operator === operator,
      q,
    );
  refused('after:yesterday', 0, 'after');
  refused('x larger:huge', 2, 'larger');
  refused('a bogus:1', 2, 'bogus');
  refused('subject:"unclosed', 8);
  refused('(a b', 0);
  refused('a b)', 3);
  refused('a OR', 2);
  refused('from: ann', 0, 'from');
  refused('has:drive', 0, 'has');
  refused(`${'('.repeat(40)}a${')'.repeat(40)}`, 32);
  refused(Array.from({ length: 51 }, (_, i) => `w${i}`).join(' '), 190);
  assert.match(new QueryError(5, 'expects a date', 'after').message, /position 5 \(after:\): expects a date/);
});
