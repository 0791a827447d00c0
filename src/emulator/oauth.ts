import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { html } from 'hono/html';
import type { Limits } from './limits.js';
import { DIRECTORY_USER_READONLY, EMULATOR_PROJECT, GMAIL_READONLY, type Workspace } from './workspace.js';

/**
 * Google's OAuth 2.0 authorization server as the emulator plays it, after Google's documentation for installed apps
 * ("OAuth 2.0 for Mobile & Desktop Apps") and RFC 6749 / 7636 / 7009:
 * - `GET /o/oauth2/v2/auth` (and `/o/oauth2/auth`, the `auth_uri` of a downloaded client file): the consent page, with
 *   the account to sign in as and Allow / Deny; a Desktop client may redirect to any loopback port, a web client only
 *   to a registered URI; the out-of-band flow is refused as Google refuses it.
 * - `POST /token`: `authorization_code` (single use, expires, PKCE checked, the redirect URI exactly the authorization
 *   request's), `refresh_token` (optionally expiring after `refreshTokenTtl`, as a Testing-mode app's do after 7 days;
 *   at most 100 live per account and client, older ones silently invalidated), and the JWT-bearer grant of a Workspace
 *   service account.
 * - `POST /revoke`: ends a refresh token and its access tokens (revoking an access token ends its refresh token too).
 */

/** An OAuth client registered with the emulator's "Cloud project". */
export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  /** `installed` (Desktop app: any loopback redirect) or `web` (only the registered redirect URIs). */
  type: 'installed' | 'web';
  redirectUris: string[];
}

export const DEFAULT_CLIENT = {
  clientId: 'emulator-client-id',
  clientSecret: 'emulator-client-secret',
  refreshToken: 'emulator-refresh-token',
};
/** A web-application client of the same project, for the refusals that only a web client's file meets. */
export const WEB_CLIENT: OAuthClient = {
  clientId: 'emulator-web-client-id.apps.googleusercontent.com',
  clientSecret: 'emulator-web-client-secret',
  type: 'web',
  redirectUris: ['https://app.example.com/oauth2callback'],
};

/** What an access token grants: a mailbox (`*` any, as the emulator's built-in refresh token), scopes, an expiry. */
export interface AccessGrant {
  refreshToken?: string;
  grant: string;
  scopes: string[];
  expiresAt: number;
}

interface RefreshGrant {
  clientId: string;
  grant: string;
  scopes: string[];
  issuedAt: number;
  revoked: boolean;
}

interface PendingAuthorization {
  client: OAuthClient;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  challenge: { value: string; method: 'S256' | 'plain' } | undefined;
  offline: boolean;
  forceConsent: boolean;
  loginHint: string | undefined;
  createdAt: number;
}

interface IssuedCode extends PendingAuthorization {
  account: string;
  used: boolean;
  /** Tokens minted with it: revoked if the code is presented again (RFC 6749 §4.1.2). */
  refreshToken?: string;
  accessToken?: string;
}

const KNOWN_SCOPES = new Set([GMAIL_READONLY, DIRECTORY_USER_READONLY, 'openid', 'email', 'profile']);
const SCOPE_TEXT: Record<string, string> = {
  [GMAIL_READONLY]: 'View your email messages and settings',
  [DIRECTORY_USER_READONLY]: 'View users on your domain',
};
/** Google keeps at most this many refresh tokens per account and client; issuing another silently ends the oldest. */
const REFRESH_TOKENS_PER_ACCOUNT = 100;
const ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export interface AuthorityOptions {
  clients: OAuthClient[];
  /** Refresh tokens that exist before any consent (the built-in one: any mailbox, like domain-wide delegation). */
  refreshTokens: Record<string, string>;
  /** The mailbox offered on the consent page when the request has no login_hint. */
  owner: string;
  limits: Limits;
  workspace?: Workspace;
  /**
   * Keep the refresh tokens in this file, so a restarted emulator still knows the tokens it issued (as Google does):
   * `gmail-lake up --emulator` after a `down` keeps the mailboxes signed in.
   */
  stateFile?: string;
}

/** The emulator's authorization server: its routes (`app`) and the token checks the Gmail routes make. */
export class Authority {
  readonly app = new Hono();
  private readonly clients: Map<string, OAuthClient>;
  private readonly refresh = new Map<string, RefreshGrant>();
  private readonly access = new Map<string, AccessGrant>();
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, IssuedCode>();
  /** Accounts that consented to a client with offline access (a later consent without prompt=consent gets no refresh token). */
  private readonly consented = new Set<string>();

