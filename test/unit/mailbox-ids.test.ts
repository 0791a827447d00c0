import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { extractionIdOf, keyMailboxIds, scheduleIdOf, syncIdOf } from '../../src/mailbox-ids.js';

test('mailbox ids: the address by default; a stable keyed digest (no address) with WORKFLOW_ID_KEY', () => {
  const plain = {} as Client;
  assert.equal(extractionIdOf(plain, ' User@Example.com '), 'gmail-extract-user@example.com');
  assert.equal(syncIdOf(undefined, 'user@example.com'), 'gmail-sync-user@example.com');
  const keyed = {} as Client;
  keyMailboxIds(keyed, 'ids-key-0123456789abcdef');
  const id = extractionIdOf(keyed, 'User@Example.com');
  assert.match(id, /^gmail-extract-h[0-9a-f]{32}$/);
  assert.equal(extractionIdOf(keyed, 'user@example.com'), id, 'canonical before digest');
  assert.equal(syncIdOf(keyed, 'user@example.com'), `gmail-sync-${id.slice('gmail-extract-'.length)}`);
  assert.equal(scheduleIdOf(keyed, 'user@example.com'), syncIdOf(keyed, 'user@example.com'));
  const other = {} as Client;
  keyMailboxIds(other, 'another-key-0123456789');
  assert.notEqual(extractionIdOf(other, 'user@example.com'), id, 'the digest depends on the key');
});
