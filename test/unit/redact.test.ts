import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import { createLogger } from '../../src/log.js';
import { redact, registerSecrets } from '../../src/redact.js';

test('connection-string passwords, bearer tokens and registered secrets are masked', () => {
  const cases: [string, string][] = [
    ['IO Error: Unable to connect to Postgres at "host=db password=pw1 user=x": refused', 'pw1'],
    ["host=db password='a b c' dbname=lake", 'a b c'],
    ['postgres://lake:p%40ss@db:5432/lake failed', 'p%40ss'],
    ['Authorization: Bearer ya29.a0AfH6SMB-token_value', 'ya29.a0AfH6SMB-token_value'],
    ['{"msg":"client_secret=GOCSPX-abc","n":1}', 'GOCSPX-abc'],
    ['key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'],
    ['cut off: "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA', 'MIIEowIBAAKCAQEA'],
  ];
  for (const [text, secret] of cases) {
    const out = redact(text);
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    assert.ok(out.includes('***'), out);
  }
  assert.deepEqual(JSON.parse(redact('{"msg":"password=abc","n":1}')), { msg: 'password=***', n: 1 }, 'JSON lines stay JSON');
  registerSecrets('1//0g-registered-refresh-token');
  assert.equal(redact('invalid_grant for 1//0g-registered-refresh-token'), 'invalid_grant for ***');
  assert.equal(redact('nothing secret here'), 'nothing secret here');
});

test('/readyz and the logs carry no registered secret', async () => {
  registerSecrets('S3-SECRET-KEY-value');
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string) => (lines.push(String(chunk)), true);
  try {
    const logger = createLogger('info');
    logger.error({ err: 'S3 said: bad key S3-SECRET-KEY-value' }, 'lake check failed for S3-SECRET-KEY-value');
    const app = createApp({
      auth: undefined,
      extractions: {} as ExtractionService,
      readiness: { lake: async () => Promise.reject(new Error('HTTP 403 for key S3-SECRET-KEY-value')) },
      logger,
    });
    const r = await app.request('/readyz');
    assert.equal(r.status, 503);
    const body = await r.text();
    assert.ok(!body.includes('S3-SECRET-KEY-value'), body);
    assert.match(body, /HTTP 403 for key \*\*\*/);
  } finally {
    process.stdout.write = write;
  }
  assert.ok(lines.length > 0, 'the logger wrote');
  for (const l of lines) assert.ok(!l.includes('S3-SECRET-KEY-value'), l);
});
