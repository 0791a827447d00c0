import { setTimeout as delay } from 'node:timers/promises';
import Table from 'cli-table3';

/**
 * Exit codes of every command (README, "The gmail-lake command"):
 * 0 done; 1 the work failed (an extraction failed or was cancelled, `doctor` found a problem, the API refused the
 * request); 2 usage (bad arguments, an unknown mailbox, a bad client file); 3 unreachable (the API, Temporal or Google
 * cannot be reached: is the stack up?); 4 authentication (the API key or a Google sign-in was refused).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, auth: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the command reports as one line (never a stack) and exits with its code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    /** What --json prints instead of the line. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Output of one command: a human line or table on stdout, or with --json one JSON document. */
export interface Out {
  json: boolean;
  /** Prints a line for people (nothing with --json). */
  line(text?: string): void;
  /** Prints the command's result: JSON with --json, else `human` (lines) when given. */
  result(value: unknown, human?: () => void): void;
}

export function output(json: boolean): Out {
  return {
    json,
    line: (text = '') => {
      if (!json) process.stdout.write(`${text}\n`);
    },
    result: (value, human) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else human?.();
    },
  };
}

/** A table of rows (objects), cells cut to `width` characters; `--json` shows them whole. */
export function table(rows: Record<string, unknown>[], width = 60): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const t = new Table({ head: columns, style: { head: [], border: [] }, wordWrap: false });
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    const flat = s.replace(/\s+/g, ' ');
    return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
  };
  for (const r of rows) t.push(columns.map((c) => cell(r[c])));
  return t.toString();
}

export const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/**
 * Asks `poll` about once a second and hands each answer to `show`, until `ended` says so or Ctrl-C detaches (what is
 * followed — an extraction, an import — keeps running). Once detached, the Ctrl-C handler stays until the process
 * exits: `npx` forwards the terminal's Ctrl-C to this process a second time, whenever its own event loop gets to it, and
 * that copy must not kill a detach that already succeeded (the default action would exit 130, and npx would report it).
 */
export async function pollUntilEnded<P>(
  poll: () => Promise<P>,
  show: (p: P) => void,
  ended: (p: P) => boolean,
): Promise<{ last: P | undefined; detached: boolean }> {
  let detached = false;
  const onInt = () => (detached = true);
  process.on('SIGINT', onInt);
  let last: P | undefined;
  try {
    while (!detached) {
      last = await poll();
      show(last);
      if (ended(last)) break;
      for (let waited = 0; waited < 1000 && !detached; waited += 100) await delay(100);
    }
  } finally {
    if (!detached) process.off('SIGINT', onInt);
  }
  return { last, detached };
}
