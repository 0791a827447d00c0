import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GeneratedMailbox } from '../../src/emulator/generate.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { control, emulatorStats, gmailClient } from '../helpers/emulator.js';
import { api, temporalCli } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { lakeRows, listable, manifest, rawMismatches } from '../helpers/verify.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

const OWNER = 'user@example.com';
let temporal: TestTemporal;

before(async () => {
  // A low continue-as-new threshold makes several runs chain within one extraction.
  temporal = await startTestTemporal({ 'limit.historyCount.suggestContinueAsNew': 60 });
});
after(async () => temporal.stop());

const status = (p: Pipeline, id: string) => api<ExtractionProgress>(p, 'GET', `/extract/${id}`).then((r) => r.body);
const until = (p: Pipeline, id: string, what: string, pred: (s: ExtractionProgress) => boolean, timeoutMs = 180_000) =>
  waitFor(
    what,
    async () => {
      const s = await status(p, id);
      return pred(s) ? s : undefined;
    },
    timeoutMs,
    250,
  );

const cli = (args: string[]) => temporalCli(temporal.address, args);

describe('extraction of a 2,000-message mailbox with 10% injected faults (format=raw)', () => {
  let emu: RunningEmulator;
  let p: Pipeline;
  before(async () => {
    emu = await startTestEmulator({
      messages: 2000,
      settings: { faults: { error500: 0.04, error503: 0.02, error429: 0.02, drop: 0.01, truncate: 0.01 } },
    });
    p = await startPipeline(testConfig(temporal, emu), credentials);
  });
  after(async () => {
    await p.stop();
    await emu.close();
  });

  test('lake rows equal the emulator manifest, no duplicates, raw bytes identical, malformed rows flagged', async () => {
    const started = await api<{ id: string; runId: string; statusUrl: string }>(p, 'POST', '/extract', {
      account: OWNER,
      format: 'raw',
      batchSize: 100,
    });
    assert.equal(started.status, 202);
    assert.equal(started.body.id, 'gmail-extract-user@example.com');
    const again = await api<{ id: string; created: boolean }>(p, 'POST', '/extract', { account: OWNER, format: 'raw' });
    assert.equal(again.status, 200, 'a second request joins the running extraction');
    assert.equal(again.body.id, started.body.id);

    const done = await until(p, started.body.id, 'completion', (s) => s.status !== 'running');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const truth = listable(await manifest(emu));
    const lake = await lakeRows(p.lake, OWNER);
    assert.equal(lake.rows, truth.length);
    assert.equal(lake.distinct, lake.rows, 'no duplicate (account, id)');
    assert.deepEqual([...lake.ids].sort(), truth.map((e) => e.id).sort());
    assert.deepEqual(await rawMismatches(p.lake, OWNER, truth), []);
    assert.equal(done.progress.persisted, truth.length);
    assert.equal(done.progress.percent, 100);
    const listed = await waitFor('the extraction in GET /extract', async () => {
      const l = await api<{ extractions: { id: string; account: string | null; status: string }[] }>(p, 'GET', '/extract');
      return l.body.extractions.find((e) => e.id === started.body.id && e.status === 'completed');
    });
    assert.equal(listed.account, OWNER, 'the GmailAccount search attribute holds the mailbox');

    const stats = await emulatorStats(emu);
    assert.ok((stats['messages.get']?.faults ?? 0) > 100, 'faults were really injected');

    // Malformed messages, known independently from the generator, are stored with a parse error.
    const gen = new GeneratedMailbox(`test:${OWNER}`, 2000, OWNER);
    const malformed = truth
      .map((e) => parseInt(e.id.slice(8), 16))
      .filter((i) => gen.meta(i).kind === 'malformed')
      .map((i) => gen.meta(i).id);
    assert.ok(malformed.length > 20);
    const flagged = new Set(
      (await p.lake.query<{ id: string }>(`SELECT id FROM lake.messages WHERE parse_error IS NOT NULL`)).map((r) => r.id),
    );
    assert.deepEqual(
      malformed.filter((id) => !flagged.has(id)),
      [],
      'every malformed message is stored and flagged',
    );

    // Continue-as-new chained several runs; no run's history holds a large payload (no message content).
    assert.ok(done.runs > 1, `expected several runs, got ${done.runs}`);
    let largest = 0;
    let runs = 0;
    for await (const w of p.client.workflow.list({ query: `WorkflowId = '${started.body.id}'` })) {
      runs++;
      const history = await p.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      const walk = (v: unknown): void => {
        if (v instanceof Uint8Array) largest = Math.max(largest, v.length);
        else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
      };
      walk(history.events);
    }
    assert.ok(runs > 1);
    assert.ok(largest < 8 * 1024, `largest payload in history is ${largest} bytes`);
  });
});

