import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailboxIds } from '../../src/mailbox-ids.js';

test('mailbox ids: the address by default; a stable keyed digest (no address) with WORKFLOW_ID_KEY', () => {
  const plain = new MailboxIds();
  assert.equal(plain.extraction(' User@Example.com '), 'gmail-extract-user@example.com');
  assert.equal(plain.sync('user@example.com'), 'gmail-sync-user@example.com');
  const keyed = new MailboxIds('ids-key-0123456789abcdef');
  const id = keyed.extraction('User@Example.com');
  assert.match(id, /^gmail-extract-h[0-9a-f]{32}$/);
  assert.equal(keyed.extraction('user@example.com'), id, 'canonical before digest');
  assert.equal(keyed.sync('user@example.com'), `gmail-sync-${id.slice('gmail-extract-'.length)}`);
  assert.equal(keyed.schedule('user@example.com'), keyed.sync('user@example.com'));
  assert.notEqual(new MailboxIds('another-key-0123456789').extraction('user@example.com'), id, 'the digest depends on the key');
});
