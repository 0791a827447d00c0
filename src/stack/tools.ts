import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Finds a provisioned CLI: $<ENV>, then .tools/bin, then PATH; fails with how to get it. */
export function toolPath(name: 'temporal' | 'tctl' | 'minio', envVar: string): string {
  const candidates = [process.env[envVar], `${ROOT}.tools/bin/${name}`];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} CLI not found. Run \`npm run provision\` (builds it into .tools/bin) or set ${envVar}.`);
  }
}

export const projectRoot = ROOT;
