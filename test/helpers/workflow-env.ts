import { after, before } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestTemporal, type TestTemporal } from './stack.js';

/**
 * The workflow tier's setting: a real Temporal dev server for the file (started before its tests, stopped after) and a
 * test environment on it, the SDK's own logs kept to errors. Read `current()` inside a test.
 */
export function workflowEnvironment(): { current: () => TestWorkflowEnvironment } {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  let temporal: TestTemporal | undefined;
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    temporal = await startTestTemporal();
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: temporal.address });
  });
  after(async () => {
    await env?.teardown();
    await temporal?.stop();
  });
  return {
    current: () => {
      if (!env) throw new Error('the workflow environment is not started (read it inside a test)');
      return env;
    },
  };
}
