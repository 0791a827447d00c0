import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import type { Config } from '../config.js';
import { loadCredentials } from '../gmail/auth.js';
import { Lake } from '../lake/lake.js';
import { redactedMessage } from '../redact.js';
import { checkToken } from './login.js';
import { CliError, EXIT, type Out } from './output.js';
import type { Home } from './settings.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed. */
  fix?: string;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms).unref()),
  ]);

async function check(name: string, run: () => Promise<{ detail: string } | { fail: string; fix: string }>): Promise<Check> {
  try {
    const r = await run();
    return 'fail' in r ? { name, ok: false, detail: r.fail, fix: r.fix } : { name, ok: true, detail: r.detail };
  } catch (e) {
    return { name, ok: false, detail: redactedMessage(e), fix: 'see the detail' };
  }
}

/** The nearest existing folder at or above `path` (staging may not exist yet). */
function existing(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * `doctor`: checks everything an extraction depends on and prints the fix for each failure — the API and its key,
 * Temporal, the lake's catalog and data files, each signed-in mailbox's token (a refresh at Google), the credentials
 * file, the quota settings, the clock against Google's, and free disk for staging.
 */
export async function doctor(home: Home, out: Out): Promise<number> {
  let config: Config;
  try {
    config = home.pipelineConfig();
  } catch (e) {
    throw new CliError(redactedMessage(e), EXIT.usage);
  }
  const google = home.google();
  const { url: apiUrl, key } = home.api();
  const checks: Promise<Check>[] = [
    check('API', async () => {
      if (!apiUrl)
        return { fail: 'no API configured', fix: 'start the local stack with `gmail-lake up`, or `gmail-lake config set api-url URL`' };
      const health = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
      if (health instanceof Error)
        return {
          fail: `cannot reach ${apiUrl} (${(health.cause as { code?: string })?.code ?? health.message})`,
          fix: 'start it with `gmail-lake up`',
        };
      const keyed = await fetch(`${apiUrl}/extract`, {
        headers: key ? { authorization: `Bearer ${key}` } : {},
        signal: AbortSignal.timeout(10_000),
      });
      if (keyed.status === 401 || keyed.status === 403)
        return {
          fail: `${apiUrl} refuses the command's key (HTTP ${keyed.status})`,
          fix: 'set the right key: `gmail-lake config set api-key KEY`',
        };
      return { detail: `${apiUrl} answers; the key is accepted` };
    }),
    check('Temporal', async () => {
      const address = config.temporal.address;
      try {
        const c = await withTimeout(Connection.connect({ address, connectTimeout: 3000 }), 5000, `Temporal at ${address}`);
        await withTimeout(c.workflowService.getSystemInfo({}), 5000, `Temporal at ${address}`);
        await c.close();
        return { detail: `${address} answers (namespace ${config.temporal.namespace})` };
      } catch (e) {
        return {
          fail: `no Temporal server answers at ${address}: ${redactedMessage(e).split('\n')[0]}`,
          fix: home.stack() ? 'start the stack again: `gmail-lake up`' : 'start one with `gmail-lake up`, or set TEMPORAL_ADDRESS',
        };
      }
    }),
    check('lake', async () => {
      const lake = await Lake.openReadOnly(config.lake).catch((e: Error) => e);
      if (lake instanceof Error)
        return /no lake at/.test(lake.message)
          ? { detail: `${lake.message} (nothing to check until then)` }
          : {
              fail: lake.message,
              fix:
                config.lake.catalog === 'postgres'
                  ? 'check LAKE_PG_DSN (host, database, password in PGPASSFILE/PGPASSWORD) and that PostgreSQL runs'
                  : `check that ${config.lake.catalogPath} is readable`,
            };
      try {
        const [runs] = await lake.query<{ n: number; files: number }>(
          `SELECT (SELECT count(*) FROM extraction_runs)::INTEGER AS n, (SELECT count(*) FROM ducklake_list_files('lake', 'messages'))::INTEGER AS files`,
        );
        return {
          detail: `${config.lake.catalog} catalog ${config.lake.catalog === 'postgres' ? '(PostgreSQL)' : config.lake.catalogPath}: ${runs?.n ?? 0} extraction runs, ${runs?.files ?? 0} data files under ${config.lake.dataPath}`,
        };
      } catch (e) {
        return {
          fail: `the catalog opens but its data cannot be read: ${redactedMessage(e)}`,
          fix: config.lake.dataPath.startsWith('s3://')
            ? 'check AWS_ENDPOINT_URL_S3 and the S3 credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the shared credentials file)'
            : `check ${config.lake.dataPath}`,
        };
      } finally {
        lake.close();
      }
    }),
    ...home.credentials.accounts().map((account) =>
      check(`account ${account}`, async () => {
        const stored = home.credentials.read(account)!;
        const { state, detail } = await checkToken(google, stored.credentials);
        if (state === 'valid') return { detail: `its refresh token works (signed in ${stored.credentials.created ?? '?'})` };
        return {
          fail: `${state}: ${detail ?? ''}`,
          fix:
            state === 'unknown'
              ? `Google's token endpoint ${google.tokenUrl} cannot be reached: check the network`
              : `sign it in again: \`gmail-lake login ${account}\`${state === 'client refused' ? ' --client-file NEW_CLIENT_FILE' : ''}`,
        };
      }),
    ),
    ...(config.gmail.credentialsFile
      ? [
          check('credentials file', async () => {
            const c = loadCredentials(config.gmail.credentialsFile!);
            return {
              detail: `${config.gmail.credentialsFile}: ${c.type === 'service_account' ? `service account ${c.client_email}` : 'one user (authorized_user)'}`,
            };
          }),
        ]
      : []),
    check('quota', async () => {
      const { profile, share } = config.gmail.quota;
      if (profile === 'off' && !home.env.GOOGLE_API_URL && !home.stack()?.googleApiUrl)
        return {
          fail: 'GMAIL_QUOTA_PROFILE=off against Google: the pipeline would not pace itself and Gmail answers 403 rate limits',
          fix: 'set GMAIL_QUOTA_PROFILE=legacy (projects active before May 2026) or 2026',
        };
      return {
        detail: `profile ${profile}, spending ${Math.round(share * 100)}% of the per-user quota; project quota ${config.gmail.project.units} units per ${config.gmail.project.windowSeconds} s`,
      };
    }),
    check('clock', async () => {
      const t0 = Date.now();
      const res = await fetch(google.tokenUrl, { method: 'HEAD', signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
      if (res instanceof Error)
        return {
          fail: `cannot reach ${google.tokenUrl} to compare clocks: ${res.message}`,
          fix: 'check the network (Google must be reachable)',
        };
      const date = res.headers.get('date');
      if (!date) return { detail: `${new URL(google.tokenUrl).host} sent no Date header; skew unknown` };
      const skew = (Date.parse(date) - (t0 + Date.now()) / 2) / 1000;
      // Dates have a resolution of a second; tokens and signed assertions tolerate a few minutes at most.
      if (Math.abs(skew) > 60)
        return {
          fail: `this clock is ${Math.abs(skew).toFixed(0)} s ${skew > 0 ? 'behind' : 'ahead of'} Google's`,
          fix: 'synchronise it (NTP: `timedatectl set-ntp true`)',
        };
      return { detail: `within ${Math.max(1, Math.ceil(Math.abs(skew)))} s of ${new URL(google.tokenUrl).host}` };
    }),
    check('staging disk', async () => {
      const at = existing(config.lake.stagingDir);
      const s = statfsSync(at);
      const free = (s.bavail * s.bsize) / 2 ** 30;
      if (free < 1)
        return {
          fail: `${free.toFixed(2)} GiB free under ${at}`,
          fix: 'free space there, or point LAKE_STAGING_DIR at a larger disk (batches stage up to ~100 MB each)',
        };
      return { detail: `${free.toFixed(1)} GiB free under ${at}` };
    }),
  ];
  const results = await Promise.all(checks);
  const failed = results.filter((r) => !r.ok);
  out.result({ ok: failed.length === 0, checks: results }, () => {
    for (const r of results) {
      out.line(`${r.ok ? '✔' : '✘'} ${r.name.padEnd(14)} ${r.detail}`);
      if (!r.ok && r.fix) out.line(`  ${''.padEnd(14)} fix: ${r.fix}`);
    }
    out.line(failed.length ? `\n${failed.length} of ${results.length} checks failed.` : `\nAll ${results.length} checks passed.`);
  });
  return failed.length ? EXIT.failed : EXIT.ok;
}
