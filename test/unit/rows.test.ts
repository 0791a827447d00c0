import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toRows } from '../../src/activities/rows.js';
import { GeneratedMailbox } from '../../src/emulator/generate.js';
import { attachmentIdFor, INLINE_LIMIT, messageResource } from '../../src/emulator/gmail-responses.js';
import { Mailbox } from '../../src/emulator/mailbox.js';

const mailbox = new Mailbox('me@example.com', new GeneratedMailbox('rows', 300, 'me@example.com'));
const ctx = (format: string) => ({ account: 'me@example.com', format, extractionId: 'x', fetchedAt: 0 });

test('format=full and format=raw give the same row and attachment rows (ids aside)', () => {
  let compared = 0;
  for (let i = 0; i < 300; i++) {
    const view = mailbox.view(i)!;
    const full = toRows(messageResource(mailbox, view, 'full', []), ctx('full'));
    const raw = toRows(messageResource(mailbox, view, 'raw', []), ctx('raw'));
    for (const k of [
      'subject',
      'from_address',
      'to_addresses',
      'body_text',
      'body_html',
      'message_id_header',
      'in_reply_to',
      'parse_error',
    ] as const) {
      assert.deepEqual(full.message[k], raw.message[k], `${k} of message ${i}`);
    }
    assert.deepEqual(
      full.attachments.map((a) => [a.part_id, a.filename, a.size]),
      raw.attachments.map((a) => [a.part_id, a.filename, a.size]),
    );
    for (const a of full.attachments)
      if (a.size > INLINE_LIMIT || a.filename) assert.equal(a.attachment_id, attachmentIdFor(view.id, a.part_id));
    const meta = new GeneratedMailbox('rows', 300, 'me@example.com').meta(i);
    if (meta.kind === 'malformed') assert.ok(raw.message.parse_error, `malformed message ${i} flagged (in both formats)`);
    else assert.equal(raw.message.parse_error, null, `message ${i} (${meta.kind}) not flagged`);
    assert.equal(raw.message.subject, meta.subject, `the manifest's subject is what message ${i} (${meta.kind}) carries`);
    compared++;
  }
  assert.ok(compared > 250);
});

test('rows carry decoded headers, addresses and a parse error for malformed mail', () => {
  const gen = new GeneratedMailbox('rows', 300, 'me@example.com');
  // the variant with a boundary that no delimiter matches: a problem `full` shows as well as `raw`
  const i = [...Array(300).keys()].find((k) => gen.meta(k).kind === 'malformed' && gen.raw(k).includes('boundary="declared-'))!;
  const row = toRows(messageResource(mailbox, mailbox.view(i)!, 'raw', []), ctx('raw')).message;
  assert.ok(row.parse_error, 'malformed message flagged');
  assert.ok(row.raw, 'raw kept');
  const ok = toRows(messageResource(mailbox, mailbox.view(0)!, 'full', []), ctx('full')).message;
  assert.equal(ok.subject, gen.meta(0).subject);
  assert.equal(ok.from_address, gen.meta(0).from.address);
  assert.deepEqual(ok.to_addresses, gen.meta(0).to);
  assert.equal(ok.parse_error, null);
  const minimal = toRows(messageResource(mailbox, mailbox.view(0)!, 'minimal', []), ctx('minimal')).message;
  assert.equal(minimal.subject, null);
  assert.equal(minimal.parse_error, null);
});
