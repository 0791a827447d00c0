import { setTimeout as delay } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { MailboxView } from '../api/mailboxes.js';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT, type Out, plural, pollUntilEnded, table } from './output.js';
import type { Home } from './settings.js';
import type { ExtractionProgress } from '../workflows/contracts.js';

const n = (v: number) => v.toLocaleString('en-US');
const duration = (s: number | null) =>
  s === null ? '—' : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;
const done = (p: ExtractionProgress) => p.progress.persisted + p.progress.present + p.progress.skipped + p.progress.failed;
const closed = (p: ExtractionProgress) => !['running', 'paused', 'pausing'].includes(p.status);

/**
 * The mailbox a command names: the address given, else the one signed-in mailbox. Against the local stack, a mailbox
 * with no stored credentials is refused with the signed-in ones listed (a remote deployment may hold credentials this
 * machine lacks: there the address goes to the API as it is).
 */
export function mailboxOf(home: Home, address: string | undefined, needsCredentials: boolean): string {
  const known = home.credentials.accounts();
  if (!address) {
    if (known.length === 1) return known[0]!;
    throw new CliError(
      known.length
        ? `name the mailbox: signed in are ${known.join(', ')}`
        : 'no mailbox is signed in: run `gmail-lake login --client-file client_secret.json` first (or name a mailbox the deployment has credentials for)',
      EXIT.usage,
    );
  }
  const account = address.trim().toLowerCase();
  const stack = home.stack();
  const local = stack?.apiUrl && stack.apiUrl === home.api().url;
  if (
    needsCredentials &&
    local &&
    !stack.credentialsFile &&
    account !== 'me' &&
    !known.includes(account) &&
    !home.env.GMAIL_CREDENTIALS_FILE
  )
    throw new CliError(
      `${account} is not signed in${known.length ? ` (signed in: ${known.join(', ')})` : ''} — run \`gmail-lake login ${account}\``,
      EXIT.usage,
    );
  return account;
}

/** The extraction (backfill) of a mailbox: its id from GET /mailboxes/{account}. */
export async function extractionOf(api: ApiClient, account: string): Promise<string> {
  const { body } = await api.call<MailboxView>('GET', `/mailboxes/${encodeURIComponent(account)}`);
  if (!body.backfill) throw new CliError(`${account} has no extraction yet: start one with \`gmail-lake extract ${account}\``, EXIT.usage);
  return body.backfill.id;
}

/** What an extraction request may say, for `extract` and `fleet start` alike. */
export interface RequestOptions {
  query?: string;
  labels?: string[];
  format?: string;
  includeSpamTrash?: boolean;
  batchSize?: number;
  max?: number;
}

export interface ExtractOptions extends RequestOptions {
  keepInSync?: string;
  detach?: boolean;
}

/** `extract`: starts (or joins) the mailbox's extraction, then follows it until it ends or Ctrl-C detaches. */
export async function extract(home: Home, api: ApiClient, address: string | undefined, o: ExtractOptions, out: Out): Promise<number> {
  const account = mailboxOf(home, address, true);
  const { status, body } = await api.call<{ id: string; created: boolean }>('POST', '/extract', {
    account,
    ...(o.query ? { query: o.query } : {}),
    ...(o.labels?.length ? { labelIds: o.labels } : {}),
    ...(o.format ? { format: o.format } : {}),
    // The whole mailbox unless a selection narrows it: then it hands its history over to the syncs.
    includeSpamTrash: o.includeSpamTrash ?? (!o.query && !o.labels?.length),
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
    ...(o.max ? { maxMessages: o.max } : {}),
    ...(o.keepInSync ? { keepInSync: o.keepInSync } : {}),
  });
  if (!out.json) process.stderr.write(`${status === 202 ? 'Started' : 'Joined the running'} extraction of ${account} (${body.id}).\n`);
  if (o.detach) {
    out.result({ id: body.id, account, created: body.created }, () => out.line(`Follow it with: gmail-lake status ${account}`));
    return EXIT.ok;
  }
  return follow(home, api, account, body.id, out);
}

/** `status`: every extraction, or one mailbox's — followed live on a terminal while it runs (unless `once`). */
export async function status(home: Home, api: ApiClient, address: string | undefined, once: boolean, out: Out): Promise<number> {
  if (!address && home.credentials.accounts().length !== 1) {
    const { body } = await api.call<{ extractions: Record<string, unknown>[] }>('GET', '/extract');
    out.result(body, () => out.line(body.extractions.length ? table(body.extractions) : 'No extraction yet.'));
    return EXIT.ok;
  }
  const account = mailboxOf(home, address, false);
  const id = await extractionOf(api, account);
  const { body: p } = await api.call<ExtractionProgress>('GET', `/extract/${encodeURIComponent(id)}`);
  if (!once && !closed(p) && process.stdout.isTTY && !out.json) return follow(home, api, account, id, out);
  const mirror = out.json
    ? undefined
    : await api.call<MailboxView>('GET', `/mailboxes/${encodeURIComponent(account)}`).then(
        (r) => r.body,
        () => undefined,
      );
  out.result(p, () => {
    describe(home, p, out);
    if (mirror) describeMirror(mirror, out);
  });
  return closed(p) && p.status !== 'completed' ? EXIT.failed : EXIT.ok;
}

