import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/stack/tools.js';
import { waitFor } from './ports.js';

const BIN = join(projectRoot, 'bin/gmail-lake.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `gmail-lake` process: its output so far, stdin, and its end. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliRun>;
}

/** Starts `gmail-lake <args>` as a user would (its own process, the given environment on top of this one's). */
export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs `gmail-lake <args>` to its end (stdin closed at once, as in CI). */
export async function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const p = startCli(args, env);
  p.child.stdin?.end();
  return p.done;
}

/** `--json` output, parsed (fails the test with the output when it is not JSON). */
export async function cliJson<T>(args: string[], env: Record<string, string>): Promise<{ code: number | null; body: T; stderr: string }> {
  const r = await cli([...args, '--json'], env);
  try {
    return { code: r.code, body: JSON.parse(r.stdout) as T, stderr: r.stderr };
  } catch {
    throw new Error(`gmail-lake ${args.join(' ')} --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** The sign-in address a waiting `login` printed. */
export async function signInUrl(p: CliProcess): Promise<string> {
  return waitFor(
    'the sign-in address',
    async () => {
      if (p.child.exitCode !== null) throw new Error(`login exited ${p.child.exitCode}: ${p.stderr()}`);
      return /(http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/\S+)/.exec(p.stderr())?.[1];
    },
    30_000,
    100,
  );
}

/**
 * A browser's part of the sign-in, over plain HTTP: opens the consent page at `url`, answers it as `account` (Allow or
 * Cancel) and returns the address Google's page sends the browser to — without following it (the SSH case: the user
 * pastes it back).
 */
export async function consent(url: string, account: string, decision: 'allow' | 'deny'): Promise<string> {
  const page = await (await fetch(url)).text();
  const request = /name="request" value="([^"]+)"/.exec(page)?.[1];
  if (!request) throw new Error(`no consent form at ${url}:\n${page.slice(0, 500)}`);
  const form = new URLSearchParams({ request, account, decision });
  const res = await fetch(new URL('/o/oauth2/auth/consent', url), { method: 'POST', body: form, redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`consent answered ${res.status}: ${await res.text()}`);
  return location;
}

/**
 * The environment of a command typed at a terminal. `script -c` runs the command with `$SHELL -c`, and a user's
 * interactive shell puts a command in its own process group, so Ctrl-C reaches the command alone. With `SHELL` unset
 * (as on the CI machine) `script` uses /bin/sh; dash waits for the command, takes the Ctrl-C itself and kills itself
 * with SIGINT once the command ends, so every detach read 130. bash, like the user's shell, exits with the command's
 * status when the command handled the Ctrl-C.
 */
function terminalEnv(env: Record<string, string>) {
  return { ...process.env, ...env, SHELL: '/bin/bash', COLUMNS: '120', LINES: '40', TERM: 'xterm' };
}

/** `gmail-lake <args>` in a pseudo-terminal (util-linux `script`), as on a user's terminal; `ctrlC` types Ctrl-C into it. */
export function inTerminal(args: string[], env: Record<string, string>) {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: projectRoot,
    env: terminalEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, output: out })),
  );
  return { output: () => out, ctrlC: () => child.stdin.write('\x03'), done };
}

/** A documented command as a user types it, run by bash in the checkout (stdin closed, as in CI). */
export async function shell(command: string, env: Record<string, string>, stdin?: string): Promise<CliRun> {
  const child = spawn('bash', ['-c', command], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** A documented command in a pseudo-terminal (util-linux `script`), as on a user's terminal; `ctrlC` types Ctrl-C. */
export function shellInTerminal(command: string, env: Record<string, string>) {
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: projectRoot,
    env: terminalEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, output: out })),
  );
  return { output: () => out, ctrlC: () => child.stdin.write('\x03'), done };
}

/** A fenced block of a Markdown file: its language and its commands (heredocs kept whole, `# comments` dropped). */
export interface DocBlock {
  file: string;
  lang: string;
  commands: string[];
}

export function docBlocks(file: string, text: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const commands: string[] = [];
    for (let j = 0; j < body.length; j++) {
      let line = body[j]!.replace(/\s+#\s.*$/, '').trimEnd();
      if (!line.trim()) continue;
      const heredoc = /<<'(\w+)'/.exec(line)?.[1];
      if (heredoc) {
        while (++j < body.length && body[j] !== heredoc) line += `\n${body[j]}`;
        line += `\n${heredoc}`;
      }
      commands.push(line);
    }
    blocks.push({ file, lang: open[1] ?? '', commands });
  }
  return blocks;
}
