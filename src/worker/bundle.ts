/**
 * Bundles the workflow code in a child process, so webpack (hundreds of MB while it runs) never lives in the worker's
 * heap; the worker then loads the finished bundle. Run directly, this file writes the bundle to the path in argv[2] (argv[3]: a failure converter module or empty;
 * argv[4]: `traced` for the OpenTelemetry workflow interceptors).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const self = fileURLToPath(import.meta.url);

/** The workflows entry (source under tsx, compiled JavaScript under dist/). */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** Writes the workflow bundle (with a failure converter module, when given) from a child process and returns its path. */
export function bundleWorkflowsOutOfProcess(failureConverterPath?: string, traced = false): string {
  const out = join(tmpdir(), `gmail-lake-workflows-${process.pid}-${Date.now()}.js`);
  const args = [...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), self, out, failureConverterPath ?? '', traced ? 'traced' : ''];
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

if (process.argv[1] === self && process.argv[2]) {
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath: process.argv[3] || undefined,
    // With tracing on, the workflow's spans (RunWorkflow, StartActivity) come from Temporal's OpenTelemetry interceptors.
    workflowInterceptorModules:
      process.argv[4] === 'traced'
        ? [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')]
        : [],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  writeFileSync(process.argv[2], code);
}
