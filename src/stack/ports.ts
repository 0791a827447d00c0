import { createServer } from 'node:net';

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A TCP port free on 127.0.0.1 now: `preferred` when it is, else one the system picks. Another process can take it
 * before it is bound: callers that start servers on it retry on a fresh one (see onFreePort).
 */
export async function freePort(preferred?: number): Promise<number> {
  if (preferred && (await portFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Thrown by a start whose port was taken before it bound it, with the start's own error: onFreePort tries again. */
export class PortTaken extends Error {
  override name = 'PortTaken';
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Runs `start` on a free port (`preferred` when it is free), and again on a fresh port while it throws PortTaken, three
 * times in all: a port found free can be taken before it is bound (other programs and test files pick ports too).
 * The last attempt's own error stands.
 */
export async function onFreePort<T>(preferred: number | undefined, start: (port: number, attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(attempt === 1 ? preferred : undefined);
    try {
      return await start(port, attempt);
    } catch (e) {
      if (!(e instanceof PortTaken)) throw e;
      if (attempt >= 3) throw e.error;
    }
  }
}
