import { admin } from '@googleapis/admin';
import type { GmailConfig } from '../config.js';
import { delegatedAuth, type GmailCredentials, isServiceAccount } from './auth.js';
import { withRetry } from './retry.js';

export const DIRECTORY_SCOPE = 'https://www.googleapis.com/auth/admin.directory.user.readonly';

export interface DirectoryUser {
  email: string;
  suspended: boolean;
}

/** The users of a Workspace domain (Admin SDK Directory `users.list`), every page. */
export type Directory = (domain: string) => Promise<DirectoryUser[]>;

/**
 * The domain's directory, read by the service account acting as `config.directoryAdmin` (an admin of the domain; the
 * delegation must grant admin.directory.user.readonly). None without a service account or an admin to act as.
 */
export function createDirectory(config: GmailConfig, credentials: GmailCredentials): Directory | undefined {
  if (!isServiceAccount(credentials) || !config.directoryAdmin) return undefined;
  const auth = delegatedAuth(config.tokenUrl, credentials, config.directoryAdmin, DIRECTORY_SCOPE);
  const api = admin({ version: 'directory_v1', auth, rootUrl: config.directoryRootUrl, retry: false, timeout: 60_000 });
  return async (domain) => {
    const users: DirectoryUser[] = [];
    let pageToken: string | undefined;
    do {
      const r = await withRetry(() => api.users.list({ domain, maxResults: 500, pageToken, orderBy: 'email' }), {
        attempts: config.requestAttempts,
      });
      for (const u of r.data.users ?? []) if (u.primaryEmail) users.push({ email: u.primaryEmail.toLowerCase(), suspended: !!u.suspended });
      pageToken = r.data.nextPageToken ?? undefined;
    } while (pageToken);
    return users;
  };
}
