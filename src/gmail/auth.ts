import { readFileSync } from 'node:fs';
import { JWT, OAuth2Client } from 'google-auth-library';
import { gmail as gmailApi, type gmail_v1 } from '@googleapis/gmail';
import { z } from 'zod';
import type { GmailConfig } from '../config.js';
import { registerSecrets } from '../redact.js';
import { CredentialStore } from './credential-store.js';
import { describeGmailError } from './errors.js';
import { leanJsonAdapter } from './http-adapter.js';

/** An OAuth "authorized_user" credentials file: the client and a refresh token of the mailbox owner. */
const authorizedUserSchema = z.object({
  type: z.literal('authorized_user').optional(),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  refresh_token: z.string().min(1),
});
/** A service-account key file (Cloud console → Keys → JSON) whose client id has domain-wide delegation. */
const serviceAccountSchema = z.object({
  type: z.literal('service_account'),
  client_email: z.string().email(),
  private_key: z.string().includes('PRIVATE KEY'),
  private_key_id: z.string().min(1),
});
export type AuthorizedUser = z.infer<typeof authorizedUserSchema>;
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;
export type GmailCredentials = AuthorizedUser | ServiceAccount;

export const isServiceAccount = (c: GmailCredentials): c is ServiceAccount => c.type === 'service_account';

/** GMAIL_CREDENTIALS_FILE: an `authorized_user` file (one mailbox) or a `service_account` key (any mailbox of a domain). */
export function loadCredentials(file: string): GmailCredentials {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`GMAIL_CREDENTIALS_FILE ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (json && typeof json === 'object' && ('installed' in json || 'web' in json))
    throw new Error(
      `GMAIL_CREDENTIALS_FILE ${file} is an OAuth client file (what the Cloud console downloads), not a mailbox's credentials: sign the mailbox in with \`gmail-lake login --client-file ${file}\` and leave GMAIL_CREDENTIALS_FILE unset`,
    );
  const schema = (json as { type?: unknown } | null)?.type === 'service_account' ? serviceAccountSchema : authorizedUserSchema;
  const parsed = schema.safeParse(json);
  // Paths and messages only: a value (a private key, a secret) never reaches the error.
  if (!parsed.success)
    throw new Error(`GMAIL_CREDENTIALS_FILE ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}

export const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** Where a mailbox's credentials came from: its own stored file, the single user file, or the service account. */
export type CredentialSource = 'stored' | 'file' | 'service';

/** A googleapis Gmail client for a mailbox address (`me` too with one user's credentials), and where its credentials came from. */
export type GmailClients = (account: string) => { gmail: gmail_v1.Gmail; source: CredentialSource };

/**
 * Gmail clients per mailbox: its own credentials in the credentials folder (written by `gmail-lake login`; a file a new
 * login replaced is read again at the next call), else the service account of GMAIL_CREDENTIALS_FILE minting tokens
 * with the mailbox as `sub` (domain-wide delegation, so a token only ever opens the mailbox it was minted for), else
 * that file's one user. google-auth-library caches and refreshes access tokens; googleapis' own retries are off (see
 * retry.ts). No credentials for a mailbox: a NoCredentials error naming the command that makes them.
 */
export function gmailClients(config: GmailConfig, credentials: GmailCredentials | undefined): GmailClients {
  const adapter = leanJsonAdapter();
  const client = (auth: OAuth2Client) => gmailApi({ version: 'v1', auth, rootUrl: config.rootUrl, retry: false, timeout: 60_000, adapter });
  const userClient = (c: Pick<AuthorizedUser, 'client_id' | 'client_secret' | 'refresh_token'>) => {
    registerSecrets(c.client_secret, c.refresh_token);
    const auth = new OAuth2Client({
      clientId: c.client_id,
      clientSecret: c.client_secret,
      endpoints: { oauth2TokenUrl: config.tokenUrl },
      // Refresh once on 401 (an access token revoked or expired early), then the error is permanent.
      forceRefreshOnFailure: true,
    });
    auth.setCredentials({ refresh_token: c.refresh_token });
    return client(auth);
  };
  const store = new CredentialStore(config.credentialsDir);
  const stored = new Map<string, { version: string; gmail: gmail_v1.Gmail }>();
  const delegated = new Map<string, gmail_v1.Gmail>();
  let single: gmail_v1.Gmail | undefined;
  const clients: GmailClients = (account) => {
    const subject = account.trim().toLowerCase();
    const own = subject === 'me' ? undefined : store.read(subject);
    if (own) {
      let entry = stored.get(subject);
      if (entry?.version !== own.version) stored.set(subject, (entry = { version: own.version, gmail: userClient(own.credentials) }));
      return { gmail: entry.gmail, source: 'stored' };
    }
    if (credentials && isServiceAccount(credentials)) {
      if (subject === 'me') throw new ServiceAccountNeedsAddress();
      let gmail = delegated.get(subject);
      if (!gmail) delegated.set(subject, (gmail = client(delegatedAuth(config.tokenUrl, credentials, subject, GMAIL_SCOPE))));
      return { gmail, source: 'service' };
    }
    if (credentials) return { gmail: (single ??= userClient(credentials)), source: 'file' };
    const known = store.accounts();
    // `me` with exactly one stored mailbox is that mailbox.
    if (subject === 'me' && known.length === 1) return clients(known[0]!);
    throw new NoCredentials(subject, known, store.dir);
  };
  return clients;
}

/** No credentials for a mailbox. A 401 to the classifier: permanent, never retried. */
export class NoCredentials extends Error {
  readonly status = 401;
  constructor(account: string, known: string[], dir: string) {
    super(
      account === 'me'
        ? `"me" is ambiguous: ${known.length ? `name one of the signed-in mailboxes (${known.join(', ')})` : `no mailbox is signed in (${dir} is empty) — run \`gmail-lake login\``}`
        : `no credentials for ${account} — run \`gmail-lake login ${account}\`${known.length ? ` (signed in: ${known.join(', ')})` : ''}`,
    );
  }
}

