import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The credentials folder: one `authorized_user` file per mailbox (`<address>.json`, mode 0600, the folder 0700), as
 * `gmail-lake login` writes it. Workers read it for each mailbox they serve, so one deployment serves several personal
 * mailboxes; a file replaced by a new login is read again at its next use, without a restart.
 */
export const storedCredentialsSchema = z.object({
  type: z.literal('authorized_user'),
  /** The mailbox, as `users.getProfile` named it when the token was made. */
  account: z.string().min(3),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  refresh_token: z.string().min(1),
  /** When the refresh token was issued (ISO 8601). */
  created: z.string().optional(),
});
export type StoredCredentials = z.infer<typeof storedCredentialsSchema>;

/** `<address>.json`; characters outside a plain address's are %-escaped (no path separators, no hidden files). */
const fileName = (account: string) =>
  `${account
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9@._+-]|^\./g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)}.json`;

export class CredentialStore {
  constructor(readonly dir: string) {}

  /** Where a mailbox's credentials live (whether or not they exist). */
  path(account: string): string {
    return join(this.dir, fileName(account));
  }

  /** The mailboxes with stored credentials, sorted. */
  accounts(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
      .map((n) => decodeURIComponent(n.slice(0, -'.json'.length)))
      .sort();
  }

  /** A mailbox's credentials and the file's version (size and mtime), or undefined when none are stored. */
  read(account: string): { credentials: StoredCredentials; version: string } | undefined {
    const path = this.path(account);
    // Asked before every Gmail call: no exception (and its stack) built when there is no file.
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s) return undefined;
    const version = `${s.size}:${s.mtimeMs}`;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`credentials file ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const parsed = storedCredentialsSchema.safeParse(json);
    // Paths and messages only: a value (a secret) never reaches the error.
    if (!parsed.success)
      throw new Error(`credentials file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    return { credentials: parsed.data, version };
  }

  /** Writes a mailbox's credentials atomically (temporary file, then rename), readable by its owner only. */
  write(credentials: StoredCredentials): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const path = this.path(credentials.account);
    const tmp = join(this.dir, `.${fileName(credentials.account)}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(storedCredentialsSchema.parse(credentials), null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, path);
    return path;
  }

  remove(account: string): boolean {
    const path = this.path(account);
    try {
      statSync(path);
    } catch {
      return false;
    }
    rmSync(path, { force: true });
    return true;
  }
}
