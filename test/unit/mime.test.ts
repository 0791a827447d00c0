import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toRows } from '../../src/activities/rows.js';
import { findBody, partText } from '../../src/mime/content.js';
import { decodeWords } from '../../src/mime/headers.js';
import { parseMime } from '../../src/mime/parse.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

test('multipart tree gets Gmail part ids, headers that decode, and bodies', () => {
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
  assert.equal(decodeWords(payload.headers.find((h) => h.name === 'Subject')!.value), 'Café au lait');
  assert.equal(decodeWords(payload.headers.find((h) => h.name === 'From')!.value), 'José <jose@example.org>');
  assert.deepEqual(
    payload.parts!.map((p) => p.partId),
    ['0', '1'],
  );
  assert.deepEqual(
    payload.parts![0]!.parts!.map((p) => p.partId),
    ['0.0', '0.1'],
  );
  assert.equal(partText(findBody(payload, 'plain')!), 'Olé mundo');
  assert.equal(payload.parts![1]!.filename, 'r.pdf');
  assert.equal(payload.parts![1]!.body.attachmentId, 'att-1');
  assert.equal(leaves[2]!.content.toString(), '%PDF-1.4 test');
});

test('malformed input is reported, never thrown', () => {
  const cases: [Buffer, RegExp][] = [
    [crlf(['Content-Type: multipart/mixed; boundary="x"', '', '--y', 'hello', '--y--']), /boundary "x" not found/],
    [crlf(['Content-Type: text/plain', 'Content-Transfer-Encoding: base64', '', 'aGVsbG8', '!!*~']), /characters outside base64/],
    [crlf(['Content-Type: text/plain; charset=x-nope', 'not a header', '', 'body']), /not ended by an empty line.*unknown charset/],
  ];
  for (const [raw, problem] of cases) assert.match(parseMime(raw).problems.join('; '), problem);
});

const rowsOf = (raw: Buffer) => {
  const ctx = { account: 'a@example.com', extractionId: 'x', fetchedAt: 0 };
  const full = parseMime(raw, { inlineLimit: 1 << 20, attachmentId: (p) => `att-${p}` }).payload;
  const fromRaw = toRows({ id: 'm', raw: raw.toString('base64url') }, { ...ctx, format: 'raw' });
  const fromFull = toRows({ id: 'm', payload: full }, { ...ctx, format: 'full' });
  return { fromRaw, fromFull };
};

test('raw and full give the same row, parse_error included', () => {
  const raw = Buffer.from(
    [
      'From: a@example.com',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=x-nope',
      '',
      'hi',
      '--b',
      'Content-Type: bogus',
      'Content-Disposition: attachment; filename=r.bin',
      '',
      'data',
      '--b--',
      '',
    ].join('\n'),
  );
  const { fromRaw, fromFull } = rowsOf(raw);
  const strip = (r: typeof fromRaw) => ({ ...r.message, raw: null, raw_sha256: null, format: '' });
  assert.deepEqual(strip(fromFull), strip(fromRaw));
  assert.deepEqual(
    fromFull.attachments.map((a) => ({ ...a, attachment_id: null })),
    fromRaw.attachments,
  );
  assert.match(fromRaw.message.parse_error!, /unknown charset "x-nope".*invalid Content-Type/);
  assert.equal(fromRaw.attachments[0]!.mime_type, 'text/plain'); // RFC 2045 §5.2: invalid type → text/plain
});

test('bytes inside parts are kept: LF line ends stay LF, the break before a delimiter belongs to it', () => {
  const raw = Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nline 1\nline 2\n\n--b--\n', 'latin1');
  assert.equal(rowsOf(raw).fromRaw.message.body_text, 'line 1\nline 2\n');
});

test('a header section without its empty line keeps its body', () => {
  const raw = Buffer.from('From: a@example.com\r\nSubject: hi\r\nthis is the body\r\n', 'latin1');
  const { message } = rowsOf(raw).fromRaw;
  assert.equal(message.subject, 'hi');
  assert.equal(message.body_text, 'this is the body\r\n');
});

test('charsets: ISO-2022-JP bodies, UTF-7 and raw 8-bit encoded words, RFC 2231 filenames', () => {
  const jis = Buffer.concat([
    Buffer.from('Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n'),
    Buffer.from('1b2442467c4b5c386c1b2842', 'hex'),
  ]);
  assert.equal(rowsOf(jis).fromRaw.message.body_text, '日本語');
  // Bytes that ISO-2022-JP cannot hold (EUC-JP mislabelled; a stray 8-bit byte mid-text) become U+FFFD, one per byte,
  // as Python's codec gives: never unassigned code points.
  const mislabelled = (hex: string) =>
    rowsOf(Buffer.concat([Buffer.from('Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n'), Buffer.from(hex, 'hex')])).fromRaw.message
      .body_text;
  assert.equal(mislabelled('a4b3a4f3'), '\uFFFD'.repeat(4));
  assert.equal(mislabelled('6162631b24422433ff24731b2842'), 'abcこ\uFFFDん');
  const utf7 = Buffer.from('Subject: =?utf-7?Q?Fr+APY-sche?=\r\n\r\n', 'latin1');
  assert.equal(rowsOf(utf7).fromRaw.message.subject, 'Frösche');
  const eightBit = Buffer.from('Subject: =?iso-8859-1?Q?Fr\xf6sche?=\r\n\r\n', 'latin1');
  assert.equal(rowsOf(eightBit).fromRaw.message.subject, 'Frösche');
  const named = Buffer.from(
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename*0*=utf-8''%C3%A4%C3;\r\n filename*1*=%B6.pdf\r\n\r\nx\r\n--b\r\nContent-Disposition: attachment; filename*=ISO-8859-1''%E4.txt\r\n\r\ny\r\n--b--\r\n",
    'latin1',
  );
  assert.deepEqual(
    rowsOf(named).fromRaw.attachments.map((a) => a.filename),
    ['äö.pdf', 'ä.txt'],
  );
});

test('addresses are split before their names are decoded', () => {
  const raw = Buffer.from(
    'From: =?iso-8859-1?Q?Last=DFname=2C_First?= <comma@example.com>\r\nTo: =?utf-8?B?YUBiLmM=?= <x@example.com>, y@example.com\r\n\r\n',
    'latin1',
  );
  const { message } = rowsOf(raw).fromRaw;
  assert.equal(message.from_name, 'Lastßname, First');
  assert.equal(message.from_address, 'comma@example.com');
  assert.deepEqual(message.to_addresses, ['x@example.com', 'y@example.com']);
});

test('an empty boundary is a boundary: its parts are read, in raw and in full, as Python reads them', () => {
  const raw = Buffer.from(
    'From: a@example.com\r\nContent-Type: multipart/alternative; boundary=""\r\n\r\n--\r\nContent-Type: text/plain\r\n\r\nhello there\r\n----\r\n',
    'latin1',
  );
  const { fromRaw, fromFull } = rowsOf(raw);
  assert.equal(fromRaw.message.body_text, 'hello there');
  assert.equal(fromFull.message.body_text, 'hello there');
  assert.equal(fromRaw.message.parse_error, null);
});
