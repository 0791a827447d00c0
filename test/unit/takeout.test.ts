import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decimalId,
  escapeMboxrd,
  hexId,
  labelIdsOf,
  labelsHeader,
  lineEnding,
  parseLabelsHeader,
  takeoutPreamble,
  unescapeMboxrd,
} from '../../src/export/takeout.js';

test("Takeout's labels: system names, user labels by name, Opened for read mail, quoted commas, and back", () => {
  const user = new Map([
    ['Label_1', 'Projects'],
    ['Label_2', 'Taxes, 2024'],
  ]);
  const header = labelsHeader(['INBOX', 'IMPORTANT', 'CATEGORY_UPDATES', 'Label_1', 'Label_2'], user);
  assert.equal(header, 'Inbox,Important,Category Updates,Projects,"Taxes, 2024",Opened');
  assert.deepEqual(parseLabelsHeader(header), ['Inbox', 'Important', 'Category Updates', 'Projects', 'Taxes, 2024', 'Opened']);
  const byName = new Map([...user].map(([id, name]) => [name, id]));
  assert.deepEqual(
    labelIdsOf(parseLabelsHeader(header), (n) => byName.get(n)!),
    ['INBOX', 'IMPORTANT', 'CATEGORY_UPDATES', 'Label_1', 'Label_2'],
  );
  assert.deepEqual(
    labelIdsOf(parseLabelsHeader(labelsHeader(['UNREAD', 'SENT'], user)), () => 'x'),
    ['UNREAD', 'SENT'],
  );
  assert.deepEqual(
    labelIdsOf(['Inbox'], () => 'x'),
    ['INBOX', 'UNREAD'],
    'no Opened: unread',
  );
});

test('the From line carries the Gmail id in decimal; mboxrd escaping is undone exactly', () => {
  assert.equal(decimalId('18c2f0a9b1d2e3f4'), BigInt('0x18c2f0a9b1d2e3f4').toString());
  assert.equal(hexId(decimalId('00000000000001ff')), '00000000000001ff');
  const preamble = takeoutPreamble(
    { id: '18c2f0a9b1d2e3f4', threadId: '18c2f0a9b1d2e3f0', internalDate: Date.UTC(2023, 5, 7, 12, 34, 56), labels: 'Inbox' },
    Buffer.from('Subject: x\r\n\r\nbody\r\n'),
    '\r\n',
  );
  assert.equal(
    preamble,
    `From ${decimalId('18c2f0a9b1d2e3f4')}@xxx Wed Jun 07 12:34:56 +0000 2023\r\nX-GM-THRID: ${decimalId('18c2f0a9b1d2e3f0')}\r\nX-Gmail-Labels: Inbox\r\n`,
  );
  assert.match(
    takeoutPreamble({ id: '1', threadId: null, internalDate: 0, labels: '' }, Buffer.from('Subject: x\n\nno final newline'), '\n'),
    /\nX-Gmail-Lake-Added-Newline: 1\n$/,
  );
  const raw = Buffer.from('Subject: x\r\n\r\nFrom here\r\n>From there\r\nnot From\r\n', 'latin1');
  const escaped = escapeMboxrd(raw).toString('latin1');
  assert.equal(escaped, 'Subject: x\r\n\r\n>From here\r\n>>From there\r\nnot From\r\n');
  assert.equal(unescapeMboxrd(escaped), raw.toString('latin1'));
  assert.equal(lineEnding(raw), '\r\n');
  assert.equal(lineEnding(Buffer.from('a\nb')), '\n');
});