describe('pause, resume and cancel from the temporal CLI and the HTTP API', () => {
  let emu: RunningEmulator;
  let p: Pipeline;
  const account = 'pause@example.com';
  before(async () => {
    emu = await startTestEmulator({ messages: 1400, settings: { faults: { latencyMs: 3 } } });
    p = await startPipeline(testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '4' }), credentials);
  });
  after(async () => {
    await p.stop();
    await emu.close();
  });

  test('counts freeze while paused; cancel keeps a consistent lake; a new POST resumes and completes', async () => {
    const { body } = await api<{ id: string }>(p, 'POST', '/extract', { account, format: 'full', batchSize: 50 });
    const id = body.id;
    await until(p, id, '200 persisted', (s) => s.progress.persisted >= 200);

    await cli(['workflow', 'signal', '--workflow-id', id, '--name', 'pause']);
    // `paused` (not `pausing`): the batches in flight have committed, nothing moves until resume.
    const paused = await until(p, id, 'paused', (s) => s.status === 'paused');
    assert.equal(paused.paused, true);
    const frozen = paused.progress.persisted;
    // An absence is observed over time: two seconds in which a running extraction commits several batches.
    const observedUntil = Date.now() + 2000;
    await waitFor('two seconds paused', async () => {
      assert.equal((await status(p, id)).progress.persisted, frozen, 'no progress while paused');
      return Date.now() >= observedUntil;
    });
    const viaCli = JSON.parse(await cli(['workflow', 'query', '--workflow-id', id, '--name', 'progress', '-o', 'json'])) as {
      queryResult: ExtractionProgress[];
    };
    assert.equal(viaCli.queryResult[0]!.status, 'paused');

    assert.equal((await api(p, 'POST', `/extract/${id}/resume`)).status, 202);
    await until(p, id, 'progress after resume', (s) => s.status === 'running' && s.progress.persisted > frozen);
    assert.equal((await api(p, 'POST', `/extract/${id}/pause`)).status, 202);
    await until(p, id, 'paused via HTTP', (s) => s.status === 'paused');
    await cli(['workflow', 'signal', '--workflow-id', id, '--name', 'resume']);
    await until(p, id, 'running again', (s) => s.status === 'running');

    await until(p, id, '800 persisted', (s) => s.progress.persisted >= 800);
    await cli(['workflow', 'cancel', '--workflow-id', id]);
    const canceled = await until(p, id, 'canceled', (s) => s.status === 'canceled');
    assert.equal(canceled.status, 'canceled');
    assert.equal((await api(p, 'POST', `/extract/${id}/pause`)).status, 409, 'closed extractions reject signals');
    const partial = await lakeRows(p.lake, account);
    assert.equal(partial.distinct, partial.rows);
    const truth = listable(await manifest(emu, account));
    assert.ok(partial.rows >= 800 && partial.rows < truth.length, `partial lake has ${partial.rows}`);

    const resumed = await api<{ id: string; created: boolean }>(p, 'POST', '/extract', { account, format: 'full', batchSize: 50 });
    assert.equal(resumed.status, 202);
    const done = await until(p, id, 'resumed completion', (s) => s.status === 'completed');
    assert.ok((done.resumedFrom ?? 0) >= 700, `resumed from ${done.resumedFrom}`);
    const full = await lakeRows(p.lake, account);
    assert.equal(full.rows, truth.length);
    assert.equal(full.distinct, full.rows);
  });
});

