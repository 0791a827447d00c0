import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { FAILURE } from '../../src/workflows/contracts.js';
import { registerSecrets } from '../../src/redact.js';
import { RedactFailures } from '../../src/worker/redact-failures.js';

const run = (error: Error) => new RedactFailures().execute({} as ActivityExecuteInput, () => Promise.reject(error));

test('activity boundary: secrets masked in message, stack and causes; statements DuckDB refuses as written are not retried', async () => {
  registerSecrets('boundary-secret-123');
  const err = new Error('IO Error: Unable to connect to Postgres at "host=db password=boundary-secret-123"', {
    cause: new Error('inner boundary-secret-123'),
  });
  await assert.rejects(run(err), (e: Error) => {
    assert.ok(!e.message.includes('boundary-secret-123') && !e.stack?.includes('boundary-secret-123'));
    assert.ok(!(e.cause as Error).message.includes('boundary-secret-123'));
    assert.ok(!(e instanceof ApplicationFailure), 'an I/O error stays retryable');
    return true;
  });
  await assert.rejects(run(new Error('Parser Error: unterminated quoted string at or near "\'a))))"')), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, FAILURE.lakeQueryInvalid);
    assert.equal(e.nonRetryable, true);
    return true;
  });
  // What DuckDB says when the PostgreSQL catalog restarted under a transaction: the moment's, retried.
  const restarted = new Error(
    'Invalid Input Error: Attempting to fetch from an unsuccessful query result\nError: TransactionContext Error: Current transaction is aborted (please ROLLBACK)',
  );
  await assert.rejects(run(restarted), (e: unknown) => e === restarted && !(e instanceof ApplicationFailure));
  // Temporal keeps a pending activity's last failure up to 4 KB: a long message, stack and causes are cut to fit.
  const long = new Error(`IO Error: ${'x'.repeat(10_000)}`, { cause: new Error(`inner ${'y'.repeat(10_000)}`) });
  long.stack = `${long.message}\n${'    at somewhere (file.js:1:1)\n'.repeat(500)}`;
  await assert.rejects(run(long), (e: Error) => {
    const size = [e, e.cause as Error].reduce((n, x) => n + x.message.length + (x.stack?.length ?? 0), 0);
    assert.ok(size < 3_000, `failure of ${size} characters`);
    assert.match(e.message, /^IO Error: x+…$/);
    return true;
  });
  const own = ApplicationFailure.retryable('Conversion Error: but the activity chose to retry', 'Mine');
  await assert.rejects(run(own), (e: unknown) => e === own);
});
