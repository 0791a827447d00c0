import { type Config, ConfigError, loadConfig } from './config.js';
import { type GmailCredentials, loadCredentials } from './gmail/auth.js';
import { CredentialStore } from './gmail/credential-store.js';
import { redactedMessage } from './redact.js';

/**
 * Runs an entry point (`npm start`, `npm run api`, `npm run worker`, `npm run compactor`): loads the configuration and GMAIL_CREDENTIALS_FILE
 * if set (per-mailbox credentials are read from GMAIL_CREDENTIALS_DIR as they are needed), starts the process's part,
 * stops it on SIGINT/SIGTERM and exits 0. A configuration error exits 2 with one line per variable; any other
 * start-up error exits 1 with its message.
 */
export async function runEntryPoint(
  start: (config: Config, credentials: GmailCredentials | undefined) => Promise<{ stop(): Promise<void> }>,
  { gmail = true }: { gmail?: boolean } = {},
) {
  try {
    const config = loadConfig();
    const file = config.gmail.credentialsFile;
    if (gmail && !file && new CredentialStore(config.gmail.credentialsDir).accounts().length === 0)
      console.error(
        `No Gmail credentials yet: sign a mailbox in with \`gmail-lake login\` (stored in ${config.gmail.credentialsDir}) or set GMAIL_CREDENTIALS_FILE; extractions fail until then.`,
      );
    const running = await start(config, gmail && file ? loadCredentials(file) : undefined);
    let stopping = false;
    const stop = () => {
      // Ctrl-C under npm arrives twice (from the terminal and passed on by npm): one stop, not two.
      if (stopping) return;
      stopping = true;
      running.stop().then(
        () => process.exit(0),
        (e: unknown) => {
          console.error(`stopping failed: ${redactedMessage(e)}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(redactedMessage(e));
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
}
