import { type Config, ConfigError, loadConfig } from './config.js';
import { type GmailCredentials, loadCredentials } from './gmail/auth.js';
import { redactedMessage } from './redact.js';

/**
 * Runs an entry point (`npm start`, `npm run api`, `npm run worker`): loads the configuration and the Gmail credentials
 * (GMAIL_CREDENTIALS_FILE is required), starts the process's part, stops it on SIGINT/SIGTERM and exits 0. A
 * configuration error exits 2 with one line per variable; any other start-up error exits 1 with its message.
 */
export async function runEntryPoint(start: (config: Config, credentials: GmailCredentials) => Promise<{ stop(): Promise<void> }>) {
  try {
    const config = loadConfig();
    if (!config.gmail.credentialsFile)
      throw new ConfigError(
        'Invalid configuration:\n  GMAIL_CREDENTIALS_FILE: required (an authorized_user JSON with client_id, client_secret, refresh_token)',
      );
    const running = await start(config, loadCredentials(config.gmail.credentialsFile));
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
