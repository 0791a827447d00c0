import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { type ApiKey, parseApiKeys } from './api-keys.js';
import { type CodecKey, parseCodecKeys } from './codec-keys.js';
import { everyToMs } from './intervals.js';
import { envSchema, type QuotaProfileName } from './env-schema.js';
import { type TemporalConnection, temporalConnection } from './temporal-connection.js';

export interface LakeConfig {
  catalog: 'sqlite' | 'duckdb' | 'postgres';
  catalogPath: string;
  pgDsn: string | undefined;
  dataPath: string;
  encrypted: boolean;
  stagingDir: string;
  extensionDir: string;
  memoryLimit: string;
  /** A compactor's memory limit (LAKE_COMPACTOR_MEMORY_LIMIT): it replaces memoryLimit there. */
  compactorMemoryLimit: string;
  threads: number;
  /** Lake commits after which a writer opens a fresh DuckDB instance (0: never; see Lake). */
  renewAfterWrites: number;
  /** DuckDB spill directory. */
  tempDir: string;
  /** Days of snapshots compaction keeps (time travel). */
  snapshotRetentionDays: number;
  /** The search index's SQLite file (src/search-index), undefined when SEARCH_INDEX is off. */
  searchIndexPath: string | undefined;
  s3: {
    /** host[:port] (DuckDB's ENDPOINT), from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
    endpoint?: string;
    region: string;
    keyId?: string;
    secret?: string;
    sessionToken?: string;
    urlStyle: 'path' | 'vhost';
    useSsl: boolean;
  };
}

export interface GoogleEndpoints {
  /** Gmail API root (googleapis' `rootUrl`). */
  rootUrl: string;
  tokenUrl: string;
  revokeUrl: string;
  /** The authorization (consent) endpoint. */
  authUrl: string;
  /** Admin SDK root (the directory of a Workspace domain). */
  directoryRootUrl: string;
  /** Google's token-signing keys (PEM), which verify a push's OIDC token. */
  certsUrl: string;
}

/** Google's endpoints: its own hosts, or all under one root (the emulator). */
export function googleEndpoints(root: string | undefined): GoogleEndpoints {
  if (!root)
    return {
      rootUrl: 'https://gmail.googleapis.com/',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      revokeUrl: 'https://oauth2.googleapis.com/revoke',
      authUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      directoryRootUrl: 'https://admin.googleapis.com/',
      certsUrl: 'https://www.googleapis.com/oauth2/v1/certs',
    };
  const base = root.endsWith('/') ? root : `${root}/`;
  return {
    rootUrl: base,
    tokenUrl: `${base}token`,
    revokeUrl: `${base}revoke`,
    authUrl: `${base}o/oauth2/v2/auth`,
    directoryRootUrl: base,
    certsUrl: `${base}oauth2/v1/certs`,
  };
}

/** GMAIL_LAKE_HOME: the command's settings, stored credentials and the local stack's data. */
export const homeOf = (env: Record<string, string | undefined>): string => resolve(env.GMAIL_LAKE_HOME || join(homedir(), '.gmail-lake'));

export interface GmailConfig extends GoogleEndpoints {
  directoryAdmin: string | undefined;
  credentialsFile: string | undefined;
  /** Folder of per-mailbox credentials (see CredentialStore). */
  credentialsDir: string;
  quota: { profile: QuotaProfileName; share: number };
  project: { name: string; units: number; windowSeconds: number };
  fetchConcurrency: number;
  /** GMAIL_PUSH_TOPIC: the Pub/Sub topic syncs keep each scheduled mailbox watched on. */
  pushTopic: string | undefined;
  /** GMAIL_MESSAGE_MEMORY_MB in bytes. */
  messageMemory: number;
  requestAttempts: number;
  /** Batch attempts after which a message Gmail keeps refusing is quarantined (see GMAIL_QUARANTINE_AFTER). */
  quarantineAfter: number;
  /** ATTACHMENTS=content: attachments' bytes are stored (and, with format full, fetched). */
  attachmentContent: boolean;
  /** IMPORT_DIRS: where imports may read files (empty: anywhere the worker can read). */
  importDirs: string[];
}

/** The validated configuration, passed down from the entry points. */
export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    codecKeys: CodecKey[] | undefined;
    /** Key of mailbox digests in ids (see WORKFLOW_ID_KEY). */
    idKey: string | undefined;
    /** TLS, API key and gRPC metadata of every connection to Temporal (TEMPORAL_API_KEY, TEMPORAL_TLS*, temporal.toml). */
    connection: TemporalConnection;
  };
  api: {
    host: string;
    port: number;
    auth: { keys: ApiKey[]; ratePerMinute: number } | undefined;
    metricsPort: number | undefined;
    fleetMaxConcurrency: number;
    /** EXTRACT_STALL_AFTER in ms. */
    stallAfterMs: number;
    /** POST /push/gmail: whose tokens it accepts (GMAIL_PUSH_AUDIENCE, GMAIL_PUSH_SERVICE_ACCOUNT); off when unset. */
    push: { audience: string; serviceAccount: string; certsUrl: string } | undefined;
  };
  dataDir: string;
  lake: LakeConfig;
  gmail: GmailConfig;
  pipeline: { depth: number; compactEvery: number; compactionQueue: string | undefined };
  /** Webhook subscribers of lifecycle events, when configured. */
  webhooks: { urls: string[]; secret: string } | undefined;
  logLevel: string;
  /** OTLP endpoint of traces, when tracing is on. */
  otlpEndpoint: string | undefined;
}

