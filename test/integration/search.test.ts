/**
 * Search ≡ Gmail: a generated mailbox extracted (format full) through the whole pipeline, then every query of the table
 * below asked of the emulator (`messages.list?q=`, Google's stand-in, reading each message's bytes with postal-mime)
 * and of the lake (GET /messages, SQL over the stored rows): the same ids, for every operator, combinations, negation
 * and free words. The lake's pages come newest first, and a query Gmail refuses is a 400 naming where.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';
import type { gmail_v1 } from '@googleapis/gmail';
import type { Config } from '../../src/config.js';
import { GeneratedMailbox } from '../../src/emulator/generate.js';
import { projectRoot } from '../../src/stack/tools.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { hexId, parseLabelsHeader, unescapeMboxrd } from '../../src/export/takeout.js';
import { searchMessages } from '../../src/lake/search.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { cli } from '../helpers/cli.js';
import { control, gmailClient } from '../helpers/emulator.js';
import { offlinePage } from '../helpers/browser.js';
import { api, extractionEnded } from '../helpers/http.js';
import { credentials, startTestEmulator, startTestTemporal, TEST_API_KEY, type TestTemporal, testConfig } from '../helpers/stack.js';
import { manifest } from '../helpers/verify.js';

const MESSAGES = Number(process.env.SEARCH_TEST_MESSAGES ?? 20_000);
const OWNER = 'user@example.com';
let temporal: TestTemporal;
let emu: RunningEmulator;
let pipeline: Pipeline;
let config: Config;
let gmail: gmail_v1.Gmail;
/** Where the tracking message's remote content points: every request it receives is recorded. */
let pixels: Server;
const fetched: string[] = [];
let trackingId: string;
/** The two "quokka" messages: the one that says it most, then the newer one that says it once. */
const ranked: string[] = [];

/** A newsletter whose HTML reaches out every way it can: images, style sheets, scripts, frames, a refresh. */
function trackingMessage(base: string): string {
  const html = `<html><head><link rel="stylesheet" href="${base}/style.css"><meta http-equiv="refresh" content="0;url=${base}/refresh">
<script>fetch('${base}/script'); document.title = 'scripts ran';</script></head>
<body style="background: url(${base}/background.png)"><h1>Tracking test</h1><p>Readable text stays.</p>
<img src="${base}/pixel.gif" width="1" height="1"><img src="nope" onerror="fetch('${base}/onerror')">
<iframe src="${base}/frame"></iframe><video poster="${base}/poster.jpg"></video></body></html>`;
  return [
    'From: "News" <news@tracker.example>',
    `To: ${OWNER}`,
    'Subject: Tracking test newsletter',
    'Date: Mon, 01 Jun 2026 10:00:00 +0000',
    'Message-ID: <tracking-test@tracker.example>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '',
  ].join('\r\n');
}

before(async () => {
  pixels = createServer((req, res) => {
    fetched.push(req.url ?? '');
    res.end();
  });
  await new Promise<void>((r) => pixels.listen(0, '127.0.0.1', r));
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: MESSAGES, owner: OWNER });
  gmail = gmailClient(emu).gmail;
  const base = `http://127.0.0.1:${(pixels.address() as AddressInfo).port}`;
  const added = await control(emu, 'POST', `users/${OWNER}/messages`, {
    raw: Buffer.from(trackingMessage(base)).toString('base64'),
    labelIds: ['INBOX'],
  });
  trackingId = (added.messages as { id: string }[])[0]!.id;
  // Accents written as combining marks (NFD, as some Mac mailers send them): found by the composed word.
  const nfd = [
    'From: ann@acme.test',
    `To: ${OWNER}`,
    'Subject: Decomposed accents',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Cafe\u0301 au lait.',
    '',
  ];
  await control(emu, 'POST', `users/${OWNER}/messages`, {
    raw: Buffer.from(nfd.join('\r\n'), 'utf8').toString('base64'),
    labelIds: ['INBOX'],
  });
  // Ranking: the older message says "quokka" in its subject and four times in its body, the newer once in a long body.
  const plain = (subject: string, date: string, body: string) =>
    Buffer.from(
      ['From: ranker@acme.test', `To: ${OWNER}`, `Subject: ${subject}`, `Date: ${date}`, 'Content-Type: text/plain', '', body, ''].join(
        '\r\n',
      ),
    ).toString('base64');
  for (const [subject, date, body] of [
    ['Quokka census', 'Tue, 02 Jun 2026 10:00:00 +0000', 'The quokka count: quokka, quokka and one more quokka.'],
    ['Island notes', 'Wed, 03 Jun 2026 10:00:00 +0000', `${'Ferry times and weather. '.repeat(40)}A quokka was seen.`],
  ] as const) {
    const r = await control(emu, 'POST', `users/${OWNER}/messages`, { raw: plain(subject, date, body), labelIds: ['INBOX'] });
    ranked.push((r.messages as { id: string }[])[0]!.id);
  }
  config = testConfig(temporal, emu);
  pipeline = await startPipeline(config, credentials);
  const started = await api<{ id: string }>(pipeline, 'POST', '/extract', {
    account: OWNER,
    format: 'raw',
    batchSize: 500,
    includeSpamTrash: true,
  });
  assert.equal(started.status, 202);
  const done = await extractionEnded(pipeline, started.body.id);
  assert.equal(done.status, 'completed');
});
after(async () => {
  pixels?.close();
  await pipeline?.stop();
  await emu?.close();
  await temporal?.stop();
});