/** A progress in lines, with where to look further (Web UI, temporal CLI). */
function describe(home: Home, p: ExtractionProgress, out: Out) {
  const c = p.progress;
  out.line(`${p.account} — extraction ${p.id}`);
  out.line(`  status    ${p.status}${closed(p) ? '' : ` (${p.phase})`}, ${c.percent}% — ${n(done(p))} of ${n(c.total)}`);
  out.line(
    `  messages  ${n(c.persisted)} stored · ${n(c.present)} already present · ${n(c.skipped)} gone · ${n(c.malformed)} malformed · ${n(c.failed)} failed`,
  );
  if (!closed(p)) out.line(`  rate      ${p.ratePerSecond} msg/s, ETA ${duration(p.etaSeconds)}`);
  out.line(
    `  runs      ${p.runs}${p.resumedFrom !== null ? `, resumed from ${n(p.resumedFrom)} committed` : ''}; updated ${p.updatedAt ?? '—'}`,
  );
  if (p.error) out.line(`  error     ${p.error}`);
  if (p.stalled) {
    out.line(
      `  STALLED   nothing committed since ${p.stalled.since}${p.stalled.activity ? ` (${p.stalled.activity}, attempt ${p.stalled.attempts ?? '?'})` : ''}`,
    );
    out.line(`  last error ${p.stalled.lastError ?? '—'}`);
    out.line(`  fix       ${p.stalled.fix}`);
  }
  const ui = home.stack()?.temporalUiUrl;
  if (ui) out.line(`  Web UI    ${ui}/namespaces/default/workflows/${encodeURIComponent(p.id)} (progress under "User Metadata")`);
  out.line(`  Temporal  npm run temporal -- workflow query --workflow-id '${p.id}' --name progress`);
}

/** The mailbox's mirror in two lines: its schedule and last sync, and its push watch when the workers push. */
function describeMirror(m: MailboxView, out: Out) {
  const last = m.lastSync;
  const schedule = m.schedule ? `every ${m.schedule.every ?? '?'}${m.schedule.paused ? ' (paused)' : ''}` : 'no schedule';
  const sync = m.syncRunning
    ? `a sync runs now (${m.syncRunning.trigger ?? '?'})`
    : last
      ? `last sync ${last.status}${last.trigger ? ` (${last.trigger})` : ''} ${last.finishedAt ?? ''}`.trim()
      : 'no sync yet';
  out.line(`  mirror    ${schedule}; ${sync}`);
  const watch = (m.syncRunning ?? last)?.watch;
  if (watch)
    out.line(`  push      ${watch.error ? `not watched: ${watch.error}` : `watched on ${watch.topic} until ${watch.expiresAt ?? '?'}`}`);
}

/**
 * Follows an extraction until it ends: a live bar on a terminal (count, %, rate, ETA, phase), a line every 15 s
 * otherwise. Ctrl-C detaches — the extraction keeps running — and says how to come back. Exit 0 when it completed, 1
 * when it failed or was cancelled.
 */