  constructor(private readonly options: AuthorityOptions) {
    this.clients = new Map(options.clients.map((c) => [c.clientId, c]));
    const start = Date.now();
    for (const [token, grant] of Object.entries(options.refreshTokens)) {
      this.refresh.set(token, { clientId: options.clients[0]!.clientId, grant, scopes: [GMAIL_READONLY], issuedAt: start, revoked: false });
    }
    if (options.stateFile && existsSync(options.stateFile)) {
      const saved = JSON.parse(readFileSync(options.stateFile, 'utf8')) as { refresh: [string, RefreshGrant][]; consented: string[] };
      for (const [token, grant] of saved.refresh) this.refresh.set(token, grant);
      for (const c of saved.consented) this.consented.add(c);
    }
    for (const path of ['/o/oauth2/v2/auth', '/o/oauth2/auth']) {
      this.app.get(path, (c) => this.authorize(c));
      this.app.post(`${path}/consent`, (c) => this.consent(c));
    }
    this.app.post('/token', (c) => this.token(c));
    this.app.post('/revoke', (c) => this.revoke(c));
  }

  /** The client file the Cloud console downloads for a client (`{"installed": …}` or `{"web": …}`), served by this emulator. */
  clientFile(baseUrl: string, type: 'installed' | 'web' = 'installed') {
    const client = [...this.clients.values()].find((c) => c.type === type);
    if (!client) throw new Error(`no ${type} client registered`);
    return {
      [type]: {
        client_id: client.clientId,
        project_id: EMULATOR_PROJECT,
        auth_uri: `${baseUrl}o/oauth2/auth`,
        token_uri: `${baseUrl}token`,
        auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
        client_secret: client.clientSecret,
        redirect_uris: type === 'installed' ? ['http://localhost'] : client.redirectUris,
      },
    };
  }

  /** The grant of a bearer access token, if it is live. */
  accessGrant(bearer: string): AccessGrant | undefined {
    const t = this.access.get(bearer);
    if (!t || t.expiresAt < Date.now()) return undefined;
    if (t.refreshToken !== undefined && !this.refreshLive(t.refreshToken)) return undefined;
    return t;
  }

  /** Revokes a refresh token as if its owner removed the app's access (control endpoint). */
  revokeRefreshToken(token: string): void {
    const r = this.refresh.get(token);
    if (r) r.revoked = true;
    else this.refresh.set(token, { clientId: '', grant: '', scopes: [], issuedAt: 0, revoked: true });
    this.save();
  }

  /** Every access token expires now (the next request must refresh). */
  expireAccessTokens(): void {
    for (const t of this.access.values()) t.expiresAt = 0;
  }

  private save(): void {
    if (!this.options.stateFile) return;
    const issued = [...this.refresh.entries()].filter(([t]) => !(t in this.options.refreshTokens));
    writeFileSync(this.options.stateFile, JSON.stringify({ refresh: issued, consented: [...this.consented] }), { mode: 0o600 });
  }

  private refreshLive(token: string): boolean {
    const r = this.refresh.get(token);
    if (!r || r.revoked) return false;
    const ttl = this.options.limits.settings.refreshTokenTtl;
    return ttl === undefined || ttl === null || Date.now() - r.issuedAt < ttl * 1000;
  }

  private issueAccess(grant: string, scopes: string[], refreshToken?: string) {
    const ttl = this.options.limits.settings.accessTokenTtl;
    const token = `ya29.emu-${randomBytes(18).toString('base64url')}`;
    this.access.set(token, { refreshToken, grant, scopes, expiresAt: Date.now() + ttl * 1000 });
    return { token, body: { access_token: token, expires_in: ttl, scope: scopes.join(' '), token_type: 'Bearer' } };
  }

  private issueRefresh(clientId: string, account: string, scopes: string[]): string {
    const token = `1//emu-${randomBytes(24).toString('base64url')}`;
    this.refresh.set(token, { clientId, grant: account, scopes, issuedAt: Date.now(), revoked: false });
    const live = [...this.refresh.entries()].filter(([, r]) => r.clientId === clientId && r.grant === account && !r.revoked);
    for (const [, r] of live.slice(0, Math.max(0, live.length - REFRESH_TOKENS_PER_ACCOUNT))) r.revoked = true;
    this.save();
    return token;
  }

  /** Where a client may be sent back to: a registered URI, or for a Desktop client any loopback address and port. */
  private redirectAllowed(client: OAuthClient, uri: string): boolean {
    if (client.redirectUris.includes(uri)) return true;
    if (client.type !== 'installed') return false;
    try {
      const u = new URL(uri);
      return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && u.port !== '';
    } catch {
      return false;
    }
  }

