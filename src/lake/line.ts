/**
 * A process's one line of lake work: one operation at a time, in order, except that a read goes ahead of the writes
 * still waiting. A search beside a backfill then waits for the write that is running, not for every batch queued
 * behind it (a fuzzer's dozens of runs held a SQLite catalog's line for two minutes, and its reads with it). So that
 * reads cannot hold writes back for ever, a waiting write runs once `readsAhead` reads have gone ahead of it.
 */
export class WorkLine {
  private readonly waiting: Array<{ read: boolean; start: () => void }> = [];
  private busy = false;
  /** Reads run since the first waiting write was passed over. */
  private passed = 0;

  constructor(private readonly readsAhead = 8) {}

  /** Runs `fn` when its turn comes; `read`: ahead of the writes not started yet. */
  run<T>(fn: () => Promise<T>, read = false): Promise<T> {
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
      const firstWrite = read ? this.waiting.findIndex((w) => !w.read) : -1;
      if (firstWrite >= 0) this.waiting.splice(firstWrite, 0, { read, start });
      else this.waiting.push({ read, start });
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
    const write = this.waiting.findIndex((w) => !w.read);
    if (write > 0) {
      // Reads are ahead of a write: they go first until `readsAhead` of them did.
      if (this.passed >= this.readsAhead) i = write;
      else this.passed++;
    }
    const [w] = this.waiting.splice(i, 1);
    if (!w) return;
    if (!w.read) this.passed = 0;
    this.busy = true;
    w.start();
  }
}
