/**
 * Decodes a uuencoded body (`begin <mode> <name>` … `end`), as Python's `email` does for the x-uuencode transfer
 * encoding. Hand-written: the format is a dozen lines and no maintained npm package decodes it without also pulling
 * in file-system helpers. Bodies without a `begin` line come back unchanged.
 */
export function uudecode(body: Buffer): Buffer {
  const lines = body.toString('latin1').split(/\r\n|\r|\n/);
  const begin = lines.findIndex((l) => /^begin\s+[0-7]+\s/.test(l));
  if (begin < 0) return body;
  const out: number[] = [];
  for (const line of lines.slice(begin + 1)) {
    if (line.trim() === 'end') break;
    if (line === '') continue;
    const n = (line.charCodeAt(0) - 32) & 63;
    if (n === 0) continue;
    const bytes: number[] = [];
    for (let i = 1; bytes.length < n; i += 4) {
      const c = [0, 1, 2, 3].map((k) => ((line.charCodeAt(i + k) || 32) - 32) & 63);
      bytes.push((c[0]! << 2) | (c[1]! >> 4), ((c[1]! & 15) << 4) | (c[2]! >> 2), ((c[2]! & 3) << 6) | c[3]!);
    }
    out.push(...bytes.slice(0, n));
  }
  return Buffer.from(out);
}
