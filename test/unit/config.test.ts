import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

test('defaults: local SQLite catalog under ./data, legacy quota, gmail-extract task queue', () => {
  const c = loadConfig({});
  assert.equal(c.temporal.taskQueue, 'gmail-extract');
  assert.equal(c.lake.catalog, 'sqlite');
  assert.match(c.lake.catalogPath, /data\/lake\.sqlite$/);
  assert.match(loadConfig({ LAKE_CATALOG: 'duckdb' }).lake.catalogPath, /data\/lake\.ducklake$/);
  assert.match(c.lake.dataPath, /data\/lake-files\/$/);
  assert.equal(c.gmail.quota.profile, 'legacy');
});

test('invalid values fail at start naming each variable', () => {
  assert.throws(
    () => loadConfig({ API_PORT: 'http', GMAIL_QUOTA_PROFILE: 'fast', LAKE_ENCRYPTED: 'yes' }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      for (const name of ['API_PORT', 'GMAIL_QUOTA_PROFILE', 'LAKE_ENCRYPTED']) assert.match(e.message, new RegExp(name));
      return true;
    },
  );
});

test('a PostgreSQL catalog needs its DSN; s3 data paths are kept as URLs', () => {
  assert.throws(() => loadConfig({ LAKE_CATALOG: 'postgres' }), /LAKE_PG_DSN/);
  const c = loadConfig({
    LAKE_CATALOG: 'postgres',
    LAKE_PG_DSN: 'host=db dbname=lake',
    LAKE_DATA_PATH: 's3://bucket/lake/',
    LAKE_ENCRYPTED: 'true',
  });
  assert.equal(c.lake.dataPath, 's3://bucket/lake/');
  assert.equal(c.lake.encrypted, true);
});

test("a compactors' task queue: with the PostgreSQL catalog only (the embedded ones have one writing process)", () => {
  assert.equal(loadConfig({}).pipeline.compactionQueue, undefined, 'unset: each run compacts on its own task queue');
  for (const LAKE_CATALOG of ['sqlite', 'duckdb'])
    assert.throws(
      () => loadConfig({ LAKE_CATALOG, LAKE_COMPACTION_TASK_QUEUE: 'c' }),
      /LAKE_COMPACTION_TASK_QUEUE: .*LAKE_CATALOG=postgres/,
    );
  const c = loadConfig({ LAKE_CATALOG: 'postgres', LAKE_PG_DSN: 'host=db dbname=lake', LAKE_COMPACTION_TASK_QUEUE: 'compactions' });
  assert.equal(c.pipeline.compactionQueue, 'compactions');
});

test('API keys: required where the API is served, validated; API_AUTH=off only on loopback', async () => {
  const { assertApiKeys } = await import('../../src/config.js');
  const { generateApiKey } = await import('../../src/api-keys.js');
  assert.throws(
    () => assertApiKeys(loadConfig({})),
    (e: Error) => e instanceof ConfigError && /API_KEYS: required.*npm run key/.test(e.message),
  );
  const { entry } = generateApiKey('ops', 'admin');
  const c = loadConfig({ API_KEYS: entry, API_RATE_LIMIT: '30' });
  assertApiKeys(c);
  assert.equal(c.api.auth?.keys[0]?.name, 'ops');
  assert.equal(c.api.auth?.ratePerMinute, 30);
  assert.throws(() => loadConfig({ API_KEYS: 'ops:admin:abc' }), /API_KEYS: entry 1/);
  assert.equal(loadConfig({ API_AUTH: 'off' }).api.auth, undefined);
  assertApiKeys(loadConfig({ API_AUTH: 'off' }));
  assert.throws(() => loadConfig({ API_AUTH: 'off', API_HOST: '0.0.0.0' }), /API_AUTH: off only with a loopback API_HOST/);
});

test('docs/configuration.md carries the table generated from the schema (npm run docs:config)', async () => {
  const { readFileSync } = await import('node:fs');
  const { CONFIG_TABLE_BEGIN, CONFIG_TABLE_END, configurationTable } = await import('../../src/config-docs.js');
  const { format, resolveConfig } = await import('prettier');
  const file = new URL('../../docs/configuration.md', import.meta.url);
  const doc = readFileSync(file, 'utf8');
  const inDoc = doc.slice(doc.indexOf(CONFIG_TABLE_BEGIN) + CONFIG_TABLE_BEGIN.length, doc.indexOf(CONFIG_TABLE_END)).trim();
  const generated = (await format(configurationTable(), { ...(await resolveConfig(file)), parser: 'markdown' })).trim();
  assert.equal(inDoc, generated, 'run npm run docs:config');
});

