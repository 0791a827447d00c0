import { randomBytes } from 'node:crypto';

/** A payload key of the codec (codec.ts): its id, written into every payload it encrypts, and 32 bytes. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/** `PAYLOAD_KEYS`: entries `id:base64-of-32-bytes`, comma-separated, the encrypting key first. */
export function parseCodecKeys(spec: string): CodecKey[] {
  const keys: CodecKey[] = [];
  for (const entry of spec.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9+/_-]{43}=?)$/.exec(entry);
    const key = m ? Buffer.from(m[2]!, 'base64') : undefined;
    if (!m || key?.length !== 32)
      throw new Error(`entry ${keys.length + 1} is not id:<32 bytes in base64> (create one with \`npm run key -- --payload\`)`);
    if (keys.some((k) => k.id === m[1])) throw new Error(`key id ${m[1]} appears twice`);
    keys.push({ id: m[1]!, key });
  }
  return keys;
}

/** A new payload key entry for PAYLOAD_KEYS. */
export function generateCodecKey(id: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new Error(`key id must be 1–64 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(id)}`);
  return `${id}:${randomBytes(32).toString('base64')}`;
}
