/**
 * `npm run key -- --name <name> --scope read|admin`: prints a new API key (give it to the caller; it is shown once) and
 * the `API_KEYS` entry that admits it (only the key's SHA-256 digest, safe to keep in configuration).
 */
import { parseArgs } from 'node:util';
import { generateApiKey } from '../src/api/keys.js';

const { values } = parseArgs({ options: { name: { type: 'string', default: 'admin' }, scope: { type: 'string', default: 'admin' } } });
if (values.scope !== 'read' && values.scope !== 'admin') {
  console.error(`--scope must be read or admin, got ${values.scope}`);
  process.exit(2);
}
try {
  const { key, entry } = generateApiKey(values.name, values.scope);
  console.log(`key (send as "Authorization: Bearer <key>"; shown once): ${key}`);
  console.log(`configuration (append to API_KEYS, comma-separated): ${entry}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
