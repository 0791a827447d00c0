import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { type Pipeline, startPipeline } from '../../src/pipeline.js';
import { flushTraces } from '../../src/tracing.js';
import { waitFor } from '../helpers/ports.js';
import { authHeaders, credentials, startTestEmulator, startTestTemporal, type TestTemporal, testConfig } from '../helpers/stack.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A minimal OTLP/HTTP (JSON) collector: keeps every span it receives. */
function collector() {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const r of doc.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { spans, server };
}

let temporal: TestTemporal;
let emu: RunningEmulator;
let p: Pipeline;
const otel = collector();
before(async () => {
  await new Promise<void>((r) => otel.server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(otel.server.address() as AddressInfo).port}`;
  [temporal, emu] = await Promise.all([startTestTemporal(), startTestEmulator({ messages: 120 })]);
  p = await startPipeline(testConfig(temporal, emu, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }), credentials);
});
after(async () => {
  await p?.stop();
  await Promise.all([temporal?.stop(), emu?.close()]);
  otel.server.close();
});

test('one trace from the caller through the API, the workflow and its activities to each Gmail call and lake commit (OTLP)', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const res = await fetch(`${p.url}/extract`, {
    method: 'POST',
    headers: { ...authHeaders, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
    body: JSON.stringify({ account: 'me', format: 'metadata', batchSize: 60 }),
  });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };
  await waitFor('completed', async () => {
    const s = (await (await fetch(`${p.url}/extract/${encodeURIComponent(id)}`, { headers: authHeaders })).json()) as { status: string };
    return s.status === 'completed';
  });
  await flushTraces();
  const inTrace = () => otel.spans.filter((s) => s.traceId === traceId);
  await waitFor('the lake commits exported', async () => inTrace().filter((s) => s.name === 'lake commit').length >= 2, 30_000);

  const spans = inTrace();
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const ancestry = (s: OtlpSpan): string[] => {
    const names: string[] = [];
    for (let cur: OtlpSpan | undefined = s; cur; cur = cur.parentSpanId ? byId.get(cur.parentSpanId) : undefined) names.push(cur.name);
    return names;
  };
  const root = spans.find((s) => s.name === 'POST /extract');
  assert.ok(root, `spans: ${[...new Set(spans.map((s) => s.name))].join(', ')}`);
  assert.equal(root.parentSpanId, callerSpan, "the API request continues the caller's trace");
  const commit = spans.find((s) => s.name === 'lake commit')!;
  const chain = ancestry(commit);
  for (const name of [
    'RunActivity:extractBatch',
    'StartActivity:extractBatch',
    'RunWorkflow:extractionWorkflow',
    'StartWorkflow:extractionWorkflow',
    'POST /extract',
  ])
    assert.ok(chain.includes(name), `lake commit ← ${chain.join(' ← ')}`);
  const get = spans.find((s) => s.name === 'gmail get');
  assert.ok(get && ancestry(get).includes('RunActivity:extractBatch'), 'Gmail calls are spans of the batch activity');
  assert.ok(spans.some((s) => s.name === 'gmail list' && ancestry(s).includes('RunActivity:listPage')));
});
