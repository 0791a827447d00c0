/**
 * Epoch ms of an RFC 5322 date-time (Date or Received headers), or undefined. Comments are dropped (CFWS may stand
 * anywhere, `00:19:00 (EDT) -0400`); a zone that is neither numeric nor one of RFC 5322's obsolete names is read as
 * `-0000`, i.e. UTC (RFC 5322 §4.3), instead of making the whole date unreadable.
 */
export function parseMailDate(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const text = value
    .replace(/\((?:[^()\\]|\\.)*\)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const direct = Date.parse(text);
  if (Number.isFinite(direct)) return direct;
  const unzoned = text.replace(/(\d{1,2}:\d{2}(?::\d{2})?)\s+\S+$/, '$1 +0000');
  const retried = Date.parse(unzoned);
  return Number.isFinite(retried) ? retried : undefined;
}
