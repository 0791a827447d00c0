import { setTimeout as delay } from 'node:timers/promises';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT, type Out, table } from './output.js';
import type { RequestOptions } from './extractions.js';

interface Fleet {
  id: string;
  status: string;
  phase: string;
  mailboxes: Record<string, number>;
  messages: { persisted: number };
  ratePerSecond: number;
  etaSeconds: number | null;
  failures: { account: string; error: string }[];
  error: string | null;
}

interface FleetArgs extends RequestOptions {
  action: 'start' | 'status' | 'pause' | 'resume' | 'cancel';
  id?: string;
  domain?: string;
  accounts?: string[];
  concurrency?: number;
  detach: boolean;
}

const line = (f: Fleet) =>
  `${f.status === 'running' ? f.phase : f.status}: ${f.mailboxes.completed ?? 0}/${f.mailboxes.total ?? 0} mailboxes done, ${f.mailboxes.running ?? 0} running, ${f.mailboxes.failed ?? 0} failed; ${f.messages.persisted.toLocaleString('en-US')} messages, ${f.ratePerSecond} msg/s`;

/** `fleet start|status|pause|resume|cancel`: many mailboxes of a Workspace domain (a service account) through /fleets. */
export async function fleetCommand(api: ApiClient, a: FleetArgs, out: Out): Promise<number> {
  if (a.action === 'start') {
    if (!!a.domain === !!a.accounts?.length)
      throw new CliError('fleet start needs --domain DOMAIN or --accounts a@x,b@x (one of them)', EXIT.usage);
    const { body } = await api.call<{ id: string }>('POST', '/fleets', {
      ...(a.domain ? { domain: a.domain } : { accounts: a.accounts }),
      ...(a.concurrency ? { concurrency: a.concurrency } : {}),
      ...(a.query ? { query: a.query } : {}),
      ...(a.labels?.length ? { labelIds: a.labels } : {}),
      ...(a.format ? { format: a.format } : {}),
      ...(a.includeSpamTrash !== undefined ? { includeSpamTrash: a.includeSpamTrash } : {}),
      ...(a.batchSize ? { batchSize: a.batchSize } : {}),
      ...(a.max ? { maxMessages: a.max } : {}),
    });
    if (!out.json) process.stderr.write(`Started fleet ${body.id}.\n`);
    if (a.detach) {
      out.result(body, () => out.line(`Follow it with: gmail-lake fleet status ${body.id}`));
      return EXIT.ok;
    }
    let last = '';
    for (;;) {
      const f = (await api.call<Fleet>('GET', `/fleets/${encodeURIComponent(body.id)}`)).body;
      const now = line(f);
      if (now !== last && !out.json) out.line(now);
      last = now;
      if (!['running', 'paused'].includes(f.status)) return report(f, out);
      await delay(2000);
    }
  }
  if (!a.id) {
    if (a.action !== 'status')
      throw new CliError(`fleet ${a.action} needs the fleet's id (gmail-lake fleet status lists them)`, EXIT.usage);
    const { body } = await api.call<{ fleets: Record<string, unknown>[] }>('GET', '/fleets');
    out.result(body, () => out.line(body.fleets.length ? table(body.fleets) : 'No fleet yet.'));
    return EXIT.ok;
  }
  const path = `/fleets/${encodeURIComponent(a.id)}`;
  if (a.action !== 'status') await api.call('POST', `${path}/${a.action}`);
  const f = (await api.call<Fleet>('GET', path)).body;
  if (a.action !== 'status') {
    out.result(f, () => out.line(`${a.id}: asked to ${a.action}; ${line(f)}`));
    return EXIT.ok;
  }
  return report(f, out);
}

function report(f: Fleet, out: Out): number {
  out.result(f, () => {
    out.line(`${f.id} — ${line(f)}`);
    for (const x of f.failures) out.line(`  ${x.account}: ${x.error}`);
    const unnamed = (f.mailboxes.failed ?? 0) - f.failures.length;
    if (unnamed > 0) out.line(`  … and ${unnamed} more (\`gmail-lake status ADDRESS\` gives each one's reason)`);
    if (f.error) out.line(`Reason: ${f.error}`);
  });
  return ['running', 'paused', 'completed'].includes(f.status) ? EXIT.ok : EXIT.failed;
}
