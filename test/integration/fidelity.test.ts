/**
 * Real-world mail fidelity: a corpus of messages from other mail parsers' public test suites (test/fidelity/corpus,
 * sources in SOURCES.tsv) is served by the emulator from its .eml folder, extracted through the whole pipeline in
 * `raw` and in `full`, and every parsed column of the lake is compared with Python's `email` package
 * (test/fidelity/reference.py, policy.default) as the independent reference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Lake } from '../../src/lake/lake.js';
import { startPipeline } from '../../src/pipeline.js';
import { projectRoot } from '../../src/stack/tools.js';
import { compare, formatReport, loadAdjudications, type ParsedColumns, runReference } from '../fidelity/compare.js';
import { api } from '../helpers/http.js';
import { waitFor } from '../helpers/ports.js';
import { credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';
import { manifest, rawMismatches } from '../helpers/verify.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

const OWNER = 'corpus@example.com';
const CORPUS = join(projectRoot, 'test/fidelity/corpus');
let temporal: TestTemporal;
let emu: RunningEmulator;

before(async () => {
  temporal = await startTestTemporal();
  emu = await startTestEmulator({ owner: OWNER, mbox: CORPUS });
});
after(async () => {
  await emu.close();
  await temporal.stop();
});

interface LakeMessage extends ParsedColumns {
  id: string;
  parse_error: string | null;
}

const partOrder = (a: string, b: string) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return 0;
};

async function readRows(lake: Lake): Promise<Map<string, LakeMessage>> {
  const messages = await lake.query<Record<string, unknown>>(
    `SELECT id, subject, from_address, from_name, to_json(to_addresses)::VARCHAR AS to_json, to_json(cc_addresses)::VARCHAR AS cc_json,
            message_id_header, in_reply_to, references_header, epoch_ms(internal_date)::DOUBLE AS internal_date, body_text, body_html, parse_error
       FROM lake.messages WHERE account = $account`,
    { account: OWNER },
  );
  const attachments = await lake.query<{ message_id: string; part_id: string; filename: string; mime_type: string; size: number }>(
    `SELECT message_id, part_id, filename, mime_type, size::INTEGER AS size FROM lake.attachments WHERE account = $account`,
    { account: OWNER },
  );
  const rows = new Map<string, LakeMessage>();
  for (const m of messages) {
    const mine = attachments.filter((a) => a.message_id === m.id).sort((a, b) => partOrder(a.part_id, b.part_id));
    rows.set(String(m.id), {
      id: String(m.id),
      subject: m.subject as string | null,
      from_address: m.from_address as string | null,
      from_name: m.from_name as string | null,
      to_addresses: JSON.parse(String(m.to_json)) as string[],
      cc_addresses: JSON.parse(String(m.cc_json)) as string[],
      message_id_header: m.message_id_header as string | null,
      in_reply_to: m.in_reply_to as string | null,
      references_header: m.references_header as string | null,
      internal_date: m.internal_date as number | null,
      body_text: m.body_text as string | null,
      body_html: m.body_html as string | null,
      attachments: mine.map((a) => ({ filename: a.filename, mime_type: a.mime_type, size: a.size })),
      parse_error: m.parse_error as string | null,
    });
  }
  return rows;
}

/** Extracts the corpus mailbox in one format into a lake of its own; returns its rows by message id. */
async function extract(format: 'raw' | 'full') {
  const p = await startPipeline(testConfig(temporal, emu), credentials);
  try {
    const started = await api<{ id: string }>(p, 'POST', '/extract', { account: OWNER, format, batchSize: 100 });
    assert.equal(started.status, 202);
    const done = await waitFor(
      `${format} extraction`,
      async () => {
        const s = (await api<ExtractionProgress>(p, 'GET', `/extract/${started.body.id}`)).body;
        return s.status !== 'running' ? s : undefined;
      },
      300_000,
      250,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const truth = await manifest(emu, OWNER);
    if (format === 'raw') assert.deepEqual(await rawMismatches(p.lake, OWNER, truth), [], 'raw bytes stored exactly');
    return { rows: await readRows(p.lake), truth };
  } finally {
    await p.stop();
  }
}

test('every parsed column agrees with Python email on the corpus, in raw and in full, with identical rows', async (t) => {
  const { python, refs } = runReference(CORPUS);
  const sources = readFileSync(join(CORPUS, 'SOURCES.tsv'), 'utf8').trim().split('\n').slice(1);
  const fileOfSha = new Map<string, string[]>();
  for (const line of sources) {
    const [file, , , , sha] = line.split('\t') as [string, string, string, string, string];
    fileOfSha.set(sha, [...(fileOfSha.get(sha) ?? []), file]);
  }
  assert.equal(refs.size, sources.length, 'the reference read every corpus file');

  const raw = await extract('raw');
  const full = await extract('full');
  assert.equal(raw.truth.length, sources.length, 'the emulator serves every corpus file');
  assert.equal(raw.rows.size, sources.length, 'no message lost');
  assert.equal(full.rows.size, sources.length, 'no message lost (full)');

  const byFile = (rows: Map<string, LakeMessage>) => {
    const out = new Map<string, ParsedColumns>();
    for (const e of raw.truth) for (const file of fileOfSha.get(e.sha256) ?? []) out.set(file, rows.get(e.id)!);
    return out;
  };
  const adjudications = loadAdjudications();
  for (const [format, { rows }] of [
    ['raw', raw],
    ['full', full],
  ] as const) {
    const report = compare(refs, byFile(rows), adjudications);
    t.diagnostic(`format=${format}, ${refs.size} messages, Python ${python}\n${formatReport(report)}`);
    assert.deepEqual(report.missing, [], `${format}: every corpus file has a row`);
    assert.deepEqual(report.disagreements, [], `${format}: disagreements with Python email`);
    assert.deepEqual(report.unusedAdjudications, [], `${format}: adjudications that no longer apply (remove them)`);
    for (const [column, s] of Object.entries(report.perColumn)) assert.ok(s.agreed / s.compared >= 0.999, `${format} ${column}`);
  }
  for (const [id, r] of raw.rows) assert.deepEqual(full.rows.get(id), r, `raw and full rows of ${id} (parse_error included)`);
  const flagged = [...raw.rows.values()].filter((r) => r.parse_error).length;
  t.diagnostic(`${flagged} of ${raw.rows.size} rows carry a parse_error, the same in both formats`);
});
