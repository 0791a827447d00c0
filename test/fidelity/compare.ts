/**
 * Compares the lake's parsed columns with the independent reference (reference.py: Python's `email`, policy.default)
 * column by column. Used by the fidelity test and by `npm run fidelity` (which prints the table the README quotes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RefField<T> {
  value?: T;
  error?: string;
}
interface RefAddress {
  address: string;
  name: string;
}
export interface Reference {
  file: string;
  subject: RefField<string | null>;
  from: RefField<RefAddress | null>;
  to: RefField<RefAddress[]>;
  cc: RefField<RefAddress[]>;
  message_id: RefField<string | null>;
  in_reply_to: RefField<string | null>;
  references: RefField<string | null>;
  date: RefField<number | null>;
  body_text: RefField<string | null>;
  body_html: RefField<string | null>;
  body_text_charset: RefField<string | null>;
  body_html_charset: RefField<string | null>;
  attachments: RefField<{ filename: string; mime_type: string; size: number | null }[]>;
}

/** The columns of a lake row that are compared (attachments as rows of the attachments table). */
export interface ParsedColumns {
  subject: string | null;
  from_address: string | null;
  from_name: string | null;
  to_addresses: string[];
  cc_addresses: string[];
  message_id_header: string | null;
  in_reply_to: string | null;
  references_header: string | null;
  internal_date?: number | null;
  body_text: string | null;
  body_html: string | null;
  attachments: { filename: string; mime_type: string; size: number }[];
}

export const COLUMNS = [
  'subject',
  'from_address',
  'from_name',
  'to_addresses',
  'cc_addresses',
  'message_id_header',
  'in_reply_to',
  'references_header',
  'internal_date',
  'body_text',
  'body_html',
  'attachments',
] as const;
export type Column = (typeof COLUMNS)[number];

/** Runs reference.py on a folder of .eml files (Python 3.11, standard library only). */
export function runReference(folder: string): { python: string; refs: Map<string, Reference> } {
  const script = join(import.meta.dirname, 'reference.py');
  const out = execFileSync(process.env.PYTHON ?? 'python3', [script, folder], { maxBuffer: 1 << 28, encoding: 'utf8' });
  const [head, ...lines] = out.trim().split('\n');
  const refs = new Map<string, Reference>();
  for (const line of lines) {
    const r = JSON.parse(line) as Reference;
    refs.set(r.file, r);
  }
  return { python: (JSON.parse(head!) as { python: string }).python, refs };
}

const lower = (a: RefAddress) => a.address.toLowerCase();

/** What the reference says a column should hold, or an error when Python itself failed on the field. */
function expected(ref: Reference, column: Column): RefField<unknown> {
  const map = <T, U>(f: RefField<T>, fn: (v: T) => U): RefField<U> => (f.error ? { error: f.error } : { value: fn(f.value as T) });
  switch (column) {
    case 'subject':
      return ref.subject;
    case 'from_address':
      return map(ref.from, (v) => (v ? lower(v) : null));
    case 'from_name':
      return map(ref.from, (v) => v?.name || null);
    case 'to_addresses':
      return map(ref.to, (v) => v.map(lower));
    case 'cc_addresses':
      return map(ref.cc, (v) => v.map(lower));
    case 'message_id_header':
      return ref.message_id;
    case 'in_reply_to':
      return ref.in_reply_to;
    case 'references_header':
      return ref.references;
    case 'internal_date':
      return ref.date;
    case 'body_text':
      return ref.body_text;
    case 'body_html':
      return ref.body_html;
    case 'attachments':
      return ref.attachments;
  }
}

function actual(row: ParsedColumns, column: Column): unknown {
  return row[column];
}

/** Equality of one column, with the documented allowances (see README "Parsed columns"). */
function agrees(column: Column, want: unknown, got: unknown): boolean {
  if (column === 'attachments') {
    const w = want as { filename: string; mime_type: string; size: number | null }[];
    const g = got as { filename: string; mime_type: string; size: number }[];
    return (
      w.length === g.length &&
      w.every((a, i) => a.filename === g[i]!.filename && a.mime_type === g[i]!.mime_type && (a.size === null || a.size === g[i]!.size))
    );
  }
  if (column === 'internal_date' && want === null) return true; // no readable Date: Gmail keeps the time it got the mail
  return JSON.stringify(want) === JSON.stringify(got);
}

