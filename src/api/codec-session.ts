import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { ApiKey } from '../api-keys.js';

/**
 * Browser sessions for the codec endpoint. The Temporal Web UI calls `/codec/decode` from the browser and cannot send
 * our API key; it can send cookies ("include cross-origin credentials"). Signing in to `/ui` with a key sets a cookie
 * scoped to `/codec` that stands for that key for a while.
 *
 * The cookie holds no key: `<expiry>.<mac>.<key name>`, the MAC keyed by a secret derived from the payload codec keys
 * (every API replica has them, so any replica accepts any replica's cookie) and covering the key's digest, so taking a
 * key out of `API_KEYS` (or changing its scope) ends its sessions too.
 */
export const CODEC_COOKIE = 'gmail_lake_codec';
export const CODEC_SESSION_SECONDS = 12 * 3600;

export interface CodecSessions {
  issue(key: ApiKey, now?: number): string;
  verify(token: string, now?: number): ApiKey | undefined;
}

export function codecSessions(keys: ApiKey[], codecKeys: Buffer[]): CodecSessions {
  const byName = new Map(keys.map((k) => [k.name, k]));
  const secrets = codecKeys.map((k) => Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), 'gmail-lake codec session', 32)));
  const mac = (secret: Buffer, key: ApiKey, expiry: number) =>
    createHmac('sha256', secret).update(`${expiry}\n${key.name}\n${key.scope}\n${key.digest}`).digest();
  return {
    issue(key, now = Date.now()) {
      const expiry = Math.floor(now / 1000) + CODEC_SESSION_SECONDS;
      return `${expiry}.${mac(secrets[0]!, key, expiry).toString('base64url')}.${key.name}`;
    },
    verify(token, now = Date.now()) {
      const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_.-]{1,64})$/.exec(token);
      if (!m) return undefined;
      const expiry = Number(m[1]);
      const key = byName.get(m[3]!);
      if (!key || expiry * 1000 <= now) return undefined;
      const given = Buffer.from(m[2]!, 'base64url');
      return secrets.some((s) => timingSafeEqual(mac(s, key, expiry), given)) ? key : undefined;
    },
  };
}
