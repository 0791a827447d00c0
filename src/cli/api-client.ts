import { CliError, EXIT } from './output.js';

/** The HTTP API as the command drives it: the same calls whether the stack is local (`gmail-lake up`) or remote. */
export interface ApiClient {
  url: string;
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

/** A client of the API at `url` with `key`; every failure becomes one readable CliError with its exit code. */
export function apiClient(url: string | undefined, key: string | undefined): ApiClient {
  if (!url)
    throw new CliError(
      'no API to talk to: start one on this machine with `gmail-lake up`, or point at a deployment with `gmail-lake config set api-url URL`',
      EXIT.unreachable,
    );
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    async call<T>(method: string, path: string, body?: unknown) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
        throw new CliError(
          `cannot reach the API at ${base} (${cause}) — start the local stack with \`gmail-lake up\`, or check \`gmail-lake config get api-url\``,
          EXIT.unreachable,
        );
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      if (res.ok) return { status: res.status, body: parsed as T };
      const err = (parsed as ErrorBody | undefined)?.error;
      const detail = err?.details ? ` ${JSON.stringify(err.details)}` : '';
      const message = `${err?.message ?? `HTTP ${res.status}`}${detail}`;
      if (res.status === 401 || res.status === 403)
        throw new CliError(
          `the API at ${base} refused the key (${message}) — set the right one with \`gmail-lake config set api-key KEY\``,
          EXIT.auth,
        );
      if (res.status === 503) throw new CliError(`the API at ${base} is up but ${message}`, EXIT.unreachable);
      throw new CliError(message, res.status === 400 || res.status === 404 ? EXIT.usage : EXIT.failed, { status: res.status, error: err });
    },
  };
}
