import { readFileSync } from 'node:fs';
import { JWT, OAuth2Client } from 'google-auth-library';
import { gmail as gmailApi, type gmail_v1 } from 'googleapis/build/src/apis/gmail/index.js';
import { z } from 'zod';
import type { GmailConfig } from '../config.js';

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
  const schema = (json as { type?: unknown } | null)?.type === 'service_account' ? serviceAccountSchema : authorizedUserSchema;
  const parsed = schema.safeParse(json);
  // Paths and messages only: a value (a private key, a secret) never reaches the error.
  if (!parsed.success)
    throw new Error(`GMAIL_CREDENTIALS_FILE ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}

export const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** A googleapis Gmail client for a mailbox address (`me` too with an authorized user). */
export type GmailClients = (account: string) => gmail_v1.Gmail;

/**
 * Gmail clients: one for an authorized user; with a service account, one per mailbox, each minting its own tokens with
 * the mailbox as `sub` (domain-wide delegation), cached and refreshed by google-auth-library, so a token only ever
 * opens the mailbox it was minted for. googleapis' own retries are off (see retry.ts).
 */
export function gmailClients(config: GmailConfig, credentials: GmailCredentials): GmailClients {
  const client = (auth: OAuth2Client) => gmailApi({ version: 'v1', auth, rootUrl: config.rootUrl, retry: false, timeout: 60_000 });
  if (!isServiceAccount(credentials)) {
    const auth = new OAuth2Client({
      clientId: credentials.client_id,
      clientSecret: credentials.client_secret,
      endpoints: { oauth2TokenUrl: config.tokenUrl },
      // Refresh once on 401 (an access token revoked or expired early), then the error is permanent.
      forceRefreshOnFailure: true,
    });
    auth.setCredentials({ refresh_token: credentials.refresh_token });
    const gmail = client(auth);
    return () => gmail;
  }
  const clients = new Map<string, gmail_v1.Gmail>();
  return (account) => {
    const subject = account.toLowerCase();
    if (subject === 'me') throw new ServiceAccountNeedsAddress();
    let gmail = clients.get(subject);
    if (!gmail) {
      gmail = client(delegatedAuth(config.tokenUrl, credentials, subject, GMAIL_SCOPE));
      clients.set(subject, gmail);
    }
    return gmail;
  };
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
