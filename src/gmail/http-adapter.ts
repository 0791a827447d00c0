import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { gmail_v1 } from '@googleapis/gmail';

/** gaxios' adapter hook, as the googleapis client takes it. */
type Adapter = NonNullable<gmail_v1.Options['adapter']>;
/** gaxios' request as an adapter sees it (prepared: a URL, a Headers, the signal with its timeout merged in). */
type Prepared = Parameters<Adapter>[0];
type Response = Awaited<ReturnType<Adapter>>;

/**
 * A lean transport for the googleapis client's JSON GETs (messages.get, lists, history: nearly every call a worker
 * makes), plugged in through gaxios' documented `adapter` option: node:http(s) on a keep-alive agent, the body read
 * into one buffer, decoded and parsed once. gaxios' default path (node-fetch's WHATWG body, an abort listener and a
 * DOMException per request) costs about a quarter more CPU per `full` message (`npm run bench -- --only http`). The
 * googleapis client is otherwise unchanged: it builds the request, authenticates it, checks the status and makes
 * errors of it as before (a non-2xx answer becomes a GaxiosError with the parsed body; a reset, a truncated body or an
 * abort becomes one without a response, which the classifier takes as transient). Streams (`raw` bodies), requests
 * with a body, requests through a proxy (HTTPS_PROXY) or with an agent of their own go through gaxios' own fetch.
 */
export function leanJsonAdapter(): Adapter {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  const adapter = (opts: Prepared, defaultAdapter: (opts: Prepared) => Promise<Response>): Promise<Response> => {
    const { url } = opts;
    const method = (opts.method ?? 'GET').toUpperCase();
    // An agent of gaxios' choosing (HTTPS_PROXY/HTTP_PROXY, a client certificate) or of the caller's: gaxios' transport,
    // which knows how to use it.
    const own = !opts.agent && !opts.proxy;
    if (!own || method !== 'GET' || opts.body !== undefined || opts.responseType === 'stream' || !(url.protocol in agents))
      return defaultAdapter(opts);
    return get(url, opts, agents[url.protocol as keyof typeof agents]);
  };
  // gaxios types the hook generic in the body's type, which no transport knows: the caller's cast, as gaxios' own.
  return adapter as Adapter;
}

function get(url: URL, opts: Prepared, agent: http.Agent): Promise<Response> {
  const headers: Record<string, string> = {};
  opts.headers.forEach((value, name) => (headers[name] = value));
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = transport.request(url, { agent, method: 'GET', headers, signal: opts.signal ?? undefined }, (res) => {
      const body = decoded(res);
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      body.on('error', fail);
      // The connection closed before the whole body came (a reset, a truncated answer): no response, as node-fetch.
      res.on('close', () => {
        if (!res.complete) fail(premature());
      });
      body.on('end', () => {
        if (settled) return;
        if (!res.complete) return fail(premature());
        settled = true;
        // Not a WHATWG Response: what gaxios and googleapis read of one (status, headers, data, config).
        resolve(response(opts, res, Buffer.concat(chunks).toString('utf8')) as unknown as Response);
      });
    });
    req.on('error', fail);
    req.end();
  });
}

const premature = () =>
  Object.assign(new Error('Premature close: the connection ended before the whole response'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/** The body, decompressed when the server compressed it (Google does when asked, and googleapis asks for gzip). */
function decoded(res: IncomingMessage): Readable {
  const coding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip()
      : coding === 'deflate'
        ? createInflate()
        : coding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return res;
  res.on('error', (e) => decoder.destroy(e));
  return res.pipe(decoder);
}

/** What gaxios' default adapter resolves to, as far as gaxios and googleapis read it. */
function response(config: Prepared, res: IncomingMessage, text: string) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers))
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  const status = res.statusCode ?? 0;
  let data: unknown = text;
  // As gaxios reads a body by its content type: JSON parsed (kept as text when it is not JSON), text as text.
  if (/application\/json/i.test(headers.get('content-type') ?? ''))
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON after all: kept as text, as gaxios keeps it.
    }
  // bodyUsed: gaxios keeps an error response's data only from a response whose body was read.
  return {
    config,
    data,
    status,
    statusText: res.statusMessage ?? '',
    headers,
    ok: status >= 200 && status < 300,
    url: config.url.toString(),
    bodyUsed: true,
  };
}