/** Thrown by loadConfig with one line per invalid variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The error for one invalid variable, in loadConfig's shape. */
const invalid = (variable: string, message: string) => new ConfigError(`Invalid configuration:\n  ${variable}: ${message}`);

/** Parses the environment once; fails naming each invalid variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.LAKE_CATALOG === 'postgres' && !e.LAKE_PG_DSN) {
    throw invalid('LAKE_PG_DSN', 'required when LAKE_CATALOG=postgres');
  }
  // A compactor writes the lake beside the workers: only the PostgreSQL catalog has several writing processes (two on
  // the SQLite catalog wait on its lock forever: seen in the memory benchmark).
  if (e.LAKE_COMPACTION_TASK_QUEUE && e.LAKE_CATALOG !== 'postgres')
    throw invalid(
      'LAKE_COMPACTION_TASK_QUEUE',
      `a compactor writes the lake beside the workers, which needs LAKE_CATALOG=postgres (the ${e.LAKE_CATALOG} catalog has one writing process)`,
    );
  const auth = apiAuth(e);
  const webhookUrls = (e.WEBHOOK_URLS ?? '').split(/[\s,]+/).filter(Boolean);
  for (const u of webhookUrls) {
    if (!z.string().url().safeParse(u).success || !/^https?:/.test(u))
      throw invalid('WEBHOOK_URLS', `${JSON.stringify(u)} is not an http(s) URL`);
  }
  if (webhookUrls.length && !e.WEBHOOK_SECRET) throw invalid('WEBHOOK_SECRET', 'required with WEBHOOK_URLS');
  let codecKeys: CodecKey[] | undefined;
  try {
    codecKeys = e.PAYLOAD_KEYS ? parseCodecKeys(e.PAYLOAD_KEYS) : undefined;
  } catch (err) {
    throw invalid('PAYLOAD_KEYS', (err as Error).message);
  }
  let connection: TemporalConnection;
  try {
    connection = temporalConnection(env);
  } catch (err) {
    throw invalid('TEMPORAL_TLS_* / TEMPORAL_CONFIG_FILE', (err as Error).message);
  }
  const dataDir = resolve(e.DATA_DIR);
  const dataPath = e.LAKE_DATA_PATH ?? `${dataDir}/lake-files/`;
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL,
      codecKeys: codecKeys?.length ? codecKeys : undefined,
      idKey: e.WORKFLOW_ID_KEY,
      connection,
    },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      auth,
      metricsPort: e.METRICS_PORT,
      fleetMaxConcurrency: e.FLEET_MAX_CONCURRENCY,
      stallAfterMs: everyToMs(e.EXTRACT_STALL_AFTER),
      push: pushOf(e),
    },
    dataDir,
    lake: {
      catalog: e.LAKE_CATALOG,
      catalogPath: resolve(e.LAKE_CATALOG_PATH ?? `${dataDir}/${e.LAKE_CATALOG === 'duckdb' ? 'lake.ducklake' : 'lake.sqlite'}`),
      pgDsn: e.LAKE_PG_DSN,
      dataPath: dataPath.startsWith('s3://') ? dataPath : resolve(dataPath) + '/',
      encrypted: e.LAKE_ENCRYPTED,
      stagingDir: resolve(e.LAKE_STAGING_DIR ?? `${dataDir}/staging`),
      extensionDir: resolve(e.DUCKDB_EXTENSION_DIR),
      memoryLimit: e.LAKE_MEMORY_LIMIT,
      compactorMemoryLimit: e.LAKE_COMPACTOR_MEMORY_LIMIT,
      threads: e.LAKE_THREADS,
      renewAfterWrites: e.LAKE_RENEW_AFTER_WRITES,
      tempDir: resolve(`${dataDir}/duckdb-tmp`),
      snapshotRetentionDays: e.LAKE_SNAPSHOT_RETENTION_DAYS,
      searchIndexPath:
        e.SEARCH_INDEX === 'on' || (e.SEARCH_INDEX === 'auto' && !e.LAKE_ENCRYPTED)
          ? resolve(e.SEARCH_INDEX_PATH ?? `${dataDir}/search-index.sqlite`)
          : undefined,
      s3: s3Of(e),
    },
    gmail: {
      ...googleEndpoints(e.GOOGLE_API_URL),
      directoryAdmin: e.GMAIL_DIRECTORY_ADMIN,
      credentialsFile: e.GMAIL_CREDENTIALS_FILE,
      credentialsDir: resolve(e.GMAIL_CREDENTIALS_DIR ?? join(homeOf({ GMAIL_LAKE_HOME: e.GMAIL_LAKE_HOME }), 'credentials')),
      quota: { profile: e.GMAIL_QUOTA_PROFILE, share: e.GMAIL_QUOTA_SHARE },
      project: { name: e.GMAIL_PROJECT, units: e.GMAIL_PROJECT_QUOTA_UNITS, windowSeconds: e.GMAIL_PROJECT_QUOTA_WINDOW_SECONDS },
      fetchConcurrency: e.GMAIL_FETCH_CONCURRENCY,
      pushTopic: e.GMAIL_PUSH_TOPIC,
      messageMemory: e.GMAIL_MESSAGE_MEMORY_MB * 1024 * 1024,
      requestAttempts: e.GMAIL_REQUEST_ATTEMPTS,
      quarantineAfter: e.GMAIL_QUARANTINE_AFTER,
      attachmentContent: e.ATTACHMENTS === 'content',
      importDirs: e.IMPORT_DIRS,
    },
    pipeline: { depth: e.EXTRACT_PIPELINE_DEPTH, compactEvery: e.LAKE_COMPACT_EVERY, compactionQueue: e.LAKE_COMPACTION_TASK_QUEUE },
    webhooks: webhookUrls.length ? { urls: webhookUrls, secret: e.WEBHOOK_SECRET! } : undefined,
    logLevel: e.LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}

/** The push endpoint's settings: both or neither of GMAIL_PUSH_AUDIENCE and GMAIL_PUSH_SERVICE_ACCOUNT. */
function pushOf(e: z.output<typeof envSchema>): Config['api']['push'] {
  if (!e.GMAIL_PUSH_AUDIENCE && !e.GMAIL_PUSH_SERVICE_ACCOUNT) return undefined;
  if (!e.GMAIL_PUSH_AUDIENCE || !e.GMAIL_PUSH_SERVICE_ACCOUNT)
    throw invalid(
      e.GMAIL_PUSH_AUDIENCE ? 'GMAIL_PUSH_SERVICE_ACCOUNT' : 'GMAIL_PUSH_AUDIENCE',
      'set both GMAIL_PUSH_AUDIENCE and GMAIL_PUSH_SERVICE_ACCOUNT (whose push tokens /push/gmail accepts), or neither',
    );
  return {
    audience: e.GMAIL_PUSH_AUDIENCE,
    serviceAccount: e.GMAIL_PUSH_SERVICE_ACCOUNT.toLowerCase(),
    certsUrl: googleEndpoints(e.GOOGLE_API_URL).certsUrl,
  };
}

