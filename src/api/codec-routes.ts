import type { PayloadCodec } from '@temporalio/common';
import type { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { CODEC_COOKIE, CODEC_SESSION_SECONDS, type CodecSessions } from './codec-session.js';
import { ApiError } from './errors.js';
import type { ApiKey } from '../api-keys.js';

/** Payloads in proto3 JSON, as the Web UI and `temporal --codec-endpoint` send them: bytes in base64. */
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
const body = z.object({
  // proto3 JSON leaves an empty list out: `{}` is zero payloads.
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(10_000)
    .default([]),
});
type JsonPayload = z.infer<typeof body>['payloads'][number];

const toPayload = (p: JsonPayload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/** CORS for the Web UI's origin; registered before authentication (a browser's preflight carries no key). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function codecCors(app: Hono<any>, uiOrigin: string): void {
  app.use(
    '/codec/*',
    cors({ origin: uiOrigin, allowMethods: ['POST'], allowHeaders: ['content-type', 'x-namespace', 'authorization'], credentials: true }),
  );
}

/**
 * The codec endpoint (`/codec/encode`, `/codec/decode`): lets the Temporal Web UI and CLI show encrypted payloads in
 * clear to a holder of an API key (decode: read scope; encode: admin). CORS admits the configured Web UI's origin.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function codecRoutes(app: Hono<any>, codec: PayloadCodec): void {
  for (const op of ['encode', 'decode'] as const) {
    app.post(`/codec/${op}`, async (c) => {
      const parsed = body.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) {
        throw new ApiError(
          400,
          'INVALID_REQUEST',
          'body must be {"payloads": [{"metadata": {…base64}, "data": base64}]}',
          parsed.error.issues.slice(0, 5),
        );
      }
      try {
        const out = await codec[op](parsed.data.payloads.map(toPayload));
        return c.json({ payloads: out.map(toJson) });
      } catch (e) {
        throw new ApiError(400, 'INVALID_REQUEST', `cannot ${op}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }
}

/**
 * `POST /codec/session` (any key) sets the cookie that lets this browser's Temporal Web UI decode through `/codec` for
 * 12 hours; `DELETE` removes it. HttpOnly (page scripts never see it), sent only to `/codec`, SameSite=Strict (the Web
 * UI must be same-site: the same host name, any port), Secure when the API is reached over HTTPS.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function codecSessionRoutes(app: Hono<any>, sessions: CodecSessions, keys: ApiKey[]): void {
  const secure = (url: string, proto: string | undefined) => (proto ?? new URL(url).protocol.replace(':', '')) === 'https';
  app.post('/codec/session', (c) => {
    const key = keys.find((k) => k.name === c.get('apiKey'));
    if (!key) throw new ApiError(400, 'INVALID_REQUEST', 'a codec session needs an API key (API_AUTH is off: /codec is open)');
    setCookie(c, CODEC_COOKIE, sessions.issue(key), {
      path: '/codec',
      httpOnly: true,
      sameSite: 'Strict',
      secure: secure(c.req.url, c.req.header('x-forwarded-proto')),
      maxAge: CODEC_SESSION_SECONDS,
    });
    return c.json({ key: key.name, expiresInSeconds: CODEC_SESSION_SECONDS }, 201);
  });
  app.delete('/codec/session', (c) => {
    deleteCookie(c, CODEC_COOKIE, { path: '/codec' });
    return c.body(null, 204);
  });
}
