/**
 * ATTACHMENTS=content: attachments' bytes stored once per mailbox and SHA-256 (attachment_contents), taken from the raw
 * bytes (format raw) or fetched with messages.attachments.get (format full), and served by
 * GET /messages/{account}/{id}/attachments/{partId} with a safe type and Content-Disposition. Measured on mailboxes
 * where the same file is attached to many messages.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { control } from '../helpers/emulator.js';
import { api, extractionEnded } from '../helpers/http.js';
import { authHeaders, credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';

const RAW = 'user@example.com';
const FULL = 'full@example.com';
const COPIES = 25;
let temporal: TestTemporal;
let emu: RunningEmulator;
let pipeline: Pipeline;
let config: Config;

/** 300 KB of deterministic bytes: the report everyone forwards. */
const pdf = Buffer.concat(Array.from({ length: 9375 }, (_, i) => createHash('sha256').update(`report ${i}`).digest()));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const NASTY = '../"évil"\\ na\u0007me;.pdf';

/** A message with one attachment (base64, 76-column lines). */
function withAttachment(to: string, n: number, filename: string, type: string, bytes: Buffer): string {
  const b64 = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    'From: "Finance" <finance@acme.test>',
    `To: ${to}`,
    `Subject: Quarterly report ${n}`,
    `Date: Mon, 0${1 + (n % 9)} Jun 2026 10:00:00 +0000`,
    `Message-ID: <report-${n}@acme.test>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The report is attached.',
    '--b',
    `Content-Type: ${type}; name="${filename.replace(/["\\]/g, '\\$&')}"`,
    `Content-Disposition: attachment; filename="${filename.replace(/["\\]/g, '\\$&')}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    '--b--',
    '',
  ].join('\r\n');
}

/** A message that is nothing but a file (not multipart): Gmail numbers its only part "", which a URL cannot carry. */
function wholeFile(to: string, bytes: Buffer): string {
  return [
    'From: "Scanner" <scanner@acme.test>',
    `To: ${to}`,
    'Subject: Scan',
    'Date: Tue, 02 Jun 2026 10:00:00 +0000',
    'Message-ID: <scan@acme.test>',
    'MIME-Version: 1.0',
    'Content-Type: application/pdf; name="scan.pdf"',
    'Content-Disposition: attachment; filename="scan.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    bytes.toString('base64').replace(/.{76}/g, '$&\r\n'),
    '',
  ].join('\r\n');
}
const scan = pdf.subarray(0, 5000);

const ids: Record<string, { report: string[]; nasty: string; scan: string }> = {};

before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ messages: 150, owner: RAW });
  for (const account of [RAW, FULL]) {
    const report: string[] = [];
    for (let n = 0; n < COPIES; n++) {
      const r = await control(emu, 'POST', `users/${account}/messages`, {
        raw: Buffer.from(withAttachment(account, n, 'Q2 report.pdf', 'application/pdf', pdf)).toString('base64'),
        labelIds: ['INBOX'],
      });
      report.push((r.messages as { id: string }[])[0]!.id);
    }
    const r = await control(emu, 'POST', `users/${account}/messages`, {
      raw: Buffer.from(withAttachment(account, 99, NASTY, 'text/html; charset="x"', Buffer.from('<script>alert(1)</script>'))).toString(
        'base64',
      ),
      labelIds: ['INBOX'],
    });
    const whole = await control(emu, 'POST', `users/${account}/messages`, {
      raw: Buffer.from(wholeFile(account, scan)).toString('base64'),
      labelIds: ['INBOX'],
    });
    ids[account] = { report, nasty: (r.messages as { id: string }[])[0]!.id, scan: (whole.messages as { id: string }[])[0]!.id };
  }
  config = testConfig(temporal, emu, { ATTACHMENTS: 'content' });
  pipeline = await startPipeline(config, credentials);
  for (const [account, format] of [
    [RAW, 'raw'],
    [FULL, 'full'],
  ] as const) {
    const started = await api<{ id: string }>(pipeline, 'POST', '/extract', { account, format, includeSpamTrash: true });
    assert.equal(started.status, 202);
    const done = await extractionEnded(pipeline, started.body.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
  }
});
after(async () => {
  await pipeline?.stop();
  await emu?.close();
  await temporal?.stop();
});

test('each file stored once per mailbox however many messages carry it; every attachment row references stored bytes', async (t) => {
  for (const account of [RAW, FULL]) {
    const [counts] = await pipeline.lake.query<{
      parts: bigint;
      without: bigint;
      referenced: bigint;
      stored: bigint;
      rows: bigint;
      dangling: bigint;
    }>(
      `SELECT (SELECT count(*) FROM lake.attachments WHERE account = $a) AS parts,
              (SELECT count(*) FROM lake.attachments WHERE account = $a AND content_sha256 IS NULL) AS without,
              (SELECT sum(size) FROM lake.attachments WHERE account = $a) AS referenced,
              (SELECT sum(size) FROM lake.attachment_contents WHERE account = $a) AS stored,
              (SELECT count(*) FROM lake.attachment_contents WHERE account = $a) AS rows,
              (SELECT count(*) FROM lake.attachments a WHERE account = $a AND NOT EXISTS
                 (SELECT 1 FROM lake.attachment_contents c WHERE c.account = a.account AND c.sha256 = a.content_sha256)) AS dangling`,
      { a: account },
    );
    assert.equal(Number(counts!.without), 0, `${account}: every attachment's bytes stored`);
    assert.equal(Number(counts!.dangling), 0);
    const [report] = await pipeline.lake.query<{ copies: bigint; rows: bigint; size: bigint }>(
      `SELECT (SELECT count(*) FROM lake.attachments WHERE account = $a AND content_sha256 = $sha) AS copies,
              (SELECT count(*) FROM lake.attachment_contents WHERE account = $a AND sha256 = $sha) AS rows,
              (SELECT max(size) FROM lake.attachment_contents WHERE account = $a AND sha256 = $sha) AS size`,
      { a: account, sha: sha(pdf) },
    );
    assert.deepEqual([report!.copies, report!.rows, report!.size].map(Number), [COPIES, 1, pdf.length]);
    t.diagnostic(
      `${account}: ${counts!.parts} attachments, ${(Number(counts!.referenced) / 1e6).toFixed(2)} MB referenced, ${(Number(counts!.stored) / 1e6).toFixed(2)} MB stored in ${counts!.rows} rows`,
    );
  }
});