/** S3 as the AWS SDKs read it: the endpoint URL (its scheme says TLS), the region, the keys when given. */
function s3Of(e: z.output<typeof envSchema>): LakeConfig['s3'] {
  const url = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  const endpoint = url ? new URL(url) : undefined;
  if (!!e.AWS_ACCESS_KEY_ID !== !!e.AWS_SECRET_ACCESS_KEY)
    throw invalid(
      e.AWS_ACCESS_KEY_ID ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID',
      'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither',
    );
  return {
    endpoint: endpoint?.host,
    region: e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
    keyId: e.AWS_ACCESS_KEY_ID,
    secret: e.AWS_SECRET_ACCESS_KEY,
    sessionToken: e.AWS_SESSION_TOKEN,
    urlStyle: e.S3_URL_STYLE,
    useSsl: endpoint ? endpoint.protocol === 'https:' : true,
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** The API's keys, or none when API_AUTH=off — allowed only on a loopback address, where no one else can connect. */
function apiAuth(e: z.output<typeof envSchema>): Config['api']['auth'] {
  if (e.API_AUTH === 'off') {
    if (!LOOPBACK.test(e.API_HOST)) throw invalid('API_AUTH', `off only with a loopback API_HOST (127.0.0.1, ::1), not ${e.API_HOST}`);
    return undefined;
  }
  let keys;
  try {
    keys = parseApiKeys(e.API_KEYS ?? '');
  } catch (err) {
    throw invalid('API_KEYS', (err as Error).message);
  }
  return { keys, ratePerMinute: e.API_RATE_LIMIT };
}

/** A process that serves the API needs a key to admit anyone (workers alone need none). */
export function assertApiKeys(config: Config): void {
  if (config.api.auth && config.api.auth.keys.length === 0) {
    throw invalid(
      'API_KEYS',
      'required to serve the API — create a key with `npm run key -- --name <you> --scope admin` (or API_AUTH=off on localhost)',
    );
  }
}
