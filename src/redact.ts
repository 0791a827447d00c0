/**
 * Secrets out of text: every error message, log line and `/readyz` answer passes through `redact` before it leaves the
 * process (to a client, a log or Temporal history). Two nets: the secrets this process was configured with, replaced
 * wherever they appear, and the shapes secrets take in connection strings (`password=…`, `user:pass@host`).
 */
const known = new Set<string>();

/** Registers secrets (catalog password/DSN, S3 keys, OAuth client secret and tokens) to be masked from now on. */
export function registerSecrets(...values: (string | undefined | null)[]): void {
  for (const v of values) if (v && v.length >= 4) known.add(v);
}

const MASK = '***';
const PATTERNS: [RegExp, string][] = [
  // libpq key/value DSNs and URIs' query parameters: password=secret, password='a b', PGPASSWORD=…
  [
    /\b(password|pgpassword|secret|secret_access_key|client_secret|refresh_token|access_token)(\s*[=:]\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s;&,)"'\\]+)/gi,
    `$1$2${MASK}`,
  ],
  // PEM private keys (a service account's), whole or cut off
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, `-----BEGIN PRIVATE KEY-----${MASK}`],
  // scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s]+@/gi, `$1${MASK}@`],
  // OAuth bearer tokens
  [/\b(Bearer\s+)[A-Za-z0-9._~+/-]+=*/g, `$1${MASK}`],
];

export function redact(text: string): string {
  let out = text;
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(MASK);
  for (const [re, to] of PATTERNS) out = out.replace(re, to);
  return out;
}

/** The message of an error, redacted. */
export function redactedMessage(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err));
}
