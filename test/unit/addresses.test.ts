import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddresses } from '../../src/mime/addresses.js';

/**
 * Expected values are what Python's `email` package (policy.default, the reference parser) gives for the same
 * header: `message_from_bytes(b"From: " + value + b"\r\n\r\nx", policy=policy.default)["from"].addresses` →
 * (display_name or null, addr_spec lower-cased). Shapes from the fidelity issue's list of regex failures.
 */
const cases: [string, [string | null, string][]][] = [
  ['"123@abuse.net" <123@example.com>', [['123@abuse.net', '123@example.com']]],
  ['"big bug bb"@bug.com', [[null, '"big bug bb"@bug.com']]],
  // Obsolete local parts (Enron corpus): kept as written, not quoted into an address the message never had.
  ['s..palmer@enron.com', [[null, 's..palmer@enron.com']]],
  ['.x.@y.com', [[null, '.x.@y.com']]],
  ['"a..b"@c.com', [[null, 'a..b@c.com']]],
  ['Jo <"j(o)"@x.com>', [['Jo', '"j(o)"@x.com']]],
  ['pete(his account)@silly.test', [[null, 'pete@silly.test']]],
  ['joe@example.com (Joe Q. Public)', [[null, 'joe@example.com']]],
  ['Joe@Example.COM', [[null, 'joe@example.com']]],
  [
    'A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;',
    [
      ['Ed Jones', 'c@a.test'],
      [null, 'joe@where.test'],
      ['John', 'jdoe@one.test'],
    ],
  ],
  [
    'a@b.c, a@b.c',
    [
      [null, 'a@b.c'],
      [null, 'a@b.c'],
    ],
  ],
  ['Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>', [['Pete', 'pete@silly.test']]],
  // Raw UTF-8 (RFC 6532); Python returns it surrogate-escaped, the same text once decoded as UTF-8.
  ['Jürgen Müller <jm@example.de>', [['Jürgen Müller', 'jm@example.de']]],
  ['undisclosed-recipients:;', []],
  [
    'Foo Bar <foo@bar.com>, "Last, First" <lf@x.y>',
    [
      ['Foo Bar', 'foo@bar.com'],
      ['Last, First', 'lf@x.y'],
    ],
  ],
];

test('address headers parse as RFC 5322 says (and as Python email reads them)', () => {
  for (const [value, want] of cases)
    assert.deepEqual(
      parseAddresses(value).map((a) => [a.name, a.address]),
      want,
      value,
    );
});

// Here Python recovers more (the name 'Broken'); ours is a documented fallback, not a claim of agreement.
test('a list the grammar refuses is read mailbox by mailbox, leniently, as Python reads it', () => {
  assert.deepEqual(parseAddresses('Moderator <moderator>, Whomever, Big Bug bb@bug.com'), [
    { address: 'moderator', name: 'Moderator' },
    { address: 'whomever', name: null },
    { address: '"big bug bb"@bug.com', name: null },
  ]);
  assert.deepEqual(parseAddresses('eve@example.com <frank@example.com>, Mary <@route.tld:mary@example.net>'), [
    { address: 'eve@example.com', name: null },
    { address: 'mary@example.net', name: 'Mary' },
  ]);
  assert.deepEqual(parseAddresses(''), []);
  assert.deepEqual(parseAddresses(null), []);
});