/** Every id the emulator lists for q (Gmail's answer). */
async function gmailIds(q: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const r = await gmail.users.messages.list({ userId: 'me', q, maxResults: 500, pageToken });
    ids.push(...(r.data.messages ?? []).map((m) => m.id!));
    pageToken = r.data.nextPageToken ?? undefined;
  } while (pageToken);
  return ids;
}

interface Page {
  messages: { id: string; internalDate: string }[];
  nextCursor?: string;
}

/** Every id GET /messages answers for q, page by page (500 each), checking the pages run newest first. */
async function apiIds(q: string): Promise<string[]> {
  const out: { id: string; internalDate: string }[] = [];
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams({ account: OWNER, q, limit: '500', ...(cursor ? { cursor } : {}) });
    const r = await api<Page>(pipeline, 'GET', `/messages?${params}`);
    assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
    out.push(...r.body.messages);
    cursor = r.body.nextCursor;
  } while (cursor);
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]!.internalDate >= out[i]!.internalDate, `${q}: newest first`);
  return out.map((m) => m.id);
}

/** Every id the lake's search (SQL over the stored rows, no index) finds for q, in one page. */
async function lakeIds(q: string): Promise<string[]> {
  const page = await searchMessages(pipeline.lake, { account: OWNER, q, limit: 1_000_000, index: false });
  assert.equal(page.source, 'lake');
  return page.messages.map((m) => m.id);
}

/** Every id the search index finds for q (brought to the lake's newest snapshot first), in one page, newest first. */
async function indexIds(q: string, order: 'date' | 'relevance' = 'date'): Promise<string[]> {
  const page = await searchMessages(pipeline.lake, { account: OWNER, q, limit: 1_000_000, order, index: { waitMs: 600_000 } });
  assert.equal(page.source, 'index', q);
  return page.messages.map((m) => m.id);
}

const generated = new GeneratedMailbox('test', MESSAGES, OWNER);
const someMessageId = generated.meta(Math.floor(MESSAGES / 3)).messageIdHeader;

/** The table: every operator, alone and combined, negated, grouped, and free words (subject, body, addresses). */
const QUERIES = [
  'from:alice',
  'from:acme.test',
  'from:"chloé dubois"',
  'from:(alice smith)',
  'to:example.org',
  `to:${OWNER}`,
  'cc:smith',
  'cc:shop.example',
  'bcc:patel',
  'bcc:acme.test',
  'subject:invoice',
  'subject:"project kickoff"',
  'subject:(quarterly report)',
  'subject:zürich',
  'label:projects',
  'label:archive-2019',
  'label:nope',
  'in:inbox',
  'in:sent',
  'in:spam',
  'in:trash from:smith',
  'in:anywhere subject:password',
  '-in:chats subject:contract',
  'is:unread',
  'is:read label:travel',
  'is:starred',
  'is:important -is:unread',
  'category:promotions',
  'has:attachment',
  'filename:pdf',
  'filename:notes.txt',
  'filename:"résumé.pdf"',
  '-has:attachment filename:png',
  'after:2024/01/01 before:2024/03/01',
  'after:2021-06-15 label:family',
  'before:1577836800',
  'older_than:5y',
  'newer_than:18m',
  'larger:40k',
  'smaller:5k',
  'larger:20k smaller:22k',
  `rfc822msgid:${someMessageId}`,
  'list:weekly',
  'list:news.example.com',
  'from:alice OR from:bob',
  '{subject:invoice subject:photos}',
  '(from:alice OR from:bob) has:attachment',
  '-in:inbox -in:sent',
  '-{label:projects label:family} is:unread',
  'label:receipts OR label:newsletters after:2025/01/01',
  'café',
  'smörgåsbord OR façade',
  '"grüße"',
  'quentin',
  '"weekly newsletter" -is:unread',
  'subject:re budget',
  'zürich -subject:trip',
  'café subject:decomposed',
];