test('the download route: the exact bytes, the type, a safe Content-Disposition; never rendered', async () => {
  for (const account of [RAW, FULL]) {
    const m = await api<{ attachments: { partId: string; filename: string; stored: boolean }[] }>(
      pipeline,
      'GET',
      `/messages/${account}/${ids[account]!.report[3]}`,
    );
    assert.equal(m.status, 200);
    const part = m.body.attachments.find((a) => a.filename === 'Q2 report.pdf')!;
    assert.equal(part.stored, true);
    const res = await fetch(`${pipeline.url}/messages/${account}/${ids[account]!.report[3]}/attachments/${part.partId}`, {
      headers: authHeaders,
    });
    assert.equal(res.status, 200);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(pdf), `${account}: the same bytes`);
    assert.equal(res.headers.get('content-type'), 'application/pdf');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="Q2 report.pdf"; filename*=UTF-8''Q2%20report.pdf`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/);

    const nasty = await api<{ attachments: { partId: string; filename: string }[] }>(
      pipeline,
      'GET',
      `/messages/${account}/${ids[account]!.nasty}`,
    );
    const np = nasty.body.attachments[0]!;
    const got = await fetch(`${pipeline.url}/messages/${account}/${ids[account]!.nasty}/attachments/${np.partId}`, {
      headers: authHeaders,
    });
    assert.equal(got.status, 200);
    const disposition = got.headers.get('content-disposition')!;
    // No path, no quote or backslash in the quoted name, no control character; the exact name (less the path) encoded.
    assert.match(disposition, /^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/);
    assert.ok(!disposition.includes('..'), disposition);
    assert.equal(decodeURIComponent(disposition.split("''")[1]!), np.filename.replace(/^.*[\\/]/, '').replaceAll('\u0007', ''));
    assert.equal(got.headers.get('content-type'), 'text/html');
    assert.match(got.headers.get('content-security-policy') ?? '', /sandbox/);

    // The message's own body as its attachment: part "" is downloaded as `root`.
    const whole = await api<{ attachments: { partId: string; filename: string; stored: boolean }[] }>(
      pipeline,
      'GET',
      `/messages/${account}/${ids[account]!.scan}`,
    );
    assert.deepEqual(
      whole.body.attachments.map((a) => [a.partId, a.filename, a.stored]),
      [['', 'scan.pdf', true]],
    );
    const root = await fetch(`${pipeline.url}/messages/${account}/${ids[account]!.scan}/attachments/root`, { headers: authHeaders });
    assert.equal(root.status, 200, `${account}: the root part`);
    assert.equal(sha(Buffer.from(await root.arrayBuffer())), sha(scan));
    assert.equal(root.headers.get('content-type'), 'application/pdf');
  }
  const missing = await api(pipeline, 'GET', `/messages/${RAW}/${ids[RAW]!.report[0]}/attachments/7`);
  assert.equal(missing.status, 404);
  const bad = await api(pipeline, 'GET', `/messages/${RAW}/${ids[RAW]!.report[0]}/attachments/x%2F..`);
  assert.equal(bad.status, 400);
});