describe('revoked credentials', () => {
  test('fail the extraction quickly with a readable reason and no retry storm', async () => {
    const emu = await startTestEmulator({ messages: 3000, settings: { faults: { latencyMs: 2 } } });
    const p = await startPipeline(testConfig(temporal, emu), credentials);
    try {
      const { body } = await api<{ id: string }>(p, 'POST', '/extract', { account: 'revoked@example.com', batchSize: 50 });
      await until(p, body.id, 'some progress', (s) => s.progress.persisted >= 100);
      await control(emu, 'POST', 'tokens/revoke', { refresh_token: credentials.refresh_token });
      const revokedAt = Date.now();
      const failed = await until(p, body.id, 'failure', (s) => s.status !== 'running', 30_000);
      assert.equal(failed.status, 'failed');
      assert.equal(
        failed.error,
        'the refresh token for revoked@example.com expired or was revoked — run `gmail-lake login revoked@example.com`',
      );
      assert.ok(Date.now() - revokedAt < 15_000, 'failed within seconds');
      const stats = await emulatorStats(emu);
      assert.ok((stats['oauth.token']?.served ?? 0) < 20, `token endpoint hit ${stats['oauth.token']?.served} times`);
    } finally {
      await p.stop();
      await emu.close();
    }
  });
});

describe('a message deleted between list and get', () => {
  test('is counted as skipped; every other message is stored', async () => {
    const account = 'deleted@example.com';
    const emu = await startTestEmulator({ messages: 60 });
    // One get at a time, each delayed (mean 150 ms): the first batch's last get comes seconds after its list page.
    const p = await startPipeline(testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '1' }), credentials);
    try {
      const firstPage = await gmailClient(emu).gmail.users.messages.list({ userId: account, maxResults: 20 });
      const victim = firstPage.data.messages!.at(-1)!.id!;
      await control(emu, 'PATCH', 'settings', { faults: { latencyMs: 150 } });
      const { body } = await api<{ id: string }>(p, 'POST', '/extract', { account, format: 'metadata', batchSize: 20 });
      const listed = await until(p, body.id, 'the first page listed', (s) => s.progress.listed >= 20, 60_000);
      assert.ok(listed.progress.fetched < 19, `the victim must still be unfetched (fetched ${listed.progress.fetched})`);
      await control(emu, 'DELETE', `users/${account}/messages/${victim}`);

      const done = await until(p, body.id, 'completion', (s) => s.status !== 'running', 120_000);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      const truth = listable(await manifest(emu, account)).map((e) => e.id);
      assert.ok(!truth.includes(victim) && truth.length > 40);
      assert.equal(done.progress.skipped, 1);
      assert.equal(done.progress.persisted, truth.length);
      const lake = await lakeRows(p.lake, account);
      assert.equal(lake.rows, truth.length);
      assert.deepEqual([...lake.ids].sort(), truth.sort(), 'every other message is stored; the deleted one is not');
    } finally {
      await p.stop();
      await emu.close();
    }
  });
});

describe('one mailbox, one extraction', () => {
  test('`me` and its address are one extraction; a differing selection → 409; a re-run after completion fetches nothing', async () => {
    const emu = await startTestEmulator({ messages: 700, settings: { faults: { latencyMs: 2 } } });
    const p = await startPipeline(testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '4' }), credentials);
    try {
      const first = await api<{ id: string; account: string; created: boolean }>(p, 'POST', '/extract', {
        account: 'me',
        format: 'metadata',
      });
      assert.equal(first.status, 202);
      assert.equal(first.body.account, OWNER, '`me` is resolved through users.getProfile');
      assert.equal(first.body.id, `gmail-extract-${OWNER}`);
      const same = await api<{ id: string; created: boolean }>(p, 'POST', '/extract', { account: OWNER, format: 'metadata' });
      assert.equal(same.status, 200, 'the address joins the extraction `me` started');
      assert.equal(same.body.id, first.body.id);
      const other = await api<{ error: { code: string; message: string; details: { running: unknown; requested: unknown } } }>(
        p,
        'POST',
        '/extract',
        { account: 'me', format: 'raw' },
      );
      assert.equal(other.status, 409);
      assert.equal(other.body.error.code, 'CONFLICT');
      assert.match(other.body.error.message, /different selection/);
      assert.deepEqual(other.body.error.details, {
        running: { query: '', labelIds: [], includeSpamTrash: false, format: 'metadata' },
        requested: { query: '', labelIds: [], includeSpamTrash: false, format: 'raw' },
      });
      const done = await until(p, first.body.id, 'completion', (s) => s.status !== 'running');
      const truth = listable(await manifest(emu));
      assert.equal(done.status, 'completed');
      assert.equal(done.progress.persisted, truth.length);
      assert.equal((await lakeRows(p.lake, OWNER)).rows, truth.length);

      await control(emu, 'POST', 'stats/reset');
      const again = await api<{ id: string }>(p, 'POST', '/extract', { account: 'me', format: 'metadata' });
      assert.equal(again.status, 202, 'a completed extraction can run again');
      const rerun = await until(p, again.body.id, 'the re-run to complete', (s) => s.status !== 'running' && s.runs > 0);
      assert.equal(rerun.status, 'completed');
      assert.equal((await emulatorStats(emu))['messages.get']?.served ?? 0, 0, 'the re-run fetched no message');
      assert.equal(rerun.progress.persisted, 0, 'the re-run reports 0 new');
      assert.equal(rerun.progress.present, truth.length, 'and every listed message as already present');
      assert.equal(rerun.progress.percent, 100);
      const rows = await lakeRows(p.lake, OWNER);
      assert.equal(rows.rows, truth.length);
      assert.equal(rows.distinct, rows.rows);
    } finally {
      await p.stop();
      await emu.close();
    }
  });
});