test(`search ≡ Gmail: ${QUERIES.length} queries over ${MESSAGES} messages, the lake's ids equal the emulator's`, async () => {
  assert.ok(QUERIES.length >= 40);
  const table: { q: string; gmail: number; lake: number; 'gmail ms': number; 'lake ms': number; 'index ms': number }[] = [];
  // The index is built from the lake's change feed (20,000 messages, 40 batches) before the first query.
  const built = performance.now();
  await indexIds('from:nobody');
  console.log(`search index built in ${Math.round(performance.now() - built)} ms`);
  const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    return [await p, Math.round(performance.now() - t)];
  };
  const differences: { q: string; by: string; missing: string[]; extra: string[] }[] = [];
  for (const q of QUERIES) {
    const [[g, gms], [l, lms], [x, xms]] = await Promise.all([timed(gmailIds(q)), timed(lakeIds(q)), timed(indexIds(q))]);
    table.push({ q, gmail: g.length, lake: l.length, 'gmail ms': gms, 'lake ms': lms, 'index ms': xms });
    if (process.env.SEARCH_TEST_VERBOSE) console.log(q, gms, lms, xms);
    const gs = new Set(g);
    for (const [by, ids] of [
      ['lake', l],
      ['index', x],
    ] as const) {
      const found = new Set(ids);
      const missing = g.filter((id) => !found.has(id));
      const extra = ids.filter((id) => !gs.has(id));
      if (missing.length || extra.length) differences.push({ q, by, missing: missing.slice(0, 5), extra: extra.slice(0, 5) });
    }
    // Newest first, both: the same ids in the same order; ranked by relevance, the same ids.
    if (!differences.length) assert.deepEqual(x, l, q);
    assert.deepEqual(new Set(await indexIds(q, 'relevance')), new Set(x), `${q} (ranked)`);
  }
  console.table(table);
  assert.deepEqual(differences, []);
  // Over HTTP, page by page, the same ids in the same order.
  for (const q of ['is:starred', 'from:alice OR from:bob', 'label:travel']) assert.deepEqual(await apiIds(q), await lakeIds(q), q);
  // The table tests something: most queries match some messages and none matches them all.
  const all = (await gmailIds('')).length;
  assert.ok(table.filter((r) => r.gmail > 0 && r.gmail < all).length >= QUERIES.length - 3, JSON.stringify(table));
});

test('a query Gmail refuses is a 400 naming the position and the operator; a bad cursor is a 400', async () => {
  const r = await api<{ error: { message: string; details: { position: number; operator: string } } }>(
    pipeline,
    'GET',
    `/messages?${new URLSearchParams({ account: OWNER, q: 'subject:x after:someday' })}`,
  );
  assert.equal(r.status, 400);
  assert.equal(r.body.error.details.position, 10);
  assert.equal(r.body.error.details.operator, 'after');
  assert.match(r.body.error.message, /after/);
  const bad = await api(pipeline, 'GET', `/messages?${new URLSearchParams({ account: OWNER, cursor: 'nope' })}`);
  assert.equal(bad.status, 400);
});

