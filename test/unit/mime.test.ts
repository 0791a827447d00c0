import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leafText, parseMime } from '../../src/mime/parse.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

test('multipart tree gets Gmail part ids, decoded headers and bodies', () => {
  const raw = crlf([
    'From: =?UTF-8?Q?Jos=C3=A9?= <jose@example.org>',
    'Subject: =?ISO-8859-1?Q?Caf=E9_au_lait?=',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain; charset=ISO-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Ol=E9 =',
    'mundo',
    '--b2',
    'Content-Type: text/html; charset=UTF-8',
    '',
    '<p>hi</p>',
    '--b2--',
    '--b1',
    'Content-Type: application/pdf; name="r.pdf"',
    'Content-Disposition: attachment; filename="r.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 test').toString('base64'),
    '--b1--',
    '',
  ]);
  const { payload, leaves, problems } = parseMime(raw, { attachmentId: (p) => `att-${p}` });
  assert.deepEqual(problems, []);
  assert.equal(payload.partId, '');
  assert.equal(payload.headers.find((h) => h.name === 'Subject')!.value, 'Café au lait');
  assert.equal(payload.headers.find((h) => h.name === 'From')!.value, 'José <jose@example.org>');
  assert.deepEqual(
    payload.parts!.map((p) => p.partId),
    ['0', '1'],
  );
  assert.deepEqual(
    payload.parts![0]!.parts!.map((p) => p.partId),
    ['0.0', '0.1'],
  );
  assert.equal(leafText(leaves[0]!), 'Olé mundo');
  assert.equal(payload.parts![1]!.filename, 'r.pdf');
  assert.equal(payload.parts![1]!.body.attachmentId, 'att-1');
  assert.equal(leaves[2]!.content.toString(), '%PDF-1.4 test');
});

test('malformed input is reported, never thrown', () => {
  const cases: [Buffer, RegExp][] = [
    [crlf(['Content-Type: multipart/mixed; boundary="x"', '', '--y', 'hello', '--y--']), /boundary "x" not found/],
    [crlf(['Content-Type: text/plain', 'Content-Transfer-Encoding: base64', '', 'aGVsbG8=', '!!*~']), /invalid base64/],
    [crlf(['not a header', 'Content-Type: text/plain; charset=x-nope', '', 'body']), /header line without a field name.*unknown charset/],
  ];
  for (const [raw, problem] of cases) assert.match(parseMime(raw).problems.join('; '), problem);
});
