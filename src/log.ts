import pino, { type Logger } from 'pino';

/** The process logger: JSON lines on stdout; children carry `extractionId` on every line of an extraction. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
export type { Logger };