test("the reader: a message as JSON, its stored bytes (the emulator's sha256), its thread", async () => {
  const truth = (await manifest(emu, OWNER)).find((m) => m.id === trackingId)!;
  const m = await api<{ id: string; subject: string; bodyHtml: string; from: { address: string }; hasRaw: boolean; threadId: string }>(
    pipeline,
    'GET',
    `/messages/${OWNER}/${trackingId}`,
  );
  assert.equal(m.status, 200);
  assert.equal(m.body.subject, 'Tracking test newsletter');
  assert.equal(m.body.from.address, 'news@tracker.example');
  assert.match(m.body.bodyHtml, /Readable text stays/);
  assert.equal(m.body.hasRaw, true);
  const res = await fetch(`${pipeline.url}/messages/${OWNER}/${trackingId}`, {
    headers: { authorization: `Bearer ${TEST_API_KEY}`, accept: 'message/rfc822' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'message/rfc822');
  assert.equal(
    createHash('sha256')
      .update(Buffer.from(await res.arrayBuffer()))
      .digest('hex'),
    truth.sha256,
  );
  // A generated thread: its messages oldest first, every one of them.
  const threadId = (await manifest(emu, OWNER)).find((x) => /^Re: /.test(x.subject))!.threadId;
  const thread = await api<{ messages: { id: string; internalDate: string }[] }>(pipeline, 'GET', `/threads/${OWNER}/${threadId}`);
  assert.equal(thread.status, 200);
  const expected = (await manifest(emu, OWNER)).filter((x) => x.threadId === threadId).sort((a, b) => a.internalDate - b.internalDate);
  assert.deepEqual(
    thread.body.messages.map((x) => x.id),
    expected.map((x) => x.id),
  );
  assert.equal((await api(pipeline, 'GET', `/messages/${OWNER}/0000000000000000`)).status, 404);
  assert.equal((await api(pipeline, 'GET', `/threads/${OWNER}/0000000000000000`)).status, 404);
  assert.equal((await api(pipeline, 'GET', `/messages/${OWNER}/not..an..id`)).status, 400);
});

test('/ui finds the message and shows it in headless Chromium: its text, none of its remote content, no script', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    // The network is off: only the API answers; any other request is refused and recorded.
    const { page, elsewhere } = await offlinePage(browser, new URL(pipeline.url).origin);
    await page.goto(`${pipeline.url}/ui`);
    await page.fill('#key', TEST_API_KEY);
    await page.click('#login button');
    await page.fill('#account', OWNER);
    await page.fill('#q', 'subject:"tracking test"');
    await page.click('#search button');
    await page.locator('#results tbody tr').first().click();
    const frame = page.frameLocator('#reader iframe');
    await frame.locator('text=Readable text stays').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#reader iframe').getAttribute('sandbox'), '', 'sandboxed: no scripts, no same origin');
    // Whatever the frame would fetch (its refresh is due at once) it has asked for once the network has been idle.
    await page.waitForLoadState('networkidle');
    assert.deepEqual(elsewhere, [], 'no request left the API');
    assert.deepEqual(fetched, [], 'the tracking server saw nothing');
    assert.notEqual(await page.title(), 'scripts ran');
    assert.ok(await frame.locator('text=Tracking test').isVisible());
  } finally {
    await browser.close();
  }
});

/** A tool's answer: its JSON, or its error text. */
async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<{ error?: string; value?: unknown }> {
  const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text: string }[] };
  return r.isError ? { error: r.content[0]!.text } : { value: JSON.parse(r.content[0]!.text) };
}

