/**
 * A process's one line of lake work: one operation at a time, in order, except that a read asked `ahead` goes ahead
 * of the writes still waiting. A search beside a backfill then waits for the write that is running, not for every
 * batch queued behind it (a fuzzer's dozens of runs held a SQLite catalog's line for two minutes, and the API's reads
 * with it). So that they cannot hold the rest back for long, reads ahead pass the first operation in line for at most
 * `passForMs` (counted from the first read that passed it; the read running then finishes first); then it runs.
 */
export class WorkLine {
  /** `ahead`: a read that goes ahead (any other operation keeps its place). */
  private readonly waiting: Array<{ ahead: boolean; start: () => void }> = [];
  private busy = false;
  /** When the first read passed the operation now first in line (undefined: none has). */
  private passingSince: number | undefined;

  constructor(
    private readonly passForMs = 1_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    // 0 would put a read behind every write that comes while it waits: a backfill's stream of them would starve it.
    if (!(passForMs > 0)) throw new RangeError(`passForMs must be above 0, not ${passForMs}`);
  }

  /** Runs `fn` when its turn comes; `ahead`: a read that goes ahead of the writes not started yet. */
  run<T>(fn: () => Promise<T>, ahead = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        Promise.resolve()
          .then(fn)
          .then(resolve, reject)
          .finally(() => {
            this.busy = false;
            this.next();
          });
      };
      // The line is always the reads that go ahead, then the rest, each in the order they came.
      const firstInLine = ahead ? this.waiting.findIndex((w) => !w.ahead) : -1;
      if (firstInLine >= 0) this.waiting.splice(firstInLine, 0, { ahead, start });
      else this.waiting.push({ ahead, start });
      this.next();
    });
  }

  /** Operations waiting for their turn (the running one aside). */
  get length(): number {
    return this.waiting.length;
  }

  private next(): void {
    if (this.busy || this.waiting.length === 0) return;
    let i = 0;
    const inLine = this.waiting.findIndex((w) => !w.ahead);
    if (inLine > 0) {
      // Reads are ahead of an operation in line: they go first while it has been passed for less than passForMs.
      this.passingSince ??= this.now();
      if (this.now() - this.passingSince >= this.passForMs) i = inLine;
    }
    const [w] = this.waiting.splice(i, 1);
    if (!w) return;
    if (!w.ahead) this.passingSince = undefined;
    this.busy = true;
    w.start();
  }
}
