import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/stack/tools.js';

/** Every module URL a fresh process resolves while importing `entry` (a resolve hook appends each to a file). */
function loadedBy(entry: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-roots-'));
  const log = join(dir, 'loaded.txt');
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  try {
    execFileSync(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(register)}`,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(entry)});`,
      ],
      { cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the API's composition root loads no Temporal worker and no DuckDB; the worker's loads no HTTP app", () => {
  const api = loadedBy('./src/api/server.ts');
  assert.ok(
    api.some((u) => u.includes('/@temporalio/client/')),
    'the hook saw the API load its Temporal client',
  );
  assert.deepEqual(
    api.filter((u) => /\/(@temporalio\/worker|@duckdb\/node-api)\/|\/src\/(worker|lake|activities)\//.test(u)),
    [],
  );
  const worker = loadedBy('./src/worker/run.ts');
  assert.ok(worker.some((u) => u.includes('/@duckdb/node-api/')));
  assert.deepEqual(
    worker.filter((u) => /\/(hono|@hono\/[^/]+)\/|\/src\/api\//.test(u)),
    [],
  );
});