// eslint-disable-next-line no-control-regex
const ascii = (s: string) => s.replace(/[^\x00-\x7f]/g, '');

/**
 * Undeclared (or US-ASCII-declared) 8-bit text: RFC 2045's default charset is US-ASCII, which has no reading for
 * bytes over 127; Python replaces each with U+FFFD, the lake reads them as UTF-8. Agreed when Python's text has
 * U+FFFD and both texts are the same once every non-ASCII character is removed.
 */
function agreesAs8bit(ref: Reference, column: Column, want: unknown, got: unknown): boolean {
  if (typeof want !== 'string' || typeof got !== 'string' || !want.includes('\ufffd')) return false;
  if (column !== 'body_text' && column !== 'body_html') return false;
  const charset = ref[`${column}_charset`].value;
  return (charset === null || charset === undefined || charset === 'us-ascii') && ascii(want) === ascii(got);
}

/** A disagreement examined and decided (see adjudicated.json): the class and why the lake's reading stands. */
export interface Adjudication {
  file: string;
  column: Column;
  class: string;
}

export interface Disagreement {
  file: string;
  column: Column;
  want: unknown;
  got: unknown;
}
export interface ColumnStats {
  /** equal to the reference, or agreed by one of the rules or adjudications below */
  agreed: number;
  compared: number;
  /** of `agreed`: undeclared 8-bit text read as UTF-8 where Python shows U+FFFD */
  as8bit: number;
  /** of `agreed`: listed in adjudicated.json */
  adjudicated: number;
  referenceFailed: number;
}
export interface Report {
  messages: number;
  perColumn: Record<Column, ColumnStats>;
  disagreements: Disagreement[];
  /** adjudications that no longer match a disagreement (the list must not rot) */
  unusedAdjudications: Adjudication[];
  missing: string[];
}

/** Compares rows (by corpus file name) with the reference. Columns absent from `columns` are not compared. */
export function compare(
  refs: Map<string, Reference>,
  rows: Map<string, ParsedColumns>,
  adjudications: Adjudication[],
  columns: readonly Column[] = COLUMNS,
): Report {
  const perColumn = Object.fromEntries(
    columns.map((c) => [c, { agreed: 0, compared: 0, as8bit: 0, adjudicated: 0, referenceFailed: 0 }]),
  ) as Report['perColumn'];
  const pending = new Set(adjudications.filter((a) => columns.includes(a.column) && refs.has(a.file)));
  const disagreements: Disagreement[] = [];
  const missing: string[] = [];
  for (const [file, ref] of refs) {
    const row = rows.get(file);
    if (!row) {
      missing.push(file);
      continue;
    }
    for (const column of columns) {
      const want = expected(ref, column);
      const stat = perColumn[column];
      if (want.error !== undefined) {
        stat.referenceFailed++;
        continue;
      }
      stat.compared++;
      const got = actual(row, column);
      const adjudged = [...pending].find((a) => a.file === file && a.column === column);
      if (agrees(column, want.value, got)) stat.agreed++;
      else if (agreesAs8bit(ref, column, want.value, got)) {
        stat.agreed++;
        stat.as8bit++;
      } else if (adjudged) {
        stat.agreed++;
        stat.adjudicated++;
        pending.delete(adjudged);
      } else disagreements.push({ file, column, want: want.value, got });
    }
  }
  return { messages: refs.size, perColumn, disagreements, unusedAdjudications: [...pending], missing };
}

export function loadAdjudications(): Adjudication[] {
  const { classes, cases } = JSON.parse(readFileSync(join(import.meta.dirname, 'adjudicated.json'), 'utf8')) as {
    classes: Record<string, string>;
    cases: Adjudication[];
  };
  for (const c of cases) if (!classes[c.class]) throw new Error(`adjudicated.json: ${c.file} names no described class "${c.class}"`);
  return cases;
}

export function formatReport(report: Report): string {
  const lines = [
    '| column | agreed / compared | agreement | of which: 8-bit rule | adjudicated | Python failed (not compared) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [column, s] of Object.entries(report.perColumn)) {
    const pct = s.compared ? ((100 * s.agreed) / s.compared).toFixed(2) : '—';
    lines.push(`| ${column} | ${s.agreed} / ${s.compared} | ${pct}% | ${s.as8bit} | ${s.adjudicated} | ${s.referenceFailed} |`);
  }
  return lines.join('\n');
}
