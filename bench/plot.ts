import { Resvg } from '@resvg/resvg-js';

/** One line of a chart: its points (x, y) and colour. */
export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

/** A round step for about `n` ticks over `span`: 1, 2 or 5 × a power of ten. */
function tickStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * A line chart as SVG, then PNG (resvg, with the machine's fonts): the series, a dashed horizontal `limit` line with
 * its label, ticks on both axes. Written for the benchmark's memory report (RSS over a backfill).
 */
export function lineChartPng(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  limit?: { y: number; label: string };
  width?: number;
  height?: number;
}): Buffer {
  const width = opts.width ?? 960;
  const height = opts.height ?? 480;
  const m = { left: 70, right: 20, top: 40, bottom: 70 };
  const all = opts.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p.x));
  const yMax = Math.max(1, opts.limit?.y ?? 0, ...all.map((p) => p.y)) * 1.1;
  const px = (x: number) => m.left + (x / xMax) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - (y / yMax) * (height - m.top - m.bottom);
  const parts: string[] = [
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">${escape(opts.title)}</text>`,
  ];
  const xs = tickStep(xMax, 10);
  for (let x = 0; x <= xMax + 1e-9; x += xs) {
    parts.push(`<line x1="${px(x)}" y1="${py(0)}" x2="${px(x)}" y2="${m.top}" stroke="#eee"/>`);
    parts.push(`<text x="${px(x)}" y="${py(0) + 18}" text-anchor="middle" font-size="12">${Number(x.toPrecision(6))}</text>`);
  }
  const ys = tickStep(yMax, 8);
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    parts.push(`<line x1="${m.left}" y1="${py(y)}" x2="${width - m.right}" y2="${py(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 8}" y="${py(y) + 4}" text-anchor="end" font-size="12">${Number(y.toPrecision(6))}</text>`);
  }
  parts.push(
    `<line x1="${m.left}" y1="${py(0)}" x2="${width - m.right}" y2="${py(0)}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${py(0)}" x2="${m.left}" y2="${m.top}" stroke="black"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 36}" text-anchor="middle" font-size="13">${escape(opts.xLabel)}</text>`,
    `<text transform="translate(18 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escape(opts.yLabel)}</text>`,
  );
  if (opts.limit) {
    const y = py(opts.limit.y);
    parts.push(
      `<line x1="${m.left}" y1="${y}" x2="${width - m.right}" y2="${y}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - m.right - 4}" y="${y - 6}" text-anchor="end" font-size="12" fill="#c00">${escape(opts.limit.label)}</text>`,
    );
  }
  opts.series.forEach((s, i) => {
    if (s.points.length) {
      const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    const lx = m.left + 10 + i * 220;
    parts.push(
      `<line x1="${lx}" y1="${height - 14}" x2="${lx + 24}" y2="${height - 14}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${lx + 30}" y="${height - 10}" font-size="12">${escape(s.name)}</text>`,
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
