import type { MiddlewareHandler } from 'hono';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { errorBody } from './errors.js';
import { type ApiKey, digestOf } from './keys.js';

export interface AuthOptions {
  keys: ApiKey[];
  /** Requests per minute per key; 0 = unlimited. */
  ratePerMinute: number;
}

/**
 * Routes open without a key: liveness/readiness probes, the API's description and the browser pages (no data in any:
 * the dashboard asks for a key and sends it with its own calls).
 */
const OPEN = new Set(['/healthz', '/readyz', '/openapi.json', '/docs', '/ui']);
const isOpen = (path: string) => OPEN.has(path) || path.startsWith('/docs/assets/');

/**
 * Authenticates every other route: 401 without a known key (with `WWW-Authenticate`), 403 when its scope does not
 * allow the method, 429 with `Retry-After` past the key's rate. The key's name is kept on the context for logs.
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler {
  const byDigest = new Map(opts.keys.map((k) => [k.digest, k]));
  const limiter = opts.ratePerMinute > 0 ? new RateLimiterMemory({ points: opts.ratePerMinute, duration: 60 }) : undefined;
  return async (c, next) => {
    if (isOpen(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = m ? byDigest.get(digestOf(m[1]!)) : undefined;
    if (!key) {
      c.header('WWW-Authenticate', 'Bearer realm="gmail-lake"');
      const message = m ? 'unknown API key' : 'missing API key: send Authorization: Bearer <key>';
      return c.json(errorBody(c, 'UNAUTHENTICATED', message), 401);
    }
    // Decoding payloads is reading (the Web UI of a read-only user); encoding is not.
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.path === '/codec/decode';
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
