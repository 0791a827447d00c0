import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { googleEndpoints, type GoogleEndpoints, homeOf, loadConfig, type Config } from '../config.js';
import { CredentialStore } from '../gmail/credential-store.js';
import { projectRoot } from '../stack/tools.js';
import { CliError, EXIT } from './output.js';

/**
 * Where the command keeps what it knows, all under GMAIL_LAKE_HOME (default ~/.gmail-lake):
 * - `config.json`: the API to drive (`api-url`, `api-key`), set by `gmail-lake config set` or by `gmail-lake up`;
 * - `credentials/`: one file per signed-in mailbox (`gmail-lake login`), read by the workers;
 * - `data/`: what `gmail-lake up` runs on (the lake, the Temporal database, logs) and `stack.json`, its processes.
 */
export const SETTING_KEYS = ['api-url', 'api-key'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];
export type Settings = Partial<Record<SettingKey, string>>;

/** A process `gmail-lake up` started. */
const processSchema = z.object({ pid: z.number().int(), log: z.string() });
/** What `gmail-lake up` runs, for `down`, `status` and the commands that need the local stack's addresses. */
export const stackSchema = z.object({
  apiUrl: z.string().describe("The API's base URL."),
  apiKeyEntry: z.string().describe('`name:admin:digest` of the key `up` made (its key is in config.json).'),
  temporalAddress: z.string().describe("Temporal's frontend address."),
  temporalUiUrl: z.string().describe("The Temporal Web UI's address."),
  googleApiUrl: z.string().optional().describe('The emulator playing Google (`up --emulator`): every Google endpoint under this root.'),
  clientFile: z.string().optional().describe("The emulator's Desktop client file."),
  credentialsFile: z
    .string()
    .optional()
    .describe('GMAIL_CREDENTIALS_FILE the workers were started with (a service account reads mailboxes no one signed in).'),
  processes: z.record(z.string(), processSchema).describe('What `up` started, by name: pid and log file.'),
});
export type StackState = z.infer<typeof stackSchema>;

export class Home {
  readonly dir: string;
  constructor(readonly env: Record<string, string | undefined> = process.env) {
    this.dir = homeOf(env);
  }

  get configFile(): string {
    return join(this.dir, 'config.json');
  }
  /** The local stack's data: DATA_DIR when set, else <home>/data. */
  get dataDir(): string {
    return this.env.DATA_DIR || join(this.dir, 'data');
  }
  get stackFile(): string {
    return join(this.dataDir, 'stack.json');
  }
  get credentials(): CredentialStore {
    return new CredentialStore(this.env.GMAIL_CREDENTIALS_DIR || join(this.dir, 'credentials'));
  }

  settings(): Settings {
    if (!existsSync(this.configFile)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.configFile, 'utf8')) as Record<string, unknown>;
      return Object.fromEntries(SETTING_KEYS.filter((k) => typeof parsed[k] === 'string').map((k) => [k, parsed[k] as string]));
    } catch (e) {
      throw new CliError(`cannot read ${this.configFile}: ${(e as Error).message}`, EXIT.usage);
    }
  }

  /** Writes settings (0600: it holds an API key). */
  saveSettings(next: Settings): void {
    writePrivate(this.configFile, next);
  }

  stack(): StackState | undefined {
    if (!existsSync(this.stackFile)) return undefined;
    const parsed = stackSchema.safeParse(JSON.parse(readFileSync(this.stackFile, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  }

  saveStack(state: StackState): void {
    writePrivate(this.stackFile, state);
  }

  /** The API to drive: GMAIL_LAKE_API_URL / _KEY, else config.json. */
  api(): { url: string | undefined; key: string | undefined } {
    const s = this.settings();
    return { url: this.env.GMAIL_LAKE_API_URL || s['api-url'], key: this.env.GMAIL_LAKE_API_KEY || s['api-key'] };
  }

  /** Google's endpoints: GOOGLE_API_URL, else the emulator `up --emulator` started, else Google's own. */
  google(): GoogleEndpoints {
    return googleEndpoints(this.env.GOOGLE_API_URL || this.stack()?.googleApiUrl);
  }

  /**
   * The pipeline's configuration as the local stack runs it: the environment, with the stack's data folder, Temporal
   * address, Google root and credentials folder where the environment does not say otherwise.
   */
  pipelineConfig(): Config {
    const stack = this.stack();
    return loadConfig({
      ...this.env,
      DATA_DIR: this.dataDir,
      TEMPORAL_ADDRESS: this.env.TEMPORAL_ADDRESS || stack?.temporalAddress,
      TEMPORAL_UI_URL: this.env.TEMPORAL_UI_URL || stack?.temporalUiUrl,
      GOOGLE_API_URL: this.env.GOOGLE_API_URL || stack?.googleApiUrl,
      GMAIL_CREDENTIALS_DIR: this.credentials.dir,
      // The checkout's extensions wherever the command runs from (the default is relative to the working folder).
      DUCKDB_EXTENSION_DIR: this.env.DUCKDB_EXTENSION_DIR || join(projectRoot, '.tools/duckdb-extensions'),
      // The command reads; it serves no API.
      API_AUTH: 'off',
      API_HOST: '127.0.0.1',
    });
  }
}

function writePrivate(path: string, value: unknown): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