/**
 * An authentication failure, in words that say what to do: Google refused the mailbox's refresh token (expired — an
 * app in Testing status gets 7-day tokens — or revoked), its OAuth client, or the service account's grant. A 401 to
 * the classifier: permanent, never retried.
 */
export class GmailAuthError extends Error {
  readonly status = 401;
  constructor(
    readonly account: string,
    /** `expired` (invalid_grant: expired or revoked), `client` (invalid_client), `refused` (any other refusal). */
    readonly reason: 'expired' | 'client' | 'refused',
    message: string,
  ) {
    super(message);
  }

  /** The failure of a call for `account` with credentials from `source`, from what Google answered. */
  static of(err: unknown, account: string, source: CredentialSource): GmailAuthError {
    const data = (err as { response?: { data?: { error?: unknown } } }).response?.data;
    const code = typeof data?.error === 'string' ? data.error : /invalid_grant|invalid_client/.exec(String((err as Error).message))?.[0];
    const said = describeGmailError(err);
    if (source === 'service')
      return new GmailAuthError(account, 'refused', `Google refused the service account's credentials for ${account}: ${said}`);
    if (code === 'invalid_grant')
      return new GmailAuthError(
        account,
        'expired',
        `the refresh token for ${account} expired or was revoked — run \`gmail-lake login ${account}\``,
      );
    if (code === 'invalid_client')
      return new GmailAuthError(
        account,
        'client',
        `Google no longer accepts the OAuth client of ${account}'s credentials (deleted, or its secret reset) — download the client file again and run \`gmail-lake login ${account} --client-file FILE\``,
      );
    return new GmailAuthError(
      account,
      'refused',
      `Gmail refused the credentials of ${account} (${said}) — run \`gmail-lake login ${account}\``,
    );
  }
}

/**
 * A service account acting as `subject` (domain-wide delegation) for `scope`: google-auth-library mints, caches and
 * refreshes its tokens. The JWT grant always goes to Google's token URL (gtoken fixes it, and it is the assertion's
 * audience); a `tokenUrl` elsewhere (the emulator) is reached by rewriting the request, the audience left as Google's.
 */
export function delegatedAuth(tokenUrl: string, credentials: ServiceAccount, subject: string, scope: string): JWT {
  const auth = new JWT({
    email: credentials.client_email,
    key: credentials.private_key,
    keyId: credentials.private_key_id,
    subject,
    scopes: [scope],
    forceRefreshOnFailure: true,
  });
  if (tokenUrl !== GOOGLE_TOKEN_URL) {
    auth.transporter.interceptors.request.add({
      resolved: async (opts) => {
        if (String(opts.url) === GOOGLE_TOKEN_URL) opts.url = new URL(tokenUrl);
        return opts;
      },
    });
  }
  return auth;
}

/** `me` with a service account: there is no "me" to impersonate. A 400 to the classifier: permanent, never retried. */
export class ServiceAccountNeedsAddress extends Error {
  readonly status = 400;
  constructor() {
    super('with a service account (GMAIL_CREDENTIALS_FILE of type service_account), name the mailbox by its address, not "me"');
  }
}
