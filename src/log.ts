import pino, { type Logger } from 'pino';
import { redact } from './redact.js';

/**
 * The process logger: JSON lines on stdout; children carry `extractionId` on every line of an extraction. Every
 * line is redacted (known secrets and connection-string passwords) after it is serialised, whatever field holds it.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  const stdout = { write: (line: string) => process.stdout.write(redact(line)) };
  return pino({ level, base: { ...base }, timestamp: pino.stdTimeFunctions.isoTime }, stdout);
}
export type { Logger };
