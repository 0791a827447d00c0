import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPath } from '../../src/stack/tools.js';
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

/** The real `temporal` CLI binary against `address` (async: a worker may share this process's event loop). */
export async function temporalCli(address: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(toolPath('temporal', 'TEMPORAL_CLI'), [...args, '--address', address], {
    encoding: 'utf8',
  });
  return stdout;
}