test("Temporal's connection: TLS and an API key from the SDK's variables, none by default, a missing certificate named", () => {
  assert.deepEqual(loadConfig({}).temporal.connection, {});
  const cloud = loadConfig({ TEMPORAL_API_KEY: 'k-123' }).temporal.connection;
  assert.deepEqual(cloud, { tls: true, apiKey: 'k-123' }, 'an API key turns TLS on, as Temporal Cloud needs');
  assert.equal(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.connection.tls !== undefined, true);
  assert.throws(
    () => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/nonexistent/client.key' }),
    /TEMPORAL_TLS_\* \/ TEMPORAL_CONFIG_FILE: .*nonexistent/,
  );
});

test("S3 from the AWS SDKs' variables: the endpoint URL says host and TLS, the region falls back, keys come in pairs", () => {
  const s3 = loadConfig({
    AWS_ENDPOINT_URL: 'http://other:1',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000',
    AWS_DEFAULT_REGION: 'eu-west-3',
  }).lake.s3;
  assert.deepEqual([s3.endpoint, s3.useSsl, s3.region, s3.keyId], ['127.0.0.1:9000', false, 'eu-west-3', undefined]);
  const aws = loadConfig({ AWS_REGION: 'us-west-2', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }).lake
    .s3;
  assert.deepEqual(
    [aws.endpoint, aws.useSsl, aws.region, aws.keyId, aws.secret, aws.sessionToken],
    [undefined, true, 'us-west-2', 'AKIA', 's', 't'],
  );
  assert.throws(() => loadConfig({ AWS_ACCESS_KEY_ID: 'AKIA' }), /AWS_SECRET_ACCESS_KEY: set both/);
});

test("the command's lake config finds the checkout's DuckDB extensions from any working folder", async () => {
  const { Home } = await import('../../src/cli/settings.js');
  const { projectRoot } = await import('../../src/stack/tools.js');
  const path = await import('node:path');
  const home = new Home({ GMAIL_LAKE_HOME: '/tmp/gmail-lake-home-test' });
  assert.equal(home.pipelineConfig().lake.extensionDir, path.join(projectRoot, '.tools/duckdb-extensions'));
  const set = new Home({ GMAIL_LAKE_HOME: '/tmp/gmail-lake-home-test', DUCKDB_EXTENSION_DIR: '/opt/ext' });
  assert.equal(set.pipelineConfig().lake.extensionDir, '/opt/ext');
});

test('the search index sits in DATA_DIR; an encrypted lake gets none unless asked (its words would be in the clear)', () => {
  assert.match(loadConfig({}).lake.searchIndexPath!, /data\/search-index\.sqlite$/);
  assert.equal(loadConfig({ SEARCH_INDEX: 'off' }).lake.searchIndexPath, undefined);
  assert.equal(loadConfig({ LAKE_ENCRYPTED: 'true' }).lake.searchIndexPath, undefined);
  assert.equal(
    loadConfig({ LAKE_ENCRYPTED: 'true', SEARCH_INDEX: 'on', SEARCH_INDEX_PATH: '/x/i.sqlite' }).lake.searchIndexPath,
    '/x/i.sqlite',
  );
});

test('Gmail push: a topic of the right shape; audience and service account both or neither; certs from the Google root', () => {
  assert.equal(loadConfig({}).api.push, undefined);
  assert.equal(loadConfig({}).gmail.pushTopic, undefined);
  assert.throws(() => loadConfig({ GMAIL_PUSH_TOPIC: 'gmail-lake' }), /GMAIL_PUSH_TOPIC.*projects\/<project>\/topics\/<topic>/);
  assert.throws(() => loadConfig({ GMAIL_PUSH_AUDIENCE: 'https://lake.example.com/push/gmail' }), /GMAIL_PUSH_SERVICE_ACCOUNT: set both/);
  assert.throws(() => loadConfig({ GMAIL_PUSH_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com' }), /GMAIL_PUSH_AUDIENCE: set both/);
  const c = loadConfig({
    GMAIL_PUSH_TOPIC: 'projects/p/topics/gmail',
    GMAIL_PUSH_AUDIENCE: 'https://lake.example.com/push/gmail',
    GMAIL_PUSH_SERVICE_ACCOUNT: 'Push@p.iam.gserviceaccount.com',
  });
  assert.equal(c.gmail.pushTopic, 'projects/p/topics/gmail');
  assert.deepEqual(c.api.push, {
    audience: 'https://lake.example.com/push/gmail',
    serviceAccount: 'push@p.iam.gserviceaccount.com',
    certsUrl: 'https://www.googleapis.com/oauth2/v1/certs',
  });
  const emulated = loadConfig({ GOOGLE_API_URL: 'http://127.0.0.1:8085', GMAIL_PUSH_AUDIENCE: 'a', GMAIL_PUSH_SERVICE_ACCOUNT: 'p@x.com' });
  assert.equal(emulated.api.push?.certsUrl, 'http://127.0.0.1:8085/oauth2/v1/certs');
});
