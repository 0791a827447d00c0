/**
 * Quoted-printable decoding (RFC 2045 §6.7) with exactly libqp's output for a binary string (chars below 256), by
 * native searches and copies within one buffer instead of libqp's two whole-text regular expressions (each a copy of
 * the text) and its loop over every character. libqp's `decode` was 42 % of the MIME reader's time on generated mail;
 * the reader went from 0.57 to 0.33 ms per 33 KB message. `test/unit/quoted-printable.test.ts` holds the two equal
 * over random and awkward inputs, libqp being its oracle. What it does, in libqp's order:
 * 1. spaces and tabs that end a line (or the text) are dropped, as transport padding;
 * 2. a `=` that ends a line (or the text) is a soft line break: it and the line break go;
 * 3. `=` and two hex digits (either case) are one byte; any other `=` is kept as it is.
 */

const isBlank = (c: number) => c === 0x20 || c === 0x09;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** The first `byte` at or after `from` and before `end`, else -1 (native search: the text is not looped over in JS). */
function find(buf: Buffer, byte: number, from: number, end: number): number {
  const i = buf.indexOf(byte, from);
  return i >= 0 && i < end ? i : -1;
}

/** Decodes a body held as a binary string (one char per byte, as the MIME reader reads it). */
export function decodeQuotedPrintable(input: string): Buffer {
  const buf = Buffer.from(input, 'latin1');
  // Each step compacts the buffer in place (its output never overtakes what it reads), copying the runs between the
  // bytes it acts on natively.
  // Step 1: spaces and tabs before a line break or the end go.
  let n = 0;
  let lf = -2;
  let cr = -2;
  for (let r = 0; r < buf.length;) {
    if (lf !== -1 && lf < r) lf = find(buf, 0x0a, r, buf.length);
    if (cr !== -1 && cr < r) cr = find(buf, 0x0d, r, buf.length);
    const e = lf < 0 ? (cr < 0 ? buf.length : cr) : cr < 0 ? lf : Math.min(lf, cr);
    let t = e;
    while (t > r && isBlank(buf[t - 1]!)) t--;
    buf.copyWithin(n, r, t);
    n += t - r;
    if (e < buf.length) buf[n++] = buf[e]!;
    r = e + 1;
  }
  // Step 2: soft line breaks (a `=` before a line break or the end) go.
  let k = 0;
  for (let r = 0; r < n;) {
    const e = find(buf, 0x3d, r, n);
    const stop = e < 0 ? n : e;
    buf.copyWithin(k, r, stop);
    k += stop - r;
    if (e < 0 || e + 1 === n) break;
    if (buf[e + 1] === 0x0a) r = e + 2;
    else if (buf[e + 1] === 0x0d && e + 2 < n && buf[e + 2] === 0x0a) r = e + 3;
    else {
      buf[k++] = 0x3d;
      r = e + 1;
    }
  }
  n = k;
  // Step 3: `=XX` is a byte.
  k = 0;
  for (let r = 0; r < n;) {
    const e = find(buf, 0x3d, r, n);
    const stop = e < 0 ? n : e;
    buf.copyWithin(k, r, stop);
    k += stop - r;
    if (e < 0) break;
    const hi = e + 2 < n ? hexValue(buf[e + 1]!) : -1;
    const lo = hi >= 0 ? hexValue(buf[e + 2]!) : -1;
    if (lo >= 0) {
      buf[k++] = hi * 16 + lo;
      r = e + 3;
    } else {
      buf[k++] = 0x3d;
      r = e + 1;
    }
  }
  return buf.subarray(0, k);
}
