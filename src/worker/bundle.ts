/**
 * The workflow bundle, built once per content: `npm run build` writes the bundles of compiled code under
 * dist/workflow-bundles; run from source (tsx), a bundle is built on first use into .tools/workflow-bundles, named by
 * a hash of everything it is made of (the workflow sources, the failure converter, the locked dependencies), and
 * reused by every later worker start until one of them changes. Webpack runs in a child process, so its hundreds of
 * MB never live in the worker's heap. Run directly, this file writes one bundle: argv[2] the output path, argv[3] a
 * failure converter module or empty, argv[4] `traced` for the OpenTelemetry workflow interceptors.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const self = fileURLToPath(import.meta.url);
const compiled = self.endsWith('.js');
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The workflows entry (source under tsx, compiled JavaScript under dist/). */
export function workflowsPath(): string {
  return fileURLToPath(new URL(`../workflows/index.${compiled ? 'js' : 'ts'}`, import.meta.url));
}

/** The bundle's variant name: with the codec's failure converter, with the tracing interceptors. */
const variant = (failureConverterPath: string | undefined, traced: boolean) =>
  [failureConverterPath ? 'codec' : 'plain', traced ? 'traced' : ''].filter(Boolean).join('-');

/** A hash of what a bundle is made of: every workflow source, the failure converter, the dependency lock. */
function contentHash(failureConverterPath: string | undefined): string {
  const h = createHash('sha256');
  const dir = dirname(workflowsPath());
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  if (failureConverterPath) h.update(readFileSync(failureConverterPath));
  const lock = join(root, 'package-lock.json');
  if (existsSync(lock)) h.update(readFileSync(lock));
  return h.digest('hex').slice(0, 16);
}

/** Builds one bundle into `out` from a child process (written beside it first, then renamed: never half a file). */
export function buildBundle(out: string, failureConverterPath?: string, traced = false): void {
  mkdirSync(dirname(out), { recursive: true });
  const part = `${out}.${process.pid}.part`;
  const args = [...(compiled ? [] : ['--import', 'tsx']), self, part, failureConverterPath ?? '', traced ? 'traced' : ''];
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(part, out);
}

/**
 * The path of the workflow bundle for these options: dist/workflow-bundles/<variant>.js in compiled code (built by
 * `npm run build`), else a content-addressed one under .tools/workflow-bundles, built once.
 */
export function workflowBundle(failureConverterPath?: string, traced = false): string {
  const name = variant(failureConverterPath, traced);
  if (compiled) {
    const built = join(root, 'dist', 'workflow-bundles', `${name}.js`);
    if (existsSync(built)) return built;
  }
  const cached = join(root, '.tools', 'workflow-bundles', `${contentHash(failureConverterPath)}-${name}.js`);
  if (!existsSync(cached)) buildBundle(cached, failureConverterPath, traced);
  return cached;
}

/** `node dist/worker/bundle.js --all` (npm run build): every variant into dist/workflow-bundles. */
async function buildAll(): Promise<void> {
  const { failureConverterPath } = await import('../codec.js');
  for (const codec of [false, true])
    for (const traced of [false, true]) {
      const converter = codec ? failureConverterPath() : undefined;
      buildBundle(join(root, 'dist', 'workflow-bundles', `${variant(converter, traced)}.js`), converter, traced);
    }
}

if (process.argv[1] === self && process.argv[2] === '--all') await buildAll();
else if (process.argv[1] === self && process.argv[2]) {
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
