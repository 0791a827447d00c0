import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuery, QueryError, resolveLabel } from '../../src/emulator/query.js';
import type { MessageView } from '../../src/emulator/mailbox.js';

const m = (over: Partial<MessageView>): MessageView => ({
  index: 0,
  id: 'x',
  threadId: 'x',
  internalDate: Date.UTC(2024, 5, 1),
  labelIds: ['INBOX'],
  from: { name: 'Ann Lee', address: 'ann@acme.test' },
  to: ['me@example.com'],
  cc: [],
  subject: 'Quarterly report',
  hasAttachment: false,
  historyId: 1,
  ...over,
});

test('date bounds, labels, negation and phrases', () => {
  const q = parseQuery('after:2024/01/01 before:2024-07-01 label:inbox -from:bob subject:"quarterly report"');
  assert.equal(q.after, Date.UTC(2024, 0, 1));
  assert.equal(q.before, Date.UTC(2024, 6, 1));
  assert.ok(q.predicates.every((p) => p(m({}))));
  assert.ok(!q.predicates.every((p) => p(m({ from: { name: 'Bob', address: 'bob@x.test' } }))));
  assert.equal(parseQuery('in:anywhere').mentionsSpamTrash, true);
  assert.equal(resolveLabel('archive-2019'), 'Label_6');
  assert.equal(resolveLabel('CATEGORY_SOCIAL'), 'CATEGORY_SOCIAL');
});

test('newer_than is relative to now; unknown operators are errors, an unknown label matches nothing (as Gmail)', () => {
  const now = Date.UTC(2026, 10, 22);
  const q = parseQuery('newer_than:7d', now);
  assert.equal(q.after, now - 7 * 86_400_000);
  assert.throws(() => parseQuery('bogus:1'), QueryError);
  const nope = parseQuery('label:nope');
  assert.equal(nope.predicates.length, 1);
  assert.equal(nope.predicates[0]!(m({})), false);
  assert.throws(() => parseQuery('in:nope'), QueryError);
  assert.throws(() => parseQuery('after:yesterday'), QueryError);
});
