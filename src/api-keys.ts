import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys. A key is a random secret the caller sends as `Authorization: Bearer <key>`; configuration holds only its
 * SHA-256 digest (`API_KEYS=name:scope:digest,…`), so a leaked configuration opens nothing. `read` keys may call the
 * GET routes; `admin` keys everything.
 */
export type Scope = 'read' | 'admin';
export interface ApiKey {
  name: string;
  scope: Scope;
  /** SHA-256 of the key, 64 lower-case hex digits. */
  digest: string;
}

export const KEY_PREFIX = 'glk_';

export const digestOf = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** A new key (prefix + 32 random bytes, base64url) and the configuration entry that admits it. */
export function generateApiKey(name: string, scope: Scope): { key: string; entry: string } {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`key name must be 1–64 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(name)}`);
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, entry: `${name}:${scope}:${digestOf(key)}` };
}

/** Parses `API_KEYS`: entries `name:scope:sha256hex`, separated by commas or whitespace. Throws naming the bad entry. */
export function parseApiKeys(spec: string): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const entry of spec.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]{1,64}):(read|admin):([0-9a-f]{64})$/i.exec(entry);
    if (!m) {
      // Never echo the entry whole: a key pasted by mistake where its digest belongs would land in a log.
      throw new Error(`entry ${keys.length + 1} is not name:read|admin:<64 hex digits of SHA-256> (create one with \`npm run key\`)`);
    }
    if (keys.some((k) => k.name === m[1])) throw new Error(`key name ${m[1]} appears twice`);
    keys.push({ name: m[1]!, scope: m[2]!.toLowerCase() as Scope, digest: m[3]!.toLowerCase() });
  }
  return keys;
}
