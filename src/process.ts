import { type Connection, Client } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { dataConverterFor } from './codec.js';
import type { Config } from './config.js';
import { type GmailCredentials, isServiceAccount } from './gmail/auth.js';
import { parseLibpqDsn } from './postgres.js';
import { registerSecrets } from './redact.js';
import { connectionSecrets } from './temporal-connection.js';

/**
 * What both composition roots (`api/server.ts`, `worker/run.ts`) build the same way: the secrets every line leaving
 * the process is masked against, and the Temporal client (encrypted payloads with PAYLOAD_KEYS; traces carried into
 * the workflows it starts with OTLP on).
 */

const passwordOf = (dsn: string): string | undefined => {
  try {
    const p = parseLibpqDsn(dsn).password;
    return typeof p === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
};

/** Registers every configured secret with the redactor (per-mailbox tokens are registered as they are read). */
export function registerConfiguredSecrets(config: Config, credentials: GmailCredentials | undefined): void {
  registerSecrets(
    config.lake.pgDsn ? passwordOf(config.lake.pgDsn) : undefined,
    config.lake.s3.secret,
    config.lake.s3.keyId,
    config.lake.s3.sessionToken,
    ...(!credentials
      ? []
      : isServiceAccount(credentials)
        ? // The key and each of its lines (a quoted fragment is still a leak).
          [credentials.private_key, ...credentials.private_key.split('\n').filter((l) => l.length >= 32 && !l.startsWith('-----'))]
        : [credentials.client_secret, credentials.refresh_token]),
    ...(config.temporal.codecKeys ?? []).map((k) => k.key.toString('base64')),
    config.webhooks?.secret,
    config.temporal.idKey,
    ...connectionSecrets(config.temporal.connection),
  );
}

/** The process's Temporal client on `connection`. */
export function temporalClient(config: Config, connection: Connection, traced: boolean): Client {
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config.temporal.codecKeys),
    // Traces continue from the API request into the workflows it starts, signals and queries.
    interceptors: traced ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined,
  });
}
