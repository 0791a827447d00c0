import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPath } from '../../src/stack/tools.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';
import { waitFor } from './ports.js';
import { authHeaders } from './stack.js';

/** A JSON request to a running API (`server.url`) with the test key (or `headers`): its status and parsed body. */
export async function api<T = unknown>(
  server: { url: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = authHeaders,
): Promise<{ status: number; body: T }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Waits until the workflow-run resource at `path` of a running API (an extraction, an import) has ended (any status but
 * running) and returns it. An answer without a status (a 503: Temporal slower than the API's deadline while workers are
 * killed) is asked again.
 */
export function resourceEnded<T extends { status?: string }>(server: { url: string }, path: string, timeoutMs = 600_000): Promise<T> {
  return waitFor(
    `${path} to end`,
    async () => {
      const { body } = await api<T>(server, 'GET', path);
      return body.status !== undefined && body.status !== 'running' ? body : undefined;
    },
    timeoutMs,
    500,
  );
}

/** Waits until extraction `id` of a running API has ended (see resourceEnded). */
export const extractionEnded = (server: { url: string }, id: string, timeoutMs = 600_000): Promise<ExtractionProgress> =>
  resourceEnded<ExtractionProgress>(server, `/extract/${encodeURIComponent(id)}`, timeoutMs);

/** The real `temporal` CLI binary against `address` (async: a worker may share this process's event loop). */
export async function temporalCli(address: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(toolPath('temporal', 'TEMPORAL_CLI'), [...args, '--address', address], {
    encoding: 'utf8',
  });
  return stdout;
}
