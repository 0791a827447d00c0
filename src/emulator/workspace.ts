import { createHash, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';

/** The emulator's one Cloud project: its OAuth clients, its service account and the topics Gmail may push to. */
export const EMULATOR_PROJECT = 'gmail-lake-emulator';

/**
 * A Google Workspace domain as the emulator plays it: a directory of users (some suspended, some outside the service
 * account's domain-wide delegation) and one service account whose key the emulator generates, with the JWT-bearer grant
 * (RFC 7523) checked the way Google's token endpoint checks it.
 */
export interface WorkspaceOptions {
  /** The primary domain, e.g. example.com. */
  domain: string;
  /** Generated users `user001@domain` … (besides the owner). */
  users: number;
  /** Addresses of suspended users (listed with `suspended: true`; no token can be minted for them). */
  suspended?: string[];
  /** Addresses the delegation does not cover (e.g. an organisational unit left out): `unauthorized_client`. */
  undelegated?: string[];
  /** Scopes the admin granted the service account's client id. Default gmail.readonly + directory user readonly. */
  delegatedScopes?: string[];
}

export const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly';
export const DIRECTORY_USER_READONLY = 'https://www.googleapis.com/auth/admin.directory.user.readonly';
/** The audience Google requires in a JWT-bearer assertion (whatever URL the request is sent to). */
export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';

/** A service-account key file, as the Cloud console downloads it. */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
}

export interface DirectoryUser {
  id: string;
  primaryEmail: string;
  name: { givenName: string; familyName: string; fullName: string };
  isAdmin: boolean;
  suspended: boolean;
  orgUnitPath: string;
}

export type GrantResult =
  { ok: true; subject: string | undefined; scopes: string[] } | { ok: false; status: number; error: string; description: string };

export class Workspace {
  readonly key: ServiceAccountKey;
  private readonly everyone: DirectoryUser[];
  /** Users deleted from the domain while the emulator runs (`POST /_emulator/users/:user/delete`). */
  private readonly deleted = new Set<string>();
  private readonly publicKey: KeyObject;
  private readonly delegated: Set<string>;
  private readonly suspended: Set<string>;
  private readonly undelegated: Set<string>;
  private readonly byEmail: Map<string, DirectoryUser>;

  constructor(
    readonly options: WorkspaceOptions,
    owner: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = publicKey;
    const project = EMULATOR_PROJECT;
    this.key = {
      type: 'service_account',
      project_id: project,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: `lake-backup@${project}.iam.gserviceaccount.com`,
      client_id: String(BigInt('0x' + createHash('sha256').update(options.domain).digest('hex').slice(0, 15))),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: GOOGLE_TOKEN_AUDIENCE,
    };
    const lower = (a: string[] | undefined) => new Set((a ?? []).map((x) => x.toLowerCase()));
    this.suspended = lower(options.suspended);
    this.undelegated = lower(options.undelegated);
    this.delegated = new Set(options.delegatedScopes ?? [GMAIL_READONLY, DIRECTORY_USER_READONLY]);
    const emails = [owner, ...Array.from({ length: options.users }, (_, i) => `user${String(i + 1).padStart(3, '0')}@${options.domain}`)];
    this.everyone = [...new Set(emails.map((e) => e.toLowerCase()))].map((email, i) => {
      const local = email.split('@')[0]!;
      return {
        id: String(100_000_000_000_000_000n + BigInt(i)),
        primaryEmail: email,
        name: { givenName: local, familyName: 'Example', fullName: `${local} Example` },
        isAdmin: i === 0,
        suspended: this.suspended.has(email),
        orgUnitPath: this.undelegated.has(email) ? '/Contractors' : '/',
      };
    });
    this.byEmail = new Map(this.everyone.map((u) => [u.primaryEmail, u]));
  }

  /** The directory as it is now: a deleted user is no longer listed. */
  get users(): DirectoryUser[] {
    return this.everyone.filter((u) => !this.deleted.has(u.primaryEmail));
  }

  user(email: string): DirectoryUser | undefined {
    const u = this.byEmail.get(email.toLowerCase());
    return u && !this.deleted.has(u.primaryEmail) ? u : undefined;
  }

  /** Deletes a user as an administrator would: unlisted, and no token can be minted for them any more. */
  delete(email: string): boolean {
    const u = this.byEmail.get(email.toLowerCase());
    if (!u || this.deleted.has(u.primaryEmail)) return false;
    this.deleted.add(u.primaryEmail);
    return true;
  }

  /**
   * Checks a JWT-bearer assertion as Google does: RS256 signature by this service account's key, `iss` its email, `aud`
   * Google's token URL, `iat`/`exp` at most an hour apart around now, scopes within the delegation, `sub` a user of
   * the domain who is neither suspended nor outside the delegation.
   */
  grant(assertion: string, now = Date.now()): GrantResult {
    const bad = (description: string, error = 'invalid_grant'): GrantResult => ({ ok: false, status: 400, error, description });
    const parts = assertion.split('.');
    if (parts.length !== 3) return bad('Invalid JWT: Malformed.', 'invalid_request');
    let header: { alg?: string; kid?: string };
    let claims: { iss?: string; sub?: string; aud?: string; scope?: string; iat?: number; exp?: number };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return bad('Invalid JWT: Malformed.', 'invalid_request');
    }
    if (header.alg !== 'RS256') return bad('Invalid JWT: Unsupported signing algorithm.');
    if (claims.iss !== this.key.client_email) return bad('Invalid JWT: No valid verifier found for issuer.');
    if (header.kid !== undefined && header.kid !== this.key.private_key_id) return bad('Invalid JWT Signature.');
    const signed = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), this.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!signed) return bad('Invalid JWT Signature.');
    if (claims.aud !== GOOGLE_TOKEN_AUDIENCE) return bad('Invalid JWT: Failed audience check.');
    const t = now / 1000;
    if (
      typeof claims.iat !== 'number' ||
      typeof claims.exp !== 'number' ||
      claims.exp - claims.iat > 3600 ||
      claims.iat > t + 300 ||
      claims.exp < t - 300
    ) {
      return bad(
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const scopes = (claims.scope ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) return bad('Invalid OAuth scope or ID token audience provided.', 'invalid_scope');
    if (claims.sub === undefined) return { ok: true, subject: undefined, scopes };
    const user = this.user(claims.sub);
    if (!user || user.suspended) return bad('Invalid email or User ID');
    if (this.undelegated.has(user.primaryEmail) || scopes.some((s) => !this.delegated.has(s))) {
      return {
        ok: false,
        status: 401,
        error: 'unauthorized_client',
        description:
          'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      };
    }
    return { ok: true, subject: user.primaryEmail, scopes };
  }
}
