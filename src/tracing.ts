import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { MiddlewareHandler } from 'hono';

/**
 * OpenTelemetry traces, exported by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set: an API request → the workflow it
 * starts or signals → its activities → each Gmail call and each lake commit, one trace (Temporal's interceptors carry
 * the context through workflow and activity headers). Without an endpoint nothing is installed and `span` is a no-op.
 */
export const tracer = trace.getTracer('gmail-lake');

let installed: { processor: SpanProcessor; resource: Resource; provider: NodeTracerProvider } | undefined;

/** Installs the tracer provider once per process; returns what the worker's workflow span sink needs. */
export function startTracing(endpoint: string | undefined): typeof installed {
  if (!endpoint || installed) return installed;
  const resource = new Resource({ 'service.name': 'gmail-lake' });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }), {
    scheduledDelayMillis: 1000,
  });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  installed = { processor, resource, provider };
  return installed;
}

/** Sends what is buffered (a process stopping, a test asserting). */
export async function flushTraces(): Promise<void> {
  await installed?.provider.forceFlush();
}

/** Runs `fn` in a child span of the active one; records an exception and an error status when it throws. */
export async function span<T>(name: string, attributes: Record<string, string | number>, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (s) => {
    try {
      return await fn(s);
    } catch (e) {
      s.recordException(e instanceof Error ? e : String(e));
      s.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      s.end();
    }
  });
}

/** A server span per API request (its parent from an incoming `traceparent`), active while the route runs. */
export const traceRequests: MiddlewareHandler = async (c, next) => {
  if (!installed) return next();
  const parent = propagation.extract(context.active(), Object.fromEntries(c.req.raw.headers));
  const s = tracer.startSpan(
    `${c.req.method} ${c.req.path}`,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path } },
    parent,
  );
  try {
    await context.with(trace.setSpan(parent, s), next);
    s.setAttribute('http.response.status_code', c.res.status);
    if (c.res.status >= 500) s.setStatus({ code: SpanStatusCode.ERROR });
  } finally {
    s.end();
  }
};