  private authorize(c: Context) {
    const q = (name: string) => c.req.query(name);
    const client = this.clients.get(q('client_id') ?? '');
    if (!client) return errorPage(c, 401, 'invalid_client', 'The OAuth client was not found.');
    const redirectUri = q('redirect_uri') ?? '';
    if (redirectUri === 'urn:ietf:wg:oauth:2.0:oob' || redirectUri.startsWith('urn:ietf:wg:oauth:2.0:oob'))
      return errorPage(
        c,
        400,
        'invalid_request',
        'The out-of-band (OOB) flow has been blocked in order to keep users secure. Follow the Out-of-Band (OOB) flow migration guide linked in the developer docs to migrate your app to an alternative method.',
      );
    if (!this.redirectAllowed(client, redirectUri))
      return errorPage(
        c,
        400,
        'redirect_uri_mismatch',
        `You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. If you're the app developer, register the redirect URI in the Google Cloud Console. Request details: redirect_uri=${redirectUri}`,
      );
    const state = q('state');
    const back = (error: string, description: string) => redirectTo(c, redirectUri, { error, error_description: description, state });
    if (q('response_type') !== 'code') return back('unsupported_response_type', `Invalid response_type: ${q('response_type') ?? ''}`);
    const scopes = (q('scope') ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) return back('invalid_request', 'Missing required parameter: scope');
    const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s));
    if (unknown) return back('invalid_scope', `Some requested scopes were invalid. {invalid=[${unknown}]}`);
    const method = q('code_challenge_method') ?? (q('code_challenge') ? 'plain' : undefined);
    if (method !== undefined && method !== 'S256' && method !== 'plain')
      return back('invalid_request', `Invalid code_challenge_method: ${method}`);
    const challenge = q('code_challenge');
    if (method && !challenge) return back('invalid_request', 'Missing code_challenge');
    const id = randomBytes(16).toString('base64url');
    this.pending.set(id, {
      client,
      redirectUri,
      scopes,
      state,
      challenge: challenge ? { value: challenge, method: method as 'S256' | 'plain' } : undefined,
      offline: q('access_type') === 'offline',
      forceConsent: (q('prompt') ?? '').split(/\s+/).includes('consent'),
      loginHint: q('login_hint'),
      createdAt: Date.now(),
    });
    return c.html(consentPage(id, q('login_hint') ?? this.options.owner, scopes, c.req.path));
  }

  private async consent(c: Context) {
    const body = await c.req.parseBody();
    const field = (k: string) => (typeof body[k] === 'string' ? body[k] : '');
    const p = this.pending.get(field('request'));
    // A consent page is good for one answer, for ten minutes.
    if (!p || Date.now() - p.createdAt > 600_000)
      return errorPage(c, 400, 'invalid_request', 'This sign-in request is no longer valid. Start again.');
    this.pending.delete(field('request'));
    if (field('decision') !== 'allow') return redirectTo(c, p.redirectUri, { error: 'access_denied', state: p.state });
    const account = field('account').trim().toLowerCase();
    if (!ADDRESS.test(account)) return errorPage(c, 400, 'invalid_request', `Couldn't find your Google Account: ${account}`);
    const code = `4/0emu-${randomBytes(24).toString('base64url')}`;
    this.codes.set(code, { ...p, account, used: false });
    return redirectTo(c, p.redirectUri, { code, scope: p.scopes.join(' '), state: p.state });
  }

  private async token(c: Context) {
    const body = await c.req.parseBody();
    const form = (k: string) => (typeof body[k] === 'string' ? body[k] : undefined);
    this.options.limits.served('oauth.token');
    const fail = (error: string, description: string, status: 400 | 401 = 400) => c.json({ error, error_description: description }, status);
    const grantType = form('grant_type');
    if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const workspace = this.options.workspace;
      if (!workspace) return fail('invalid_grant', 'Invalid JWT: No valid verifier found for issuer.');
      const g = workspace.grant(form('assertion') ?? '');
      if (!g.ok) return fail(g.error, g.description, g.status as 400 | 401);
      return c.json(this.issueAccess(g.subject ?? '', g.scopes).body);
    }
    if (grantType !== 'refresh_token' && grantType !== 'authorization_code')
      return fail('unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    // Client authentication: in the form (client_secret_post) or HTTP Basic.
    let clientId = form('client_id');
    let clientSecret = form('client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
    if (basic) [clientId, clientSecret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
    const client = this.clients.get(clientId ?? '');
    if (!client) return fail('invalid_client', 'The OAuth client was not found.', 401);
    if (client.clientSecret !== clientSecret) return fail('invalid_client', 'Unauthorized', 401);

    if (grantType === 'refresh_token') {
      const rt = form('refresh_token') ?? '';
      if (!rt) return fail('invalid_request', 'Missing required parameter: refresh_token');
      const r = this.refresh.get(rt);
      if (!r || !this.refreshLive(rt) || (r.clientId !== client.clientId && r.clientId !== ''))
        return fail('invalid_grant', 'Token has been expired or revoked.');
      return c.json(this.issueAccess(r.grant, r.scopes, rt).body);
    }

    const code = form('code');
    if (!code) return fail('invalid_request', 'Missing required parameter: code');
    const issued = this.codes.get(code);
    if (!issued || issued.client.clientId !== client.clientId) return fail('invalid_grant', 'Bad Request');
    if (issued.used) {
      // A code presented twice: refused, and what it minted is revoked (RFC 6749 §4.1.2).
      if (issued.refreshToken) this.revokeRefreshToken(issued.refreshToken);
      if (issued.accessToken) this.access.delete(issued.accessToken);
      return fail('invalid_grant', 'Bad Request');
    }
    issued.used = true;
    if (Date.now() - issued.createdAt > this.options.limits.settings.authorizationCodeTtl * 1000)
      return fail('invalid_grant', 'Bad Request');
    if (form('redirect_uri') !== issued.redirectUri) return fail('redirect_uri_mismatch', 'Bad Request');
    if (issued.challenge) {
      const verifier = form('code_verifier');
      if (!verifier) return fail('invalid_grant', 'Missing code verifier.');
      const derived = issued.challenge.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier) || derived !== issued.challenge.value)
        return fail('invalid_grant', 'Invalid code verifier.');
    }
    const consentKey = `${client.clientId} ${issued.account}`;
    // Google returns a refresh token for offline access on first consent, and again only when consent is prompted.
    const withRefresh = issued.offline && (issued.forceConsent || !this.consented.has(consentKey));
    if (issued.offline) this.consented.add(consentKey);
    issued.refreshToken = withRefresh ? this.issueRefresh(client.clientId, issued.account, issued.scopes) : undefined;
    const access = this.issueAccess(issued.account, issued.scopes, issued.refreshToken);
    issued.accessToken = access.token;
    return c.json({ ...access.body, ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}) });
  }

  private async revoke(c: Context) {
    const body = c.req.header('content-type')?.includes('form') ? await c.req.parseBody() : {};
    const token = c.req.query('token') ?? (typeof body.token === 'string' ? body.token : '');
    const access = this.access.get(token);
    if (this.refresh.has(token) && this.refreshLive(token)) this.revokeRefreshToken(token);
    else if (access && this.accessGrant(token)) {
      // Revoking an access token ends the refresh token it came from too (Google's documented behaviour).
      if (access.refreshToken) this.revokeRefreshToken(access.refreshToken);
      this.access.delete(token);
    } else return c.json({ error: 'invalid_token', error_description: 'Token expired or revoked' }, 400);
    for (const [t, a] of this.access) if (a.refreshToken === token) this.access.delete(t);
    return c.json({});
  }
}

function redirectTo(c: Context, uri: string, params: Record<string, string | undefined>) {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return c.redirect(u.toString(), 302);
}

function errorPage(c: Context, status: 400 | 401, error: string, description: string) {
  return c.html(
    html`<!doctype html>
      <title>Error ${status}: ${error}</title>
      <h1>Access blocked: authorization error</h1>
      <p id="error">Error ${status}: ${error}</p>
      <p>${description}</p>`,
    status,
  );
}

function consentPage(request: string, account: string, scopes: string[], path: string) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Sign in - Google Accounts (gmail-lake emulator)</title>
      </head>
      <body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">
        <h1>gmail-lake wants access to your Google Account</h1>
        <form method="post" action="${path}/consent">
          <input type="hidden" name="request" value="${request}" />
          <label>Signed in as <input name="account" value="${account}" size="32" /></label>
          <p>This will allow gmail-lake to:</p>
          <ul>
            ${scopes.map((s) => html`<li>${SCOPE_TEXT[s] ?? s}</li>`)}
          </ul>
          <button type="submit" name="decision" value="deny">Cancel</button>
          <button type="submit" name="decision" value="allow">Allow</button>
        </form>
      </body>
    </html>`;
}
