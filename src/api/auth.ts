import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { CODEC_COOKIE, type CodecSessions } from './codec-session.js';
import { errorBody } from './errors.js';
import { type ApiKey, digestOf } from '../api-keys.js';

export interface AuthOptions {
  keys: ApiKey[];
  /** Requests per minute per key; 0 = unlimited. */
  ratePerMinute: number;
  /** Codec sessions (a cookie set by signing in to `/ui`), accepted on the codec endpoint only. */
  sessions?: CodecSessions;
}

/**
 * Routes open without a key: liveness/readiness probes, the API's description and the browser pages (no data in any:
 * the dashboard asks for a key and sends it with its own calls), and Gmail's push endpoint, which Pub/Sub calls with
 * an OIDC token of its own (checked by the route: see push.ts).
 */
const OPEN = new Set(['/healthz', '/readyz', '/openapi.json', '/docs', '/ui', '/favicon.ico', '/push/gmail']);
const isOpen = (path: string) => OPEN.has(path) || path.startsWith('/docs/assets/');

/**
 * Authenticates every other route: 401 without a known key (with `WWW-Authenticate`), 403 when its scope does not
 * allow the method, 429 with `Retry-After` past the key's rate. The key's name is kept on the context for logs.
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler {
  const byDigest = new Map(opts.keys.map((k) => [k.digest, k]));
  const limiter = opts.ratePerMinute > 0 ? new RateLimiterMemory({ points: opts.ratePerMinute, duration: 60 }) : undefined;
  /**
   * The Web UI's codec calls carry the session cookie instead of a key. Only as JSON: a cross-origin JSON POST needs a
   * CORS preflight, which admits the Web UI's origin alone (and the cookie is SameSite=Strict besides).
   */
  const fromSession = (c: Context) => {
    if (!opts.sessions || !c.req.path.startsWith('/codec/') || c.req.path === '/codec/session') return undefined;
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return undefined;
    const token = getCookie(c, CODEC_COOKIE);
    return token ? opts.sessions.verify(token) : undefined;
  };
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (isOpen(c.req.path)) {
      // Open, but a known key is still noted: /readyz tells a key holder why a check failed.
      const known = m ? byDigest.get(digestOf(m[1]!)) : undefined;
      if (known) c.set('apiKey' as never, known.name);
      return next();
    }
    const key = m ? byDigest.get(digestOf(m[1]!)) : header ? undefined : fromSession(c);
    if (!key) {
      c.header('WWW-Authenticate', 'Bearer realm="gmail-lake"');
      const message = m ? 'unknown API key' : 'missing API key: send Authorization: Bearer <key>';
      return c.json(errorBody(c, 'UNAUTHENTICATED', message), 401);
    }
    // Decoding payloads is reading (the Web UI of a read-only user); encoding is not.
    // A codec session lets a read-only user's browser decode.
    // The MCP tools only read (run_sql too: a read-only, fenced DuckDB).
    const reads =
      c.req.method === 'GET' ||
      c.req.method === 'HEAD' ||
      c.req.path === '/codec/decode' ||
      c.req.path === '/codec/session' ||
      c.req.path === '/mcp';
    if (!reads && key.scope !== 'admin') {
      return c.json(errorBody(c, 'FORBIDDEN', `key ${key.name} has scope read; ${c.req.method} needs admin`), 403);
    }
    // The codec endpoint is exempt: the Web UI and the CLI call it once per event or payload of a history.
    if (limiter && !c.req.path.startsWith('/codec/')) {
      try {
        const res = await limiter.consume(key.digest);
        c.header('RateLimit-Remaining', String(res.remainingPoints));
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e;
        const seconds = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
        c.header('Retry-After', String(seconds));
        return c.json(
          errorBody(c, 'RATE_LIMITED', `key ${key.name} is over ${opts.ratePerMinute} requests per minute; retry in ${seconds} s`),
          429,
        );
      }
    }
    c.set('apiKey' as never, key.name);
    return next();
  };
}
