import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import open from 'open';
import { z } from 'zod';
import type { GoogleEndpoints } from '../config.js';
import { GMAIL_SCOPE } from '../gmail/auth.js';
import type { StoredCredentials } from '../gmail/credential-store.js';
import { CliError, EXIT, type Out } from './output.js';
import type { Home } from './settings.js';

/** A Desktop client's file, as the Cloud console downloads it (`{"installed": {…}}`). */
const installedSchema = z.object({
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  auth_uri: z.string().url(),
  token_uri: z.string().url(),
});
export type InstalledClient = z.infer<typeof installedSchema>;

/** Reads a downloaded OAuth client file; a web client's file, or anything else, is refused with what to create instead. */
export function readClientFile(path: string): InstalledClient {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read the client file ${path}: ${(e as Error).message}`, EXIT.usage);
  }
  const o = (json ?? {}) as Record<string, unknown>;
  if (o.web)
    throw new CliError(
      `${path} is a web application's client: sign-in from this command needs a Desktop app client (Google Cloud console → APIs & Services → Credentials → Create credentials → OAuth client ID → Application type "Desktop app"), then download its JSON`,
      EXIT.usage,
    );
  if (o.type === 'service_account')
    throw new CliError(
      `${path} is a service account's key: it signs in no one — set GMAIL_CREDENTIALS_FILE=${path} for Workspace fleets (docs/gmail-setup.md), or download a Desktop app OAuth client to sign a mailbox in`,
      EXIT.usage,
    );
  if (o.type === 'authorized_user' || o.refresh_token)
    throw new CliError(
      `${path} holds a mailbox's credentials already, not an OAuth client: use the client file the Cloud console downloads`,
      EXIT.usage,
    );
  const parsed = installedSchema.safeParse(o.installed);
  if (!parsed.success)
    throw new CliError(
      `${path} is not an OAuth client file: expected {"installed": {"client_id", "client_secret", "auth_uri", "token_uri", …}} as the Cloud console downloads it for a Desktop app client (${o.installed ? parsed.error.issues.map((i) => `installed.${i.path.join('.')}: ${i.message}`).join('; ') : 'no "installed" key'})`,
      EXIT.usage,
    );
  return parsed.data;
}

/** A browser can be opened here: not over SSH, and on Linux only with a display. */
function canOpenBrowser(env: NodeJS.ProcessEnv): boolean {
  if (env.SSH_CONNECTION || env.SSH_TTY) return false;
  if (process.platform === 'linux') return !!(env.DISPLAY || env.WAYLAND_DISPLAY);
  return true;
}

interface Redirect {
  code?: string;
  error?: string;
  state?: string;
}

