import { z } from 'zod';

/** Quota profiles of Gmail (see shared GMAIL-API.md); costs are configuration because Google changes them. */
export const QUOTA_PROFILES = {
  legacy: {
    unitsPerWindow: 250,
    windowSeconds: 1,
    costs: { get: 5, thread: 10, list: 5, history: 2, profile: 1, labels: 1, attachment: 5, watch: 100, stop: 50 },
  },
  '2026': {
    unitsPerWindow: 6000,
    windowSeconds: 60,
    costs: { get: 20, thread: 40, list: 5, history: 2, profile: 1, labels: 1, attachment: 20, watch: 100, stop: 50 },
  },
  off: {
    unitsPerWindow: 0,
    windowSeconds: 1,
    costs: { get: 0, thread: 0, list: 0, history: 0, profile: 0, labels: 0, attachment: 0, watch: 0, stop: 0 },
  },
} as const;
export type QuotaProfileName = keyof typeof QUOTA_PROFILES;

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A DuckDB memory size (`memory_limit`), `example` in the message of a value that is not one. */
const memorySize = (example: string) => z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, example);

/** Environment variables, each with its default. The README's configuration table mirrors this schema. */
export const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233').describe('Temporal frontend address.'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace.'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('gmail-extract').describe('Task queue of the extraction workflow and its activities.'),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233').describe('Web UI base URL printed in links.'),
  TEMPORAL_API_KEY: z
    .string()
    .optional()
    .describe(
      'API key sent to Temporal (Temporal Cloud); turns TLS on. Read with the other TEMPORAL_* connection settings by `@temporalio/envconfig`, which also reads a profile of `temporal.toml` (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE). Unset: none.',
    ),
  TEMPORAL_TLS: bool
    .optional()
    .describe('TLS to Temporal on (`true`) or off (`false`); on by itself when a TEMPORAL_TLS_* file or TEMPORAL_API_KEY is set.'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z
    .string()
    .optional()
    .describe("PEM file of the CA that signed Temporal's certificate (a private CA). Unset: the system's CAs."),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z
    .string()
    .optional()
    .describe('PEM certificate of this process for mutual TLS (with TEMPORAL_TLS_CLIENT_KEY_PATH; Temporal Cloud mTLS).'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional().describe('PEM private key of TEMPORAL_TLS_CLIENT_CERT_PATH.'),
  TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .optional()
    .describe("Name expected in Temporal's certificate when it differs from the address's host."),
  PAYLOAD_KEYS: z
    .string()
    .optional()
    .describe(
      'Keys of the Temporal payload codec (AES-256-GCM) as `id:base64` entries, comma-separated, the encrypting one first (`npm run key -- --payload`). Set on the API and every worker: payloads, memos and failure messages in Temporal history are then encrypted. Unset: payloads in clear.',
    ),
  WORKFLOW_ID_KEY: z
    .string()
    .min(16)
    .optional()
    .describe(
      "Key (16+ characters) of the mailbox digests in workflow and schedule ids: set, ids carry `h<digest>` instead of the address (Temporal keeps ids in clear, in history too). Set it with PAYLOAD_KEYS, on the API and every worker, before the first extraction, and never change it: a mailbox's id is what gives it one writer.",
    ),
  METRICS_PORT: int(1, 65535)
    .optional()
    .describe(
      'Port of a plain `/metrics` endpoint (no key) in a process that serves no API (`npm run worker`), for a scraper inside the cluster; where the API runs, its `/metrics` serves the same. Unset: none.',
    ),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .url()
    .optional()
    .describe(
      'OTLP/HTTP endpoint of a trace collector (e.g. http://collector:4318): traces are exported to <endpoint>/v1/traces. Unset: no tracing.',
    ),
  WEBHOOK_URLS: z
    .string()
    .optional()
    .describe('Webhook subscribers of extraction lifecycle events (CloudEvents 1.0, signed), comma-separated URLs. Unset: none.'),
  WEBHOOK_SECRET: z
    .string()
    .min(16)
    .refine((s) => !s.startsWith('whsec_') || (/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s) && Buffer.from(s.slice(6), 'base64').length >= 16), {
      message: 'a whsec_ secret is whsec_ and base64 of 16 or more bytes, as Standard Webhooks issues them',
    })
    .optional()
    .describe(
      "HMAC-SHA256 key the webhook signature is made with; required with WEBHOOK_URLS. `whsec_<base64>` as Standard Webhooks issues them (the key is the decoded bytes: subscribers verify with `new Webhook(secret)`), or any other 16+ characters used as they are (`new Webhook(secret, { format: 'raw' })`).",
    ),
  API_HOST: z.string().default('127.0.0.1').describe('HTTP API bind address.'),
  API_PORT: int(0, 65535).default(3000).describe('HTTP API port.'),
  API_KEYS: z
    .string()
    .optional()
    .describe(
      'API keys as `name:scope:sha256hex` entries (comma- or space-separated; scope `read` or `admin`); `npm run key` prints a new key and its entry. Required unless API_AUTH=off.',
    ),
  API_AUTH: z
    .enum(['keys', 'off'])
    .default('keys')
    .describe('`keys` (every route but /healthz, /readyz, /openapi.json and /docs needs a key) or `off` (loopback API_HOST only).'),
  API_RATE_LIMIT: int(0, 1_000_000)
    .default(600)
    .describe('Requests per minute per API key (0 = unlimited); over it → 429 with Retry-After.'),
  FLEET_MAX_CONCURRENCY: int(1, 500)
    .default(50)
    .describe('The most mailboxes one fleet may extract at once (`concurrency` above it is refused with 400).'),
  DATA_DIR: z.string().default('data').describe('Root of local state (Temporal SQLite file, lake files, staging).'),
  LAKE_CATALOG: z
    .enum(['sqlite', 'duckdb', 'postgres'])
    .default('sqlite')
    .describe(
      "Lake catalog kind: `sqlite` (a file on a local disk, in SQLite's WAL mode, that other processes — the DuckDB CLI, Python — can read while the pipeline writes), `duckdb` (a local DuckDB file: one process at a time, readers included) or `postgres` (many writers on many hosts).",
    ),
  LAKE_CATALOG_PATH: z
    .string()
    .optional()
    .describe(
      'Catalog file when LAKE_CATALOG=sqlite or duckdb. Default $DATA_DIR/lake.sqlite (sqlite) or $DATA_DIR/lake.ducklake (duckdb).',
    ),
  LAKE_PG_DSN: z
    .string()
    .optional()
    .describe('libpq connection string of the catalog when LAKE_CATALOG=postgres, e.g. `host=db dbname=lake user=lake`.'),
  LAKE_DATA_PATH: z
    .string()
    .optional()
    .describe('Where Parquet data files go: a local folder or s3://bucket/prefix/. Default $DATA_DIR/lake-files/.'),
  LAKE_ENCRYPTED: bool.default(false).describe('Encrypt data files (DuckLake ENCRYPTED).'),
  AWS_ENDPOINT_URL_S3: z
    .string()
    .url()
    .optional()
    .describe(
      'URL of an S3-compatible server (e.g. http://minio:9000) for an s3:// LAKE_DATA_PATH; http: turns TLS off. Unset: AWS_ENDPOINT_URL, then AWS S3.',
    ),
  AWS_ENDPOINT_URL: z
    .string()
    .url()
    .optional()
    .describe("The AWS SDKs' endpoint for every service, used for S3 when AWS_ENDPOINT_URL_S3 is unset."),
  AWS_REGION: z.string().optional().describe('Region of the S3 data files. Unset: AWS_DEFAULT_REGION, then us-east-1.'),
  AWS_DEFAULT_REGION: z.string().optional().describe('Region, when AWS_REGION is unset.'),
  AWS_ACCESS_KEY_ID: z
    .string()
    .optional()
    .describe(
      'S3 access key id (with AWS_SECRET_ACCESS_KEY). Unset: the AWS credential chain (the shared credentials file, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE).',
    ),
  AWS_SECRET_ACCESS_KEY: z.string().optional().describe('S3 secret key (with AWS_ACCESS_KEY_ID).'),
  AWS_SESSION_TOKEN: z.string().optional().describe('Session token of temporary credentials (with the two above).'),
  S3_URL_STYLE: z
    .enum(['path', 'vhost'])
    .default('path')
    .describe('S3 URL style: `path` for MinIO and most S3-compatible servers, `vhost` for AWS.'),
  LAKE_STAGING_DIR: z.string().optional().describe('Folder of staged batches between fetch and persist. Default $DATA_DIR/staging.'),
  LAKE_MEMORY_LIMIT: memorySize('e.g. 256MB or 1GiB')
    .default('256MB')
    .describe("DuckDB memory limit of a worker's lake connection (DuckDB's own default is 80% of RAM)."),
  LAKE_COMPACTOR_MEMORY_LIMIT: memorySize('e.g. 1GB or 2GiB')
    .default('1GB')
    .describe(
      "DuckDB memory limit of a compactor's (`npm run compactor`) merges, one at a time on one thread. Above a worker's: merging a lake's files at 256 MB failed now and then with \"Out of Memory\" (a compaction that fails is skipped and its files wait for the next one).",
    ),
  LAKE_THREADS: int(1, 64).default(2).describe("DuckDB threads of a worker's lake connection."),
  LAKE_RENEW_AFTER_WRITES: int(0, 1_000_000)
    .default(0)
    .describe(
      "A process that writes the lake replaces its DuckDB instance with a fresh one after this many commits (a batch is one commit; 0, the default: never; never with the DuckDB-file catalog, which one instance locks). What an instance keeps grows with the lake (DuckLake's view of the catalog, cached data files): without renewal a worker grew ~100 MB per 100,000 messages backfilled, with 100 it stayed flat through 1,000,000 on a PostgreSQL catalog and 500,000 on S3 (docs/benchmarks.md). Queries running on the old instance finish there. Off by default: with it on, a small extraction's closing steps ran past 2 minutes in 3 of 4 fresh-clone CI runs of the fuzz test (SQLite catalog, API and worker in one process, dozens of fuzzer-started runs sharing the worker's lake), and once since with it off; not yet explained beyond that load.",
    ),
  DUCKDB_EXTENSION_DIR: z
    .string()
    .default('.tools/duckdb-extensions')
    .describe('DuckDB extension directory (ducklake, postgres_scanner, httpfs).'),
  GOOGLE_API_URL: z
    .string()
    .url()
    .optional()
    .describe(
      "One root for every Google endpoint the pipeline calls — Gmail (`gmail/v1/…`), OAuth (`token`, `revoke`, `o/oauth2/auth`) and the Admin SDK directory (`admin/directory/v1/…`) — for the emulator (`npm run emulator` prints it). Unset: Google's own hosts (gmail.googleapis.com, oauth2.googleapis.com, accounts.google.com, admin.googleapis.com).",
    ),
  GMAIL_LAKE_HOME: z
    .string()
    .optional()
    .describe(
      "Home of the `gmail-lake` command and of what `gmail-lake up` runs: its settings (`config.json`), the stored mailbox credentials (`credentials/`) and the local stack's data (`data/`). Default ~/.gmail-lake.",
    ),
  GMAIL_CREDENTIALS_DIR: z
    .string()
    .optional()
    .describe(
      'Folder of per-mailbox OAuth credentials (`<address>.json`, written by `gmail-lake login`): a worker serves every mailbox stored there. Default $GMAIL_LAKE_HOME/credentials.',
    ),
  GMAIL_CREDENTIALS_FILE: z
    .string()
    .optional()
    .describe(
      'A single credentials file: an "authorized_user" JSON (client_id, client_secret, refresh_token) for one mailbox, or a "service_account" key with domain-wide delegation for any mailbox of a Workspace domain. Per-mailbox credentials in GMAIL_CREDENTIALS_DIR come first.',
    ),
  GMAIL_DIRECTORY_ADMIN: z
    .string()
    .email()
    .optional()
    .describe("With a service account: the admin it acts as to list a domain's users (fleets by domain)."),
  GMAIL_QUOTA_PROFILE: z.enum(['legacy', '2026', 'off']).default('legacy').describe('Client-side quota budget: `legacy`, `2026` or `off`.'),
  GMAIL_QUOTA_SHARE: z.coerce.number().gt(0).max(1).default(0.97).describe('Share of the per-user quota the budget may spend (0–1).'),
  GMAIL_PROJECT_QUOTA_UNITS: z.coerce
    .number()
    .positive()
    .default(1_200_000)
    .describe(
      "Per-project quota, shared by every mailbox the credentials' Google Cloud project reads: units per window (Gmail: 1,200,000 per minute in both profiles). Enforced with the profile's costs at GMAIL_QUOTA_SHARE, booked in the PostgreSQL catalog when LAKE_CATALOG=postgres (all workers on all hosts), else per process.",
    ),
  GMAIL_PROJECT_QUOTA_WINDOW_SECONDS: z.coerce.number().positive().default(60).describe('Window of GMAIL_PROJECT_QUOTA_UNITS in seconds.'),
  GMAIL_PROJECT: z
    .string()
    .min(1)
    .max(200)
    .default('default')
    .describe("Name of the project's reservations in the catalog (one per Google Cloud project)."),
  GMAIL_PUSH_TOPIC: z
    .string()
    .regex(/^projects\/[^/]+\/topics\/[^/]+$/, 'projects/<project>/topics/<topic>')
    .optional()
    .describe(
      'Gmail push: the Cloud Pub/Sub topic (`projects/<project>/topics/<topic>`) each mailbox with a sync schedule is watched on (`users.watch`, renewed daily by its syncs). Unset: no watches; syncs run on their schedule only.',
    ),
  GMAIL_PUSH_AUDIENCE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Serve `POST /push/gmail`: the audience of the push subscription's OIDC tokens (as set on the subscription; Pub/Sub's default is the endpoint's URL). Requires GMAIL_PUSH_SERVICE_ACCOUNT. Unset: the endpoint answers 404.",
    ),
  GMAIL_PUSH_SERVICE_ACCOUNT: z
    .string()
    .email()
    .optional()
    .describe("The service account a push subscription's tokens are minted for (`email` of the token): no other is accepted."),
  GMAIL_FETCH_CONCURRENCY: int(1, 200).default(20).describe('Concurrent messages.get calls per batch.'),
  IMPORT_DIRS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean),
    )
    .refine((dirs) => dirs.every((d) => d.startsWith('/')), { message: 'absolute paths, comma-separated' })
    .describe(
      "Folders (absolute, comma-separated) the workers may import mbox files from (POST /imports, `gmail-lake import`): a path whose real location (links followed) is outside them is refused. Empty: any file the worker can read — set it wherever an admin key is held by someone who should not read the workers' files.",
    ),
  SEARCH_INDEX: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      "`auto` (default): `on`, unless LAKE_ENCRYPTED (the index holds the messages' words in the clear on the searching host's disk: `on` opts in). `on`: the processes that search the lake (the API, `gmail-lake search`, `mcp`) keep a full-text index of it (SQLite FTS5, at SEARCH_INDEX_PATH), brought up to the lake's newest snapshot through DuckLake's change feed before each search and every few seconds in the API: bare words then rank by relevance (BM25) and every query reads the index instead of every stored body. While it is first built, searches read the lake (newest first). `off`: searches always read the lake.",
    ),
  SEARCH_INDEX_PATH: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The search index's SQLite file (default DATA_DIR/search-index.sqlite): derived from the lake, deleted at will (it is built again).",
    ),
  ATTACHMENTS: z
    .enum(['metadata', 'content'])
    .default('metadata')
    .describe(
      "`content`: each attachment's bytes are stored too, once per mailbox and SHA-256 (table attachment_contents, in the lake's storage), and served by GET /messages/:account/:id/attachments/:partId. With format full they cost one messages.attachments.get each (5 quota units); with raw (and imports) they come from the message's bytes. `metadata`: names, types and sizes only.",
    ),
  GMAIL_MESSAGE_MEMORY_MB: int(16, 65536)
    .default(128)
    .describe(
      "Megabytes a worker spends at once on reading, parsing and staging messages (format raw; each counts four times its size, what parsing holds), over all its batches; a message larger than that goes alone. Bounds a worker's memory on mailboxes of large messages (Gmail's largest are ~35 MB, so at the default one is parsed at a time); their bytes stream to staging as they arrive.",
    ),
  GMAIL_REQUEST_ATTEMPTS: int(1, 50)
    .default(8)
    .describe('Attempts per Gmail request on transient errors (429, 403 rate limit, 5xx, network) before the activity fails.'),
  GMAIL_QUARANTINE_AFTER: int(1, 100)
    .default(3)
    .describe(
      "Attempts of a batch after which a message Gmail still refuses (400 or 5xx for that message, each attempt after GMAIL_REQUEST_ATTEMPTS requests) is recorded in the lake's failed_messages and the batch commits the rest; earlier attempts retry the whole batch. Never when Gmail refuses the mailbox itself (the profile check fails too).",
    ),
  EXTRACT_STALL_AFTER: z
    .string()
    .regex(/^[1-9]\d{0,6}(s|m|h)$/, { message: 'must be an interval like 90s, 10m or 1h' })
    .default('10m')
    .describe(
      'A running, unpaused extraction that has committed no batch for this long is reported `stalled` (GET /extract/:id, the CLI, /ui) with what its activities last failed with and the fix; with WEBHOOK_URLS, a `stalled` event is published once per stall (runs keep the value of the API that started them).',
    ),
  EXTRACT_PIPELINE_DEPTH: int(1, 16).default(2).describe('Batches fetched and persisted at once per extraction.'),
  LAKE_COMPACT_EVERY: int(0, 100000).default(50).describe('Compact the lake every N persisted batches (0 = only at the end).'),
  LAKE_COMPACTION_TASK_QUEUE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Task queue of the lake's compactions, served by `npm run compactor` (a process of its own, so a merge's memory never lands on the extraction workers; runs keep the value of the API that started them). Needs LAKE_CATALOG=postgres. A compaction no compactor takes within 5 minutes is skipped. Unset: each run compacts on its own task queue, in the workers.",
    ),
  LAKE_SNAPSHOT_RETENTION_DAYS: int(0, 36500)
    .default(7)
    .describe(
      'Days of lake snapshots kept for time travel (`AT (TIMESTAMP => …)`) and the change feed; compaction expires older ones and deletes the files only they used (merged batch files take disk space until then).',
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
});

export type Env = z.input<typeof envSchema>;
