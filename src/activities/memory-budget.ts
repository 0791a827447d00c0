import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A budget of bytes shared by every batch in this worker process: a large message's bytes are held (read, parsed,
 * staged) only once they fit beside what the others hold, so the worker's memory stays bounded whatever the batch
 * sizes, batches in flight and fetch concurrency. A message larger than the whole budget waits until nothing else is
 * held, then goes alone; first come, first served, so a large one is never overtaken for ever. (A few lines: the
 * semaphore libraries count permits, not bytes with this rule.)
 */
export class MemoryBudget {
  private held = 0;
  private readonly waiting: { bytes: number; go: () => void }[] = [];
  constructor(readonly limit: number) {}

  /** Waits until `bytes` fit, holds them, and returns their release. */
  async take(bytes: number): Promise<() => void> {
    if (this.waiting.length || !this.fits(bytes)) await new Promise<void>((go) => this.waiting.push({ bytes, go }));
    else this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
      while (this.waiting.length && this.fits(this.waiting[0]!.bytes)) {
        const next = this.waiting.shift()!;
        this.held += next.bytes;
        next.go();
      }
    };
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.held;
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }
}

let fullCollection: (() => void) | undefined;

/**
 * V8's full collection, as `--expose-gc` gives it (exposed at run time, so the worker's command lines stay as they
 * are). Parsing a large message leaves ~100 MB of garbage outside V8's heap (its bytes, its text, its decoded
 * attachments) that V8, its heap small, collects late: run before DuckDB commits large messages, so the two do not add.
 */
export function collectGarbage(): void {
  if (!fullCollection) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}
