// Preloaded (`--import`) into every test file's process by scripts/test.sh when TEST_TIMELINE names a file: when the
// process exits, appends "start end file" (seconds since TEST_T0, the tier's start), so the log shows where a tier's
// time went, file by file, with several files running at once.
import { appendFileSync } from 'node:fs';

const out = process.env.TEST_TIMELINE;
const file = process.argv[1] ?? '';
if (out && /\.test\.[cm]?[jt]s$/.test(file)) {
  const t0 = Number(process.env.TEST_T0 ?? Date.now());
  const start = (Date.now() - t0) / 1000;
  process.on('exit', () => {
    const end = (Date.now() - t0) / 1000;
    appendFileSync(out, `${start.toFixed(0)} ${end.toFixed(0)} ${file.replace(/^.*\/test\//, 'test/')}\n`);
  });
}