describe('a page token Gmail no longer accepts', () => {
  test('on resume after a pause: the listing restarts and the extraction completes exactly', async () => {
    const account = 'stale@example.com';
    const emu = await startTestEmulator({ messages: 700, settings: { faults: { latencyMs: 3 } } });
    const p = await startPipeline(testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '3' }), credentials);
    try {
      const { body } = await api<{ id: string }>(p, 'POST', '/extract', { account, format: 'metadata', batchSize: 50 });
      await until(p, body.id, '300 persisted', (s) => s.progress.persisted >= 300);
      assert.equal((await api(p, 'POST', `/extract/${body.id}/pause`)).status, 202);
      await until(p, body.id, 'paused', (s) => s.status === 'paused');
      await control(emu, 'POST', 'pageTokens/expire');
      assert.equal((await api(p, 'POST', `/extract/${body.id}/resume`)).status, 202);
      const done = await until(p, body.id, 'completion', (s) => s.status !== 'running' && s.status !== 'paused');
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.relists, 1, 'the listing restarted once');
      const truth = listable(await manifest(emu, account));
      const rows = await lakeRows(p.lake, account);
      assert.equal(rows.distinct, rows.rows, 'no duplicates');
      assert.deepEqual([...rows.ids].sort(), truth.map((e) => e.id).sort());
      assert.equal(done.progress.persisted, truth.length, 'every message stored once, counted once');
      assert.equal(done.progress.percent, 100);
    } finally {
      await p.stop();
      await emu.close();
    }
  });
});

describe('the default lake while an extraction writes it', () => {
  test('another process reads it (SQLite catalog, READ_ONLY) and sees the rows grow, without errors', async () => {
    const account = 'reader@example.com';
    const emu = await startTestEmulator({ messages: 800, settings: { faults: { latencyMs: 3 } } });
    const config = testConfig(temporal, emu, { GMAIL_FETCH_CONCURRENCY: '4' });
    assert.equal(config.lake.catalog, 'sqlite', 'the default catalog');
    const p = await startPipeline(config, credentials);
    const reader = spawn(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'test/helpers/lake-reader.ts'), config.lake.catalogPath, config.lake.extensionDir, account],
      { cwd: projectRoot, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const readerExit = new Promise<number | null>((r) => reader.once('exit', r));
    try {
      await waitFor('the reader', async () => out.includes('"ready"'), 60_000, 50);
      const { body } = await api<{ id: string }>(p, 'POST', '/extract', { account, format: 'metadata', batchSize: 50 });
      const done = await until(p, body.id, 'completion', (s) => s.status !== 'running');
      assert.equal(done.status, 'completed');
      const total = listable(await manifest(emu, account)).length;
      await waitFor('the reader to see every row', async () => out.includes(`{"count":${total}}`), 30_000, 100);
      reader.stdin.end();
      assert.equal(await readerExit, 0);
      const lines = out.split('\n').filter((l) => l.startsWith('{"count') || l.startsWith('{"error'));
      const errors = lines.filter((l) => l.startsWith('{"error'));
      const counts = lines.filter((l) => l.startsWith('{"count')).map((l) => (JSON.parse(l) as { count: number }).count);
      assert.deepEqual(errors, [], 'the reader never failed');
      assert.ok(
        counts.some((c) => c > 0 && c < total),
        `the reader saw the lake mid-extraction (counts ${[...new Set(counts)].join(', ')})`,
      );
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => a - b),
        'counts never go back: readers see whole batches only',
      );
    } finally {
      reader.kill();
      await p.stop();
      await emu.close();
    }
  });
});
