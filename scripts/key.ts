/**
 * `npm run key -- --name <name> --scope read|admin`: prints a new API key (give it to the caller; it is shown once) and
 * the `API_KEYS` entry that admits it (only the key's SHA-256 digest, safe to keep in configuration).
 * `npm run key -- --payload --name <id>`: prints a new `PAYLOAD_KEYS` entry (a secret: keep it as one).
 */
import { parseArgs } from 'node:util';
import { generateApiKey } from '../src/api-keys.js';
import { generateCodecKey } from '../src/codec.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    scope: { type: 'string', default: 'admin' },
    payload: { type: 'boolean', default: false },
  },
});
try {
  if (values.payload) {
    const entry = generateCodecKey(values.name ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`);
    console.log(`payload key (put first in PAYLOAD_KEYS to encrypt with it; keep older ones after it to read old history):`);
    console.log(entry);
  } else {
    if (values.scope !== 'read' && values.scope !== 'admin') throw new Error(`--scope must be read or admin, got ${values.scope}`);
    const { key, entry } = generateApiKey(values.name ?? 'admin', values.scope);
    console.log(`key (send as "Authorization: Bearer <key>"; shown once): ${key}`);
    console.log(`configuration (append to API_KEYS, comma-separated): ${entry}`);
  }
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
