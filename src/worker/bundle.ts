/**
 * Bundles the workflow code in a child process, so webpack (hundreds of MB while it runs) never lives in the worker's
 * heap; the worker then loads the finished bundle. Run directly, this file writes the bundle to the path in argv[2].
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const self = fileURLToPath(import.meta.url);

/** The workflows entry (source under tsx, compiled JavaScript under dist/). */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** Writes the workflow bundle (with a failure converter module, when given) from a child process and returns its path. */
export function bundleWorkflowsOutOfProcess(failureConverterPath?: string): string {
  const out = join(tmpdir(), `gmail-lake-workflows-${process.pid}-${Date.now()}.js`);
  const args = [...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), self, out, ...(failureConverterPath ? [failureConverterPath] : [])];
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

if (process.argv[1] === self && process.argv[2]) {
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath: process.argv[3],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  writeFileSync(process.argv[2], code);
}