export async function follow(home: Home, api: ApiClient, account: string, id: string, out: Out): Promise<number> {
  const tty = !!process.stdout.isTTY && !out.json;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {value}/{totalText} messages | {rate} msg/s | ETA {etaText} | {phase}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let lastLine = 0;
  let lastPhase = '';
  const show = (p: ExtractionProgress) => {
    const phase = p.stalled ? `STALLED: ${p.stalled.fix}` : p.status === 'running' ? p.phase : p.status;
    if (bar) {
      const total = Math.max(p.progress.total, done(p));
      bar.setTotal(Math.max(total, 1));
      // Until the listing has counted the mailbox, its size is not known: '?' rather than a made-up 1.
      bar.update(done(p), { rate: p.ratePerSecond, etaText: duration(p.etaSeconds), phase, totalText: total > 0 ? total : '?' });
    } else if (!out.json && (phase !== lastPhase || Date.now() - lastLine > 15_000)) {
      out.line(
        `${phase} ${p.progress.percent}% — ${n(done(p))} of ${n(p.progress.total)}, ${p.ratePerSecond} msg/s, ETA ${duration(p.etaSeconds)}`,
      );
      lastLine = Date.now();
    }
    lastPhase = phase;
  };
  let followed: { last: ExtractionProgress | undefined; detached: boolean };
  try {
    bar?.start(1, 0, { rate: 0, etaText: '—', phase: 'starting', totalText: '?' });
    followed = await pollUntilEnded(
      async () => (await api.call<ExtractionProgress>('GET', `/extract/${encodeURIComponent(id)}`)).body,
      show,
      closed,
    );
  } finally {
    bar?.stop();
  }
  const { last: p, detached } = followed;
  if (detached || !p) {
    out.result({ id, account, detached: true, progress: p ?? null }, () => {
      out.line(`Detached: the extraction of ${account} keeps running.`);
      out.line(`  re-attach  gmail-lake status ${account}`);
      out.line(`  pause      gmail-lake pause ${account}     cancel  gmail-lake cancel ${account}`);
    });
    return EXIT.ok;
  }
  const ok = p.status === 'completed';
  out.result(p, () => {
    const c = p.progress;
    out.line(
      `${ok ? 'Completed' : `Extraction ${p.status}`}: ${plural(c.persisted, 'new message')}, ${n(c.present)} already present, ${n(c.skipped)} gone, ${n(c.malformed)} malformed (stored, flagged); ${plural(p.runs, 'run')}.`,
    );
    if (p.error) out.line(`Reason: ${p.error}`);
    if (c.failed)
      out.line(
        `${plural(c.failed, 'message')} Gmail kept refusing: listed in the lake's failed_messages with Gmail's reason; the next run fetches them again.`,
      );
    if (ok) out.line(`Query it: gmail-lake query "SELECT from_address, count(*) AS n FROM messages GROUP BY 1 ORDER BY 2 DESC LIMIT 10"`);
  });
  return ok ? EXIT.ok : EXIT.failed;
}

/** `pause`, `resume`, `cancel` of a mailbox's extraction. Pause waits until the batches in flight have ended. */
export async function control(home: Home, api: ApiClient, address: string | undefined, action: 'pause' | 'resume' | 'cancel', out: Out) {
  const account = mailboxOf(home, address, false);
  const id = await extractionOf(api, account);
  await api.call('POST', `/extract/${encodeURIComponent(id)}/${action}`);
  const want = { pause: 'paused', resume: 'running', cancel: 'canceled' }[action];
  let p = (await api.call<ExtractionProgress>('GET', `/extract/${encodeURIComponent(id)}`)).body;
  for (const deadline = Date.now() + 60_000; p.status !== want && !(action !== 'cancel' && closed(p)) && Date.now() < deadline;) {
    await delay(250);
    p = (await api.call<ExtractionProgress>('GET', `/extract/${encodeURIComponent(id)}`)).body;
  }
  out.result({ id, account, action, status: p.status }, () =>
    out.line(
      p.status === want
        ? `${account}: ${want}${action === 'pause' ? ` (${n(done(p))} of ${n(p.progress.total)} committed; \`gmail-lake resume ${account}\` continues)` : ''}.`
        : `${account}: asked to ${action}; the extraction is ${p.status} now.`,
    ),
  );
}

/** `sync`: brings the lake to the mailbox's current state (history, or reconciliation), and waits for its result. */
export async function sync(home: Home, api: ApiClient, address: string | undefined, reconcile: boolean, out: Out): Promise<number> {
  const account = mailboxOf(home, address, true);
  const started = await api.call<{ id: string; runId: string; created: boolean }>(
    'POST',
    `/mailboxes/${encodeURIComponent(account)}/sync`,
    {
      ...(reconcile ? { reconcile: true } : {}),
    },
  );
  if (!out.json) process.stderr.write(`${started.status === 202 ? 'Started' : 'Joined'} the sync of ${account} (${started.body.id}) …\n`);
  for (;;) {
    const { body } = await api.call<MailboxView>('GET', `/mailboxes/${encodeURIComponent(account)}`);
    const last = body.lastSync as (Record<string, unknown> & { runId?: string; status?: string; reason?: string | null }) | null;
    if (!body.syncRunning && last) {
      out.result(last, () => {
        out.line(
          `Sync ${last.status}${typeof last.mode === 'string' ? ` by ${last.mode}` : ''}: changes ${JSON.stringify(last.changes ?? {})}, quota units ${JSON.stringify(last.units ?? {})}`,
        );
        if (last.reason) out.line(`Reason: ${last.reason}`);
        const watch = last.watch as { topic: string; expiresAt: string | null; error: string | null } | undefined;
        if (watch?.error) out.line(`Push: not watched (${watch.error}); syncs run on the schedule only.`);
        else if (watch?.expiresAt) out.line(`Push: watched on ${watch.topic} until ${watch.expiresAt} (renewed by its syncs).`);
      });
      return last.status === 'completed' ? EXIT.ok : last.status === 'deferred' ? EXIT.ok : EXIT.failed;
    }
    await delay(500);
  }
}