test('MCP over HTTP (behind the key) and stdio: the SDK client lists the tools, searches, reads, and is refused writes', async () => {
  const http = new Client({ name: 'search-test', version: '1.0.0' });
  await http.connect(
    new StreamableHTTPClientTransport(new URL(`${pipeline.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
    }),
  );
  const stdio = new Client({ name: 'search-test', version: '1.0.0' });
  await stdio.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [join(projectRoot, 'bin/gmail-lake.mjs'), 'mcp'],
      env: { ...(process.env as Record<string, string>), DATA_DIR: config.dataDir, GMAIL_LAKE_HOME: join(temporal.dir, 'mcp-home') },
      stderr: 'pipe',
    }),
  );
  try {
    for (const client of [http, stdio]) {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ['get_message', 'get_thread', 'list_labels', 'mailbox_stats', 'run_sql', 'search_messages']);
      const found = (await tool(client, 'search_messages', { account: OWNER, q: 'subject:"tracking test"' })).value as {
        messages: { id: string }[];
      };
      assert.deepEqual(
        found.messages.map((m) => m.id),
        [trackingId],
      );
      const message = (await tool(client, 'get_message', { account: OWNER, id: trackingId })).value as {
        subject: string;
        threadId: string;
      };
      assert.equal(message.subject, 'Tracking test newsletter');
      const thread = (await tool(client, 'get_thread', { account: OWNER, threadId: message.threadId })).value as { messages: unknown[] };
      assert.equal(thread.messages.length, 1);
      const labels = (await tool(client, 'list_labels', { account: OWNER })).value as { name: string }[];
      assert.ok(labels.some((l) => l.name === 'Projects'));
      const stats = (await tool(client, 'mailbox_stats', { account: OWNER })).value as { messages: number }[];
      assert.equal(Number(stats[0]!.messages), MESSAGES + 2 + ranked.length);
      const counted = (await tool(client, 'run_sql', { sql: 'SELECT count(*) AS n FROM messages' })).value as { rows: { n: number }[] };
      assert.equal(Number(counted.rows[0]!.n), MESSAGES + 2 + ranked.length);
      // Refused: a write, DDL, a second statement, files outside the lake; a huge result comes back cut, not whole.
      for (const sql of [
        `DELETE FROM messages WHERE account = '${OWNER}'`,
        'CREATE TABLE x AS SELECT 1',
        "COPY (SELECT 1) TO '/tmp/gmail-lake-mcp.csv'",
        'SELECT 1; SELECT 2',
        "ATTACH '/tmp/other.db' AS other",
        'SET enable_external_access = true',
        "SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)",
      ])
        // Refused by the statement check, or (COPY, ATTACH: their files are bound while preparing) by DuckDB's fence.
        assert.match(
          (await tool(client, 'run_sql', { sql })).error ?? '',
          /only SELECT|one statement|read-only|Permission Error|changes the lake/,
          sql,
        );
      // An error that reads as DuckDB's own INTERNAL one leaves the fence standing.
      assert.match((await tool(client, 'run_sql', { sql: "SELECT error('INTERNAL Error: x')" })).error ?? '', /INTERNAL Error: x/);
      assert.match((await tool(client, 'run_sql', { sql: "SELECT * FROM read_text('/etc/passwd')" })).error ?? '', /Permission/);
      // A file beside the catalog (DATA_DIR also holds staging, logs, credentials): fenced off, not merely absent.
      assert.match(
        (await tool(client, 'run_sql', { sql: `SELECT * FROM read_text('${config.dataDir}/beside.txt')` })).error ?? '',
        /Permission/,
      );
      const big = (await tool(client, 'run_sql', { sql: 'SELECT * FROM range(100000)' })).value as { rows: unknown[]; truncated: boolean };
      assert.equal(big.rows.length, 500);
      assert.equal(big.truncated, true);
    }
    const slow = await tool(http, 'run_sql', {
      sql: 'SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3',
    });
    assert.match(slow.error ?? '', /ran over its 10000 ms and was stopped/);
    const after = (await tool(http, 'run_sql', { sql: 'SELECT count(*) AS n FROM messages' })).value as { rows: { n: number }[] };
    assert.equal(Number(after.rows[0]!.n), MESSAGES + 2 + ranked.length, 'the lake is untouched');
  } finally {
    await http.close();
    await stdio.close();
  }
  const noKey = await fetch(`${pipeline.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(noKey.status, 401);
});

/** The messages of an mbox as Takeout writes it: id (from the From line), thread, labels and the bytes after them. */
function readTakeout(file: string): { id: string; thread: string; labels: string[]; raw: Buffer }[] {
  const text = readFileSync(file).toString('latin1');
  const starts = [...text.matchAll(/^From (\d+)@xxx [^\r\n]*\r?\n/gm)];
  return starts.map((m, k) => {
    const end = k + 1 < starts.length ? starts[k + 1]!.index : text.length;
    const body = text.slice(m.index + m[0].length, end);
    const head = /^X-GM-THRID: (\d+)\r?\nX-Gmail-Labels: ([^\r\n]*)\r?\n(X-Gmail-Lake-Added-Newline: 1\r?\n)?/.exec(body)!;
    // The blank line that ends a message, and the line break added to one that ended without.
    const message = unescapeMboxrd(body.slice(head[0].length)).replace(head[3] ? /\r?\n\r?\n$/ : /\r?\n$/, '');
    return { id: hexId(m[1]!)!, thread: hexId(head[1]!)!, labels: parseLabelsHeader(head[2]!), raw: Buffer.from(message, 'latin1') };
  });
}

test("export: Takeout's mbox and .eml files, byte for byte (the emulator's sha256), from the CLI", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-export-'));
  const env = { DATA_DIR: config.dataDir, GMAIL_LAKE_HOME: join(dir, 'home') };
  const truth = new Map((await manifest(emu, OWNER)).map((m) => [m.id, m]));
  const q = 'label:projects';
  const mbox = await cli(['export', '--account', OWNER, '--q', q, '--mbox', join(dir, 'projects.mbox')], env);
  assert.equal(mbox.code, 0, mbox.stderr);
  // Export takes the whole mailbox, spam and trash included (as Takeout).
  const exportIds = async (query: string) =>
    (await searchMessages(pipeline.lake, { account: OWNER, q: query, limit: 1_000_000, spamTrash: true })).messages.map((m) => m.id);
  const expected = await exportIds(q);
  assert.ok(expected.length > (await lakeIds(q)).length, 'the export has trash the search leaves out');
  assert.match(mbox.stdout, new RegExp(`Exported ${expected.length.toLocaleString('en-US')} messages of ${OWNER}`));
  const messages = readTakeout(join(dir, 'projects.mbox'));
  assert.deepEqual(
    messages.map((m) => m.id),
    expected,
  );
  for (const m of messages) {
    const t = truth.get(m.id)!;
    assert.equal(createHash('sha256').update(m.raw).digest('hex'), t.sha256, m.id);
    assert.equal(m.thread, t.threadId);
    assert.ok(m.labels.includes('Projects') && m.labels.includes(t.labelIds.includes('UNREAD') ? 'Unread' : 'Opened'), m.labels.join());
  }
  const eml = await cli(['export', '--account', OWNER, '--q', 'filename:csv', '--eml-dir', join(dir, 'eml'), '--json'], env);
  assert.equal(eml.code, 0, eml.stderr);
  const files = readdirSync(join(dir, 'eml')).sort();
  assert.deepEqual(files, (await exportIds('filename:csv')).map((id) => `${id}.eml`).sort());
  for (const f of files)
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(dir, 'eml', f)))
        .digest('hex'),
      truth.get(f.replace('.eml', ''))!.sha256,
    );
  assert.equal((JSON.parse(eml.stdout) as { exported: number }).exported, files.length);
  const refused = await cli(['export', '--account', OWNER, '--q', 'after:someday', '--mbox', join(dir, 'x.mbox')], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /invalid query: at position 0 \(after:\)/);
});