/** The loopback listener on a free port (another port when one is taken: the system picks it). */
async function loopback(onRedirect: (r: Redirect) => boolean): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const r: Redirect = {
      code: url.searchParams.get('code') ?? undefined,
      error: url.searchParams.get('error') ?? undefined,
      state: url.searchParams.get('state') ?? undefined,
    };
    if (!r.code && !r.error) return void res.writeHead(404).end();
    const accepted = onRedirect(r);
    res.writeHead(accepted ? 200 : 400, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      accepted
        ? `<!doctype html><title>gmail-lake</title><p>${r.error ? 'Sign-in cancelled.' : 'Signed in.'} You can close this window and return to the terminal.</p>`
        : '<!doctype html><title>gmail-lake</title><p>This answer does not belong to the sign-in the terminal is waiting for.</p>',
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export interface LoginOptions {
  address?: string;
  clientFile: string;
  /** Open a browser (default: when there is one). */
  browser?: boolean;
  /** Give up after this long without an answer. */
  timeoutMs?: number;
}

/**
 * Signs a mailbox in with Google's installed-app flow: a loopback redirect on a free port, PKCE (S256), offline access
 * with consent prompted (so Google returns a refresh token), scope gmail.readonly only — google-auth-library's own
 * helpers build the URL and exchange the code. The browser opens when there is one; otherwise (SSH) the URL is printed
 * and the address the browser was sent to can be pasted back. The mailbox is named by `users.getProfile`, and must be
 * the one asked for.
 */
export async function login(home: Home, options: LoginOptions, out: Out): Promise<{ account: string; file: string; refreshed: boolean }> {
  const client = readClientFile(options.clientFile);
  const google = home.google();
  const asked = options.address?.trim().toLowerCase();
  const state = randomBytes(16).toString('base64url');
  let settle!: { resolve: (r: Redirect) => void; reject: (e: Error) => void };
  const answered = new Promise<Redirect>((resolve, reject) => (settle = { resolve, reject }));
  const accept = (r: Redirect) => {
    if (r.state !== state) return false;
    settle.resolve(r);
    return true;
  };
  const { server, port } = await loopback(accept);
  const redirectUri = `http://127.0.0.1:${port}/`;
  const oauth = new OAuth2Client({
    clientId: client.client_id,
    clientSecret: client.client_secret,
    redirectUri,
    endpoints: { oauth2AuthBaseUrl: client.auth_uri, oauth2TokenUrl: client.token_uri },
  });
  const { codeVerifier, codeChallenge } = await oauth.generateCodeVerifierAsync();
  const url = oauth.generateAuthUrl({
    access_type: 'offline',
    prompt: 'consent',
    scope: [GMAIL_SCOPE],
    code_challenge_method: CodeChallengeMethod.S256,
    code_challenge: codeChallenge,
    state,
    ...(asked ? { login_hint: asked } : {}),
  });
  const stderr = (line: string) => process.stderr.write(`${line}\n`);
  const browser = options.browser ?? canOpenBrowser(process.env);
  stderr(`Sign in to Google${asked ? ` as ${asked}` : ''} and allow read-only access to Gmail:\n\n  ${url}\n`);
  if (browser) {
    await open(url).then(
      () => stderr('(opened in your browser)'),
      () => stderr('(could not open a browser: open the address above yourself)'),
    );
  }
  stderr(
    `Waiting for Google to send the browser back to ${redirectUri} … If that browser runs on another machine (SSH), its page will fail to load: copy the address it shows (starting ${redirectUri}) and paste it here.`,
  );
  // The pasted address, for a browser that cannot reach this machine's loopback (a terminal, or a pipe from a script).
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const text = line.trim();
    if (!text) return;
    try {
      const u = new URL(text);
      const r = {
        code: u.searchParams.get('code') ?? undefined,
        error: u.searchParams.get('error') ?? undefined,
        state: u.searchParams.get('state') ?? undefined,
      };
      if (!accept(r)) stderr('That address is not the answer to this sign-in (its state differs); paste the address from this sign-in.');
    } catch {
      stderr('Paste the whole address from the browser, starting http://127.0.0.1:');
    }
  });
  const timer = setTimeout(
    () => settle.reject(new CliError('no answer from the browser: sign-in abandoned (run `gmail-lake login` again)', EXIT.auth)),
    options.timeoutMs ?? 10 * 60_000,
  );
  let redirect: Redirect;
  try {
    redirect = await answered;
  } finally {
    clearTimeout(timer);
    rl.close();
    process.stdin.destroy();
    server.close();
  }
  if (redirect.error === 'access_denied')
    throw new CliError("consent denied on Google's page: nothing was stored. Run `gmail-lake login` again and choose Allow.", EXIT.auth);
  if (redirect.error || !redirect.code) throw new CliError(`Google refused the sign-in: ${redirect.error ?? 'no code'}`, EXIT.auth);

  let tokens;
  try {
    ({ tokens } = await oauth.getToken({ code: redirect.code, codeVerifier, redirect_uri: redirectUri }));
  } catch (e) {
    throw new CliError(`Google refused the code: ${googleReason(e)}`, EXIT.auth);
  }
  if (!tokens.refresh_token)
    throw new CliError(
      'Google returned no refresh token (it gives one at consent only): remove gmail-lake at https://myaccount.google.com/permissions and run `gmail-lake login` again',
      EXIT.auth,
    );
  const account = await profileAddress(google, tokens.access_token ?? '');
  if (asked && account !== asked) {
    await new OAuth2Client({ endpoints: { oauth2RevokeUrl: google.revokeUrl } }).revokeToken(tokens.refresh_token).catch(() => undefined);
    throw new CliError(`signed in as ${account}, not ${asked}: nothing was stored — sign in with ${asked}'s Google account`, EXIT.auth);
  }
  const store = home.credentials;
  const refreshed = store.read(account) !== undefined;
  const credentials: StoredCredentials = {
    type: 'authorized_user',
    account,
    client_id: client.client_id,
    client_secret: client.client_secret,
    refresh_token: tokens.refresh_token,
    created: new Date().toISOString(),
  };
  const file = store.write(credentials);
  out.result({ account, file, refreshed }, () => {
    out.line(`${refreshed ? 'Signed in again' : 'Signed in'} as ${account}; its token is in ${file} (readable by you only).`);
    out.line(`Next: gmail-lake extract ${account}`);
  });
  return { account, file, refreshed };
}

