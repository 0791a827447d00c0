// Where a worker's lake time goes, statement by statement: `NODE_OPTIONS="--import tsx --import ./bench/lake-statements.ts"
// npm run bench -- --only fleet` (or any scenario with worker processes). Each worker process (src/worker/main.ts) times every
// DuckDB statement it runs (wall time from the call to its result: the lake's single writer makes that the time it
// holds the lake) and writes, when it exits, bench/results/lake-statements-<pid>.txt: total ms, count and mean per
// statement, its first 100 characters.
import { writeFileSync } from 'node:fs';
import { DuckDBConnection } from '@duckdb/node-api';

if (process.argv.some((a) => /worker[/\\]main\.[jt]s$/.test(a))) {
  const stats = new Map<string, { n: number; ms: number }>();
  const key = (sql: string) =>
    String(sql)
      .replace(/\s+/g, ' ')
      .replace(/staged_[0-9a-f]+/g, 'staged_…')
      .slice(0, 100);
  // `run` only: runAndReadAll and the other readers call it. Kept unbound on purpose: the wrapper calls it on its own
  // `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const run = DuckDBConnection.prototype.run;
  DuckDBConnection.prototype.run = async function (this: DuckDBConnection, ...args: Parameters<typeof run>) {
    const [sql] = args;
    const t = performance.now();
    try {
      return await run.apply(this, args);
    } finally {
      const s = stats.get(key(sql)) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t;
      stats.set(key(sql), s);
    }
  };
  process.on('exit', () => {
    const rows = [...stats]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, s]) => `${s.ms.toFixed(0).padStart(8)} ms ${String(s.n).padStart(6)}× ${(s.ms / s.n).toFixed(1).padStart(7)} ms  ${k}`);
    writeFileSync(new URL(`./results/lake-statements-${process.pid}.txt`, import.meta.url), rows.join('\n') + '\n');
  });
}
