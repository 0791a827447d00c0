/**
 * `npm run emulator -- --port 8085 --messages 5000 --seed demo --quota legacy --faults error500=0.05,latencyMs=20 --mbox FILE`
 * `npm run emulator -- --domain example.com --users 50 --suspended user003@example.com --service-account-file sa.json`
 * Starts the Gmail API emulator and prints the values to point the pipeline at it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CLIENT, startEmulator } from './server.js';
import type { LargeMessages } from './generate.js';
import type { SettingsInput } from './limits.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8085' },
    host: { type: 'string', default: '127.0.0.1' },
    messages: { type: 'string', default: '1000' },
    seed: { type: 'string', default: 'gmail-lake' },
    owner: { type: 'string', default: 'user@example.com' },
    quota: { type: 'string', default: 'off' },
    concurrency: { type: 'string', default: '0' },
    faults: { type: 'string', default: '' },
    mbox: { type: 'string' },
    domain: { type: 'string' },
    users: { type: 'string', default: '0' },
    suspended: { type: 'string', default: '' },
    undelegated: { type: 'string', default: '' },
    'service-account-file': { type: 'string' },
    'client-file': { type: 'string' },
    'oauth-state': { type: 'string' },
    'watch-state': { type: 'string' },
    'refresh-token-ttl': { type: 'string' },
    'history-id-base': { type: 'string' },
    large: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run emulator -- [--port 8085] [--messages N] [--seed S] [--owner EMAIL] [--quota off|legacy|2026]');
  console.log('       [--concurrency N] [--faults error500=0.05,error503=0,error429=0,drop=0,truncate=0,latencyMs=0] [--mbox FILE|DIR]');
  console.log('       [--domain example.com --users N [--suspended A,B] [--undelegated C] --service-account-file FILE]');
  console.log('       [--client-file FILE (writes the Desktop OAuth client file for `gmail-lake login`)] [--refresh-token-ttl SECONDS]');
  console.log('       [--history-id-base N (history ids start above it; give a larger one on each restart over the same lake)]');
  console.log('       [--oauth-state FILE (keeps the refresh tokens it issues across restarts)]');
  console.log("       [--watch-state FILE (keeps the users' Gmail watches across restarts)]");
  console.log('       [--large EVERY:MIN-MAX (every EVERY-th message carries an attachment of MIN to MAX megabytes, e.g. 100:20-25)]');
  process.exit(0);
}

function fail(message: string): never {
  console.error(`emulator: ${message}`);
  process.exit(2);
}

const faults: Record<string, number> = {};
for (const pair of values.faults.split(',').filter(Boolean)) {
  const [k, v] = pair.split('=');
  if (!k || v === undefined || !Number.isFinite(Number(v))) fail(`--faults: cannot read "${pair}" (want name=number)`);
  faults[k] = Number(v);
}
const messages = Number(values.messages);
if (!Number.isInteger(messages) || messages < 0) fail(`--messages must be a whole number, got "${values.messages}"`);
let large: LargeMessages | undefined;
if (values.large !== undefined) {
  const m = /^(\d+):(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(values.large);
  if (!m || Number(m[1]) < 1 || Number(m[2]) > Number(m[3]) || Number(m[3]) > 50)
    fail(`--large: want EVERY:MIN-MAX (megabytes, at most 50), e.g. 100:20-25; got "${values.large}"`);
  large = { every: Number(m[1]), minBytes: Math.round(Number(m[2]) * 1e6), maxBytes: Math.round(Number(m[3]) * 1e6) };
}
const users = Number(values.users);
if (!Number.isInteger(users) || users < 0) fail(`--users must be a whole number, got "${values.users}"`);
const list = (v: string) => v.split(',').filter(Boolean);
if (!['off', 'legacy', '2026'].includes(values.quota)) fail(`--quota must be off, legacy or 2026, got "${values.quota}"`);
const whole = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive whole number, got "${v}"`);
  return n;
};
const refreshTokenTtl = whole('refresh-token-ttl', values['refresh-token-ttl']);
const historyIdBase = whole('history-id-base', values['history-id-base']);

try {
  const emu = await startEmulator({
    port: Number(values.port),
    host: values.host,
    messages,
    large,
    seed: values.seed,
    owner: values.owner,
    mbox: values.mbox,
    settings: { quota: values.quota as SettingsInput['quota'], concurrency: Number(values.concurrency), faults, refreshTokenTtl },
    historyIdBase,
    oauthStateFile: values['oauth-state'],
    watchStateFile: values['watch-state'],
    workspace: values.domain
      ? { domain: values.domain, users, suspended: list(values.suspended), undelegated: list(values.undelegated) }
      : undefined,
  });
  console.log(
    `Gmail emulator listening on ${emu.url} (${values.mbox ?? `${messages} generated messages per mailbox, seed "${values.seed}"`})`,
  );
  console.log(`  GOOGLE_API_URL=${emu.url}`);
  console.log(
    `  credentials: client_id=${DEFAULT_CLIENT.clientId} client_secret=${DEFAULT_CLIENT.clientSecret} refresh_token=${DEFAULT_CLIENT.refreshToken}`,
  );
  if (values['client-file']) {
    writeFileSync(values['client-file'], JSON.stringify(emu.clientFile(), null, 2), { mode: 0o600 });
    console.log(`  Desktop OAuth client file (gmail-lake login --client-file): ${values['client-file']}`);
  }
  if (emu.workspace) {
    const file = values['service-account-file'] ?? 'emulator-service-account.json';
    writeFileSync(file, JSON.stringify(emu.workspace.key, null, 2), { mode: 0o600 });
    console.log(`  Workspace ${values.domain}: ${emu.workspace.users.length} users; service-account key (GMAIL_CREDENTIALS_FILE): ${file}`);
  }
  const stop = () => void emu.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
