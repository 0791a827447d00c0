import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode } from 'libqp';
import { decodeQuotedPrintable } from '../../src/mime/quoted-printable.js';

// libqp is the oracle: the MIME reader's decoder must give its bytes for every input.

let seed = 0x9e3779b9;
const rnd = () => (seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;

/** Text made mostly of what quoted-printable decoding treats specially. */
const PIECES = [
  '=',
  '=\r\n',
  '=\n',
  '= \r\n',
  '=\t\n',
  ' ',
  '\t',
  '  \t',
  '\r\n',
  '\n',
  '\r',
  '=3D',
  '=c3=a9',
  '=C3',
  '=4',
  '=G1',
  'a',
  'Z',
  '0',
  'f',
  'F',
  '\xe9',
  '\xff',
  '\x00',
  'word ',
];

test('the same bytes as libqp over 20,000 random inputs of what decoding treats specially', () => {
  for (let k = 0; k < 20_000; k++) {
    const length = Math.floor(rnd() * 24);
    const input = Array.from({ length }, () => PIECES[Math.floor(rnd() * PIECES.length)]).join('');
    assert.deepEqual(decodeQuotedPrintable(input), decode(input), JSON.stringify(input));
  }
});

test('the same bytes as libqp on edge cases and on a long body', () => {
  const cases = [
    '',
    '=',
    ' ',
    '= ',
    '=\r',
    '=\r\r\n',
    '==\nAB',
    '=4=\n1',
    'a \t \r\nb',
    'x=\r\ny',
    'caf=C3=A9 =\r\n  next',
    '=41',
    '=4',
    'ab=',
    'tail  ',
  ];
  for (const c of cases) assert.deepEqual(decodeQuotedPrintable(c), decode(c), JSON.stringify(c));
  const body = Array.from(
    { length: 2000 },
    (_, i) => `line ${i} caf=C3=A9 na=C3=AFve and a long tail of words=\r\n that wraps   \r\n`,
  ).join('');
  assert.deepEqual(decodeQuotedPrintable(body), decode(body));
});