test('bare words rank by relevance (BM25) from the index, over HTTP page by page; order=date is newest first', async () => {
  assert.deepEqual(await indexIds('quokka', 'relevance'), ranked);
  assert.deepEqual(await indexIds('quokka', 'date'), [...ranked].reverse());
  const first = await api<{ messages: { id: string }[]; nextCursor?: string; order: string; source: string }>(
    pipeline,
    'GET',
    `/messages?${new URLSearchParams({ account: OWNER, q: 'quokka', limit: '1' })}`,
  );
  assert.equal(first.status, 200);
  assert.equal(first.body.order, 'relevance');
  assert.equal(first.body.source, 'index');
  assert.deepEqual(
    first.body.messages.map((m) => m.id),
    [ranked[0]],
  );
  const second = await api<{ messages: { id: string }[]; nextCursor?: string }>(
    pipeline,
    'GET',
    `/messages?${new URLSearchParams({ account: OWNER, q: 'quokka', limit: '1', cursor: first.body.nextCursor! })}`,
  );
  assert.deepEqual(
    second.body.messages.map((m) => m.id),
    [ranked[1]],
  );
  assert.equal(second.body.nextCursor, undefined);
});

test('the index follows the lake: what a sync brings (a new message, labels, a deletion) is found as Gmail finds it', async () => {
  await indexIds('');
  const everything = await gmailIds('in:anywhere');
  const [starred, gone] = [everything[10]!, everything[20]!];
  const raw = Buffer.from(
    ['From: late@acme.test', `To: ${OWNER}`, 'Subject: Axolotl sighting', 'Content-Type: text/plain', '', 'An axolotl.', ''].join('\r\n'),
  );
  const added = (
    (await control(emu, 'POST', `users/${OWNER}/messages`, { raw: raw.toString('base64'), labelIds: ['INBOX'] })).messages as {
      id: string;
    }[]
  )[0]!.id;
  await control(emu, 'POST', `users/${OWNER}/messages/batchModify`, { ids: [starred], add: ['STARRED'] });
  await control(emu, 'DELETE', `users/${OWNER}/messages/${gone}`);
  const sync = await api<{ id: string; runId: string }>(pipeline, 'POST', `/mailboxes/${OWNER}/sync`);
  assert.equal(sync.status, 202, JSON.stringify(sync.body));
  await pipeline.client.workflow.getHandle(sync.body.id, sync.body.runId).result();
  assert.deepEqual(await indexIds('axolotl'), [added]);
  assert.ok((await indexIds('is:starred')).includes(starred));
  assert.ok(!(await indexIds('in:anywhere')).includes(gone));
  for (const q of ['axolotl', 'is:starred', 'in:anywhere', 'from:alice OR from:bob'])
    assert.deepEqual(new Set(await indexIds(q)), new Set(await gmailIds(q)), q);
});