/** The mailbox an access token opens (`users.getProfile`). */
async function profileAddress(google: GoogleEndpoints, accessToken: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${google.rootUrl}gmail/v1/users/me/profile`, {
      headers: { authorization: `Bearer ${accessToken}` },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new CliError(`cannot reach Gmail at ${google.rootUrl}: ${(e as Error).message}`, EXIT.unreachable);
  }
  const body = (await res.json().catch(() => ({}))) as { emailAddress?: string; error?: { message?: string } };
  if (!res.ok || !body.emailAddress)
    throw new CliError(
      `Gmail refused to name the signed-in mailbox (HTTP ${res.status}: ${body.error?.message ?? 'no address'}) — is the Gmail API enabled in the client's Cloud project?`,
      EXIT.auth,
    );
  return body.emailAddress.toLowerCase();
}

/** What Google said, in one line (error and description of a token-endpoint answer). */
export function googleReason(e: unknown): string {
  const data = (e as { response?: { data?: { error?: string; error_description?: string } } }).response?.data;
  return data?.error ? `${data.error}${data.error_description ? ` (${data.error_description})` : ''}` : (e as Error).message;
}

export type TokenState = 'valid' | 'expired or revoked' | 'client refused' | 'unknown';

/** Whether a stored mailbox's refresh token still works: a refresh at Google's token endpoint. */
export async function checkToken(google: GoogleEndpoints, c: StoredCredentials): Promise<{ state: TokenState; detail?: string }> {
  const oauth = new OAuth2Client({ clientId: c.client_id, clientSecret: c.client_secret, endpoints: { oauth2TokenUrl: google.tokenUrl } });
  oauth.setCredentials({ refresh_token: c.refresh_token });
  try {
    await oauth.refreshAccessToken();
    return { state: 'valid' };
  } catch (e) {
    const reason = googleReason(e);
    if (/invalid_grant/.test(reason)) return { state: 'expired or revoked', detail: reason };
    if (/invalid_client|unauthorized_client/.test(reason)) return { state: 'client refused', detail: reason };
    return { state: 'unknown', detail: `cannot reach Google's token endpoint: ${reason}` };
  }
}

/** `accounts`: the signed-in mailboxes and whether their tokens work. */
export async function accounts(home: Home, out: Out): Promise<void> {
  const store = home.credentials;
  const google = home.google();
  const rows = await Promise.all(
    store.accounts().map(async (account) => {
      const stored = store.read(account)!;
      const { state, detail } = await checkToken(google, stored.credentials);
      return { account, state, signedIn: stored.credentials.created ?? null, file: store.path(account), ...(detail ? { detail } : {}) };
    }),
  );
  out.result({ accounts: rows, credentialsDir: store.dir }, () => {
    if (rows.length === 0)
      return out.line(`No mailbox signed in (${store.dir} is empty). Sign one in: gmail-lake login --client-file client_secret.json`);
    for (const r of rows)
      out.line(
        `${r.account}  ${r.state}${r.state === 'valid' ? '' : ` — run \`gmail-lake login ${r.account}\``}  (signed in ${r.signedIn ?? '?'})`,
      );
  });
}

/** `logout`: revokes the mailbox's refresh token at Google, then deletes its file. */
export async function logout(home: Home, address: string, out: Out): Promise<void> {
  const store = home.credentials;
  const account = address.trim().toLowerCase();
  const stored = store.read(account);
  if (!stored)
    throw new CliError(
      `${account} is not signed in${store.accounts().length ? ` (signed in: ${store.accounts().join(', ')})` : ''}`,
      EXIT.usage,
    );
  const google = home.google();
  let revoked: 'revoked' | 'already invalid' = 'revoked';
  try {
    await new OAuth2Client({ endpoints: { oauth2RevokeUrl: google.revokeUrl } }).revokeToken(stored.credentials.refresh_token);
  } catch (e) {
    if (!/invalid_token|400/.test(googleReason(e) + String((e as { status?: number }).status)))
      throw new CliError(
        `could not revoke ${account}'s token at Google (${googleReason(e)}); nothing deleted — try again`,
        EXIT.unreachable,
      );
    revoked = 'already invalid';
  }
  store.remove(account);
  out.result({ account, token: revoked, deleted: stored ? store.path(account) : null }, () =>
    out.line(
      `Signed ${account} out: token ${revoked === 'revoked' ? 'revoked at Google' : 'was already expired or revoked'}, ${store.path(account)} deleted.`,
    ),
  );
}
