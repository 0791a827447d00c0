import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { api } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal, testConfig } from '../helpers/stack.js';

const SCHEMATHESIS = join(projectRoot, '.tools/py/bin/schemathesis');

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
before(async () => {
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 120 })]);
  // No rate limit here: the fuzzer's requests should reach the routes, not the limiter.
  // Fleets the fuzzer starts run one mailbox at a time: the 2-core machine also runs Temporal, the API under test and
  // the race loop, and a fleet of hundreds of generated mailboxes would make Temporal miss the API's 3 s deadline.
  p = await startPipeline(testConfig(temporal, emu, { API_RATE_LIMIT: '0', LOG_LEVEL: 'error', FLEET_MAX_CONCURRENCY: '1' }), credentials);
});
after(async () => {
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
});

test('schemathesis (examples, coverage, fuzzing, stateful via links) against /openapi.json while extractions start, pause, resume and complete: no 5xx, every answer as documented', async (t) => {
  // Small extractions completing under the fuzzer, with pause/resume racing their completion: two mailboxes, each
  // starting its next extraction once the last one ended (a tight loop of 409s would only load the two cores).
  let racing = true;
  // For a failure's message: the fuzzer's seed (to run the same cases again) and the longest the event loop was held.
  // FUZZ_SEED: a failed run's seed, to run the same cases again.
  const seed = Number(process.env.FUZZ_SEED) || Date.now() % 1_000_000;
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  t.after(() => loop.disable());
  const race = async (account: string) => {
    for (let i = 0; racing; i++) {
      const started = await api<{ id: string }>(p, 'POST', '/extract', { account, maxMessages: 20 + i, batchSize: 10, format: 'minimal' });
      assert.ok([200, 202].includes(started.status), `start → ${started.status}`);
      const path = `/extract/${encodeURIComponent(started.body.id)}`;
      for (const action of ['pause', 'resume', 'pause', 'resume']) {
        let r = await api(p, 'POST', `${path}/${action}`);
        // 503: Temporal (sharing two cores with the fuzzer) took longer than the API's deadline, and the signal may not
        // have reached it: sent again, as the 503 asks of a client (a last resume lost left the run paused: CI, once).
        for (let tries = 1; r.status === 503 && tries < 30; tries++) r = await api(p, 'POST', `${path}/${action}`);
        // 409: it completed first.
        assert.ok([202, 409].includes(r.status), `${action} → ${r.status}`);
      }
      let last: unknown; // for the failure's message: a run left paused, or one whose batches stopped
      const ended = (ms: number) =>
        waitFor(
          `${account}'s extraction to end`,
          async () => {
            const s = await api<{ status: string }>(p, 'GET', path);
            last = s.body;
            return s.status === 200 && !['running', 'pausing', 'paused'].includes(s.body.status);
          },
          ms,
          200,
        );
      // Past two minutes the run is slow or stuck (its closing steps hung in CI, rarely): what it waits on is noted,
      // and three more minutes tell one from the other — a slow run is reported, a stuck one fails the test.
      const waited = Date.now();
      const slow = await ended(120_000).then(
        () => undefined,
        () => whatItWaitsOn(started.body.id),
      );
      if (slow === undefined) continue;
      await ended(180_000).catch(async (e: Error) => {
        throw new Error(
          `${e.message}; its last status: ${JSON.stringify(last)}; at 120 s: ${slow}; at 300 s: ${await whatItWaitsOn(started.body.id)}`,
        );
      });
      t.diagnostic(`${account}'s extraction ended ${Math.round((Date.now() - waited) / 1000)} s after its last signal; at 120 s: ${slow}`);
    }
  };
  /** The activities Temporal has pending for a run, the open workflows by type, the fuzzer's seed, the event loop's longest hold. */
  const whatItWaitsOn = async (id: string): Promise<string> => {
    const pending = await p.client.workflow
      .getHandle(id)
      .describe()
      .then((d) =>
        JSON.stringify(
          d.raw.pendingActivities?.map((a) => ({
            type: a.activityType?.name,
            state: a.state,
            attempt: a.attempt,
            lastFailure: a.lastFailure?.message,
          })),
        ),
      )
      .catch((err: Error) => `describe failed: ${err.message}`);
    // What else runs (what the worker's 32 activity slots may be busy with).
    const open: Record<string, number> = {};
    try {
      for await (const w of p.client.workflow.list({ query: 'ExecutionStatus="Running"' })) open[w.type] = (open[w.type] ?? 0) + 1;
    } catch (err) {
      open[`list failed: ${(err as Error).message}`] = 0;
    }
    return `pending activities: ${pending}; open workflows ${JSON.stringify(open)}; seed ${seed}; event loop held up to ${Math.round(loop.max / 1e6)} ms`;
  };
  const races = Promise.all([race('race0@example.com'), race('race1@example.com')]);
  const run = promisify(execFile)(
    SCHEMATHESIS,
    [
      'run',
      `${p.url}/openapi.json`,
      '--header',
      `Authorization: Bearer ${TEST_API_KEY}`,
      '--checks',
      'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance',
      '--max-examples',
      '20',
      // The API answers within its Temporal deadline (10 s) plus its own time; on two loaded cores that can pass 10 s.
      '--request-timeout',
      '30',
      // Readiness may answer its documented 503 when Temporal, sharing two cores with the fuzzer, is slow to answer.
      '--exclude-path',
      '/readyz',
      // Hypothesis's "too slow" health check times the fuzzer's own data generation, which two loaded cores slow down:
      // it says nothing of the API (a fuzzing phase errored once in CI on a loaded machine, its cause not printed).
      '--suppress-health-check',
      'too_slow',
      // One worker: Python 3.11's ast.parse is not thread-safe, and hypothesis calls it (SystemError with 2 workers).
      '--workers',
      '1',
      '--seed',
      String(seed),
      '--no-color',
    ],
    { cwd: temporal.dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } },
  ).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: (e.stdout ?? '') + (e.stderr ?? '') }),
  );
  const { code, out } = await run;
  racing = false;
  await races;
  const summary = /(\d+) generated, (\d+) passed/.exec(out);
  t.diagnostic(
    out
      .split('\n')
      .filter((l) =>
        /generated|passed|failed|Failed|error|Error|timed out|Health Check|Network|Unresponsive|Phases|Stateful|Scenarios|Links|\b(GET|POST|PUT|PATCH|DELETE) \//.test(
          l,
        ),
      )
      .join('\n'),
  );
  assert.equal(code, 0, out.slice(-6000));
  assert.ok(summary && Number(summary[1]) >= 400, `test cases: ${summary?.[0]}`);
  assert.equal(summary[1], summary[2], 'every generated case passed');
});
