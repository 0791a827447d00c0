import { readFileSync } from 'node:fs';
import type { Row } from './scenarios.js';

interface Results {
  at: string;
  mode: string;
  machine: Record<string, string | number | undefined>;
  results: Row[];
}

/** A results file as the Markdown table the README shows: one line per scenario, its figures as `name value`. */
export function markdownReport(file: string): string {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const machine = Object.entries(r.machine)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const lines = [
    `${r.mode} run of ${r.at.slice(0, 10)} (\`${file}\`); machine: ${machine}.`,
    '',
    '| scenario | figures |',
    '| --- | --- |',
    ...r.results.map(({ scenario, ...figures }) => {
      const cells = Object.entries(figures).map(([k, v]) => `${k} **${v}**`);
      return `| ${scenario} | ${cells.join(' · ')} |`;
    }),
  ];
  return lines.join('\n');
}
