/**
 * `gmail-lake`: the command that drives everything — sign-in (`login`, `accounts`, `logout`), the local stack (`up`,
 * `down`), extractions and syncs through the HTTP API (`extract`, `status`, `pause`, `resume`, `cancel`, `sync`,
 * `schedule`, `fleet`, `import`), the lake (`query`, `search`, `export`, `mcp`) and `doctor`. Every command takes `--json`; exit codes in output.ts.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { redactedMessage } from '../redact.js';
import { apiClient } from './api-client.js';
import { control, extract, mailboxOf, status, sync } from './extractions.js';
import { fleetCommand } from './fleets.js';
import { CliError, EXIT, type Out, output } from './output.js';
import { Home, SETTING_KEYS } from './settings.js';

// The heavy parts (Google's auth library, the Temporal client, DuckDB) load with the commands that use them, so
// `--help` and the API-driving commands start fast.
const loginModule = () => import('./login.js');
const stackModule = () => import('./stack.js');

interface Global {
  json: boolean;
}

const home = new Home();
const api = () => {
  const { url, key } = home.api();
  return apiClient(url, key);
};

/** Runs a command: its exit code, or its error as one line (JSON with --json) and the error's code. */
function run<A extends Global>(fn: (args: A, out: Out) => Promise<number | void>) {
  return async (args: A) => {
    const out = output(args.json);
    let code: number;
    try {
      code = (await fn(args, out)) ?? EXIT.ok;
    } catch (e) {
      const err = e instanceof CliError ? e : new CliError(redactedMessage(e), EXIT.failed);
      if (args.json)
        process.stdout.write(`${JSON.stringify({ error: { message: err.message, exitCode: err.exitCode, ...err.details } })}\n`);
      else process.stderr.write(`gmail-lake: ${err.message}\n`);
      if (process.env.GMAIL_LAKE_DEBUG && !(e instanceof CliError)) console.error(e);
      code = err.exitCode;
    }
    process.exitCode = code;
    // Everything written reaches its reader first (stdout may be a socket, written asynchronously); then open handles
    // (a keep-alive socket, DuckDB) must not keep a finished command waiting.
    await new Promise((r) => process.stdout.write('', r));
    await new Promise((r) => process.stderr.write('', r));
    setTimeout(() => process.exit(code), 100).unref();
  };
}

/** The mailbox a command acts on: an address signed in, or the one signed in when there is only one. */
const mailbox = <T>(y: Argv<T>) => y.positional('address', { type: 'string', describe: 'the mailbox (default: the one signed in)' });
const selection = <T>(y: Argv<T>) =>
  y
    .option('query', { alias: 'q', type: 'string', describe: 'Gmail search, e.g. "after:2024/01/01 -in:chats"' })
    .option('labels', {
      type: 'string',
      describe: 'label ids, comma-separated (e.g. INBOX,Label_12)',
      coerce: (v?: string) => v?.split(',').filter(Boolean),
    })
    .option('format', {
      choices: ['full', 'raw', 'metadata', 'minimal'] as const,
      describe: 'what is fetched of each message (default full)',
    })
    .option('include-spam-trash', {
      type: 'boolean',
      describe: 'SPAM and TRASH too (default: yes for the whole mailbox, no with --query/--labels)',
    })
    .option('batch-size', { type: 'number', describe: 'messages per batch (1-500, default 100)' })
    .option('max', { type: 'number', describe: 'stop after this many messages' });

await yargs(hideBin(process.argv))
  .scriptName('gmail-lake')
  .usage('$0 <command> [options]\n\nYour Gmail in a lake you can query with SQL, extracted by a durable Temporal workflow.')
  .option('json', { type: 'boolean', default: false, global: true, describe: 'machine-readable output (one JSON document)' })
  .command(
    'login [address]',
    'sign a mailbox in with Google (opens the browser; over SSH, paste the address back)',
    (y) =>
      y
        .positional('address', { type: 'string', describe: 'the mailbox to sign in (refused if you sign in as another)' })
        .option('client-file', { type: 'string', describe: 'the Desktop app OAuth client JSON from the Google Cloud console' })
        .option('browser', { type: 'boolean', describe: 'open a browser (default: when there is one; --no-browser prints the address)' }),
    run(async (a, out) => {
      const clientFile = a.clientFile ?? home.stack()?.clientFile;
      if (!clientFile)
        throw new CliError(
          'give the OAuth client file: `gmail-lake login --client-file client_secret.json` (a Desktop app client; docs/gmail-setup.md says how to get one)',
          EXIT.usage,
        );
      if (!a.clientFile && !out.json) process.stderr.write(`Using the emulator's client file ${clientFile}\n`);
      await (await loginModule()).login(home, { address: a.address, clientFile, browser: a.browser }, out);
    }),
  )
  .command(
    'accounts',
    'the signed-in mailboxes and whether their tokens work',
    (y) => y,
    run(async (_a, out) => (await loginModule()).accounts(home, out)),
  )
  .command(
    'logout <address>',
    "revoke a mailbox's token at Google and delete it",
    (y) => y.positional('address', { type: 'string', demandOption: true }),
    run(async (a, out) => (await loginModule()).logout(home, a.address, out)),
  )
  .command(
    'config <action> [key] [value]',
    'the API this command drives: `config set api-url URL`, `config set api-key KEY`, `config get`',
    (y) =>
      y
        .positional('action', { choices: ['get', 'set', 'path'] as const, demandOption: true })
        .positional('key', { choices: SETTING_KEYS })
        .positional('value', { type: 'string' })
        .option('reveal', {
          type: 'boolean',
          default: false,
          describe: 'get: the API key whole (for scripts: KEY=$(gmail-lake config get api-key --reveal))',
        }),
    run(async (a, out) => {
      if (a.action === 'path') return out.result({ path: home.configFile }, () => out.line(home.configFile));
      if (a.action === 'set') {
        if (!a.key || a.value === undefined) throw new CliError('usage: gmail-lake config set api-url|api-key VALUE', EXIT.usage);
        if (a.key === 'api-url' && !/^https?:\/\/[^/]+/.test(a.value))
          throw new CliError(`api-url must be an http(s) URL, got ${a.value}`, EXIT.usage);
        home.saveSettings({ ...home.settings(), [a.key]: a.value });
        return out.result({ [a.key]: a.key === 'api-key' ? '***' : a.value }, () => out.line(`${a.key} set in ${home.configFile}`));
      }
      const s = home.settings();
      const shown = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'api-key' && !a.reveal ? `${v.slice(0, 8)}…` : v]));
      const key = a.key;
      if (key) return out.result({ [key]: shown[key] ?? null }, () => out.line(shown[key] ?? '(not set)'));
      out.result(shown, () => {
        for (const k of SETTING_KEYS) out.line(`${k.padEnd(8)} ${shown[k] ?? '(not set)'}`);
      });
    }),
  )
  .command(
    'up',
    'start the stack on this machine: Temporal dev server, a worker, the API (--emulator: and the emulator playing Google)',
    (y) =>
      y
        .option('emulator', {
          type: 'boolean',
          default: false,
          describe: 'also run the Gmail emulator playing Google (a sample mailbox, a consent page)',
        })
        .option('messages', { type: 'number', describe: "messages in the emulator's mailboxes (default 2000)" })
        .option('temporal-port', {
          type: 'number',
          default: Number(process.env.GMAIL_LAKE_TEMPORAL_PORT) || undefined,
          describe: 'Temporal frontend port (default 7233, or GMAIL_LAKE_TEMPORAL_PORT; a server answering there is used)',
        }),
    run(
      async (a, out) =>
        void (await (await stackModule()).up(home, { emulator: a.emulator, messages: a.messages, temporalPort: a.temporalPort }, out)),
    ),
  )
  .command(
    'down',
    'stop what `up` started (data, sign-ins and the API key stay)',
    (y) => y,
    run(async (_a, out) => (await stackModule()).down(home, out)),
  )
  .command(
    'extract [address]',
    "start (or join) a mailbox's extraction and follow it; Ctrl-C detaches, it keeps running",
    (y) =>
      selection(mailbox(y))
        .option('keep-in-sync', { type: 'string', describe: 'when done, sync it on a schedule at this interval (e.g. 15m)' })
        .option('detach', { type: 'boolean', default: false, describe: 'start it and return at once' }),
    run((a, out) =>
      extract(
        home,
        api(),
        a.address,
        {
          query: a.query,
          labels: a.labels,
          format: a.format,
          includeSpamTrash: a.includeSpamTrash,
          batchSize: a.batchSize,
          max: a.max,
          keepInSync: a.keepInSync,
          detach: a.detach,
        },
        out,
      ),
    ),
  )
  .command(
    'status [address]',
    "a mailbox's extraction (followed live while it runs on a terminal), or every extraction",
    (y) => mailbox(y).option('once', { type: 'boolean', default: false, describe: 'print and return, even while it runs' }),
    run((a, out) => status(home, api(), a.address, a.once, out)),
  )
  .command(
    ['pause [address]', 'resume [address]', 'cancel [address]'],
    "pause, resume or cancel a mailbox's extraction (pause lets the batches in flight commit)",
    (y) => mailbox(y),
    run(async (a, out) =>
      control(home, api(), a.address, String((a as unknown as { _: string[] })._[0]) as 'pause' | 'resume' | 'cancel', out),
    ),
  )
  .command(
    'sync [address]',
    'bring the lake to the mailbox as it is now (Gmail history, or a reconciliation) and wait for the result',
    (y) =>
      mailbox(y).option('reconcile', { type: 'boolean', default: false, describe: 'compare by listing even when history is available' }),
    run((a, out) => sync(home, api(), a.address, a.reconcile, out)),
  )
  .command(
    'schedule <action> [address]',
    "a mailbox's sync schedule: set --every 15m | pause | resume | delete",
    (y) =>
      mailbox(y.positional('action', { choices: ['set', 'pause', 'resume', 'delete'] as const, demandOption: true }))
        .option('every', { type: 'string', describe: 'interval: 30s, 15m, 1h, 1d (set)' })
        .option('format', { choices: ['full', 'raw', 'metadata', 'minimal'] as const }),
    run(async (a, out) => {
      const account = mailboxOf(home, a.address, a.action === 'set');
      const path = `/mailboxes/${encodeURIComponent(account)}/schedule`;
      if (a.action === 'set' && !a.every) throw new CliError('schedule set needs --every (e.g. --every 15m)', EXIT.usage);
      const r =
        a.action === 'set'
          ? await api().call<{ schedule: { every: string; nextRunAt?: string | null; paused: boolean } | null }>('PUT', path, {
              every: a.every,
              ...(a.format ? { format: a.format } : {}),
            })
          : await api().call<{ schedule: { every: string; nextRunAt?: string | null; paused: boolean } | null }>(
              a.action === 'delete' ? 'DELETE' : 'POST',
              a.action === 'delete' ? path : `${path}/${a.action}`,
            );
      const s = r.body.schedule;
      out.result(r.body, () =>
        out.line(
          s
            ? `${account}: synced every ${s.every}${s.paused ? ' (paused)' : ''}${s.nextRunAt ? `, next run ${s.nextRunAt}` : ''}`
            : `${account}: no schedule`,
        ),
      );
    }),
  )
  .command(
    'fleet <action> [id]',
    'many mailboxes of a Workspace domain: start | status | pause | resume | cancel',
    (y) =>
      selection(
        y
          .positional('action', { choices: ['start', 'status', 'pause', 'resume', 'cancel'] as const, demandOption: true })
          .positional('id', { type: 'string', describe: 'the fleet (status, pause, resume, cancel)' })
          .option('domain', { type: 'string', describe: "start: every mailbox of this domain's directory" })
          .option('accounts', {
            type: 'string',
            describe: 'start: or these mailboxes, comma-separated',
            coerce: (v?: string) => v?.split(',').filter(Boolean),
          })
          .option('concurrency', { type: 'number', describe: 'start: mailboxes at once (default 10)' })
          .option('detach', { type: 'boolean', default: false }),
      ),
    run((a, out) => fleetCommand(api(), a, out)),
  )
  .command(
    'query <sql>',
    'read the lake with SQL (read-only, also while it is written): a table, or --json / --csv',
    (y) =>
      y
        .positional('sql', { type: 'string', demandOption: true })
        .option('csv', { type: 'boolean', default: false })
        .option('max-rows', { type: 'number', default: 100, describe: 'rows shown in the table (all with --json or --csv)' }),
    run(async (a, out) => (await import('./query.js')).query(home, a.sql, { csv: a.csv, maxRows: a.maxRows }, out)),
  )
  .command(
    'search <q>',
    "find messages in the lake with Gmail's search syntax (from: subject: label: has:attachment after: … OR, -, quotes)",
    (y) =>
      y
        .positional('q', { type: 'string', demandOption: true, describe: 'the query, e.g. "from:ann has:attachment after:2024/01/01"' })
        .option('account', { type: 'string', describe: 'the mailbox (default: the one signed in)' })
        .option('limit', { type: 'number', default: 25, describe: 'messages per page (at most 500)' })
        .option('cursor', { type: 'string', describe: 'the next page: the cursor the last page printed' })
        .option('tz', {
          type: 'string',
          describe: "the time zone of after:/before: dates (default America/Los_Angeles, as Gmail's API reads them)",
        })
        .option('order', {
          choices: ['relevance', 'date'] as const,
          default: 'relevance' as const,
          describe: 'bare words rank the best match first (relevance), or every page is newest first (date)',
        }),
    run(async (a, out) =>
      (await import('./search.js')).search(
        home,
        a.q,
        { address: a.account, limit: Math.min(Math.max(1, a.limit), 500), cursor: a.cursor, tz: a.tz, order: a.order },
        out,
      ),
    ),
  )
  .command(
    'export',
    "write a mailbox's stored messages as Takeout's mbox or .eml files, byte for byte (all, or what --q finds)",
    (y) =>
      y
        .option('account', { type: 'string', describe: 'the mailbox (default: the one signed in)' })
        .option('q', { type: 'string', describe: 'only the messages this Gmail search finds' })
        .option('mbox', { type: 'string', describe: 'one mbox file (Takeout: X-Gmail-Labels, X-GM-THRID, mboxrd)' })
        .option('eml-dir', { type: 'string', describe: 'or a folder of <id>.eml files' })
        .option('include-deleted', { type: 'boolean', default: false, describe: 'also the messages deleted in Gmail that the lake keeps' }),
    run(async (a, out) =>
      (await import('./export.js')).exportCommand(
        home,
        { account: a.account, q: a.q, mbox: a.mbox, emlDir: a.emlDir, includeDeleted: a.includeDeleted },
        out,
      ),
    ),
  )
  .command(
    'import',
    'import an mbox file (Google Takeout, or an export) into a mailbox: a resumable workflow; Gmail ids, threads and labels kept',
    (y) =>
      y
        .option('mbox', { type: 'string', demandOption: true, describe: 'the mbox file (read by the workers, at this path)' })
        .option('account', { type: 'string', demandOption: true, describe: 'the mailbox its messages go to (any address)' })
        .option('chunk-mb', { type: 'number', describe: 'MB read per chunk, one lake transaction each (default 16)' })
        .option('detach', { type: 'boolean', default: false, describe: 'start it and return' }),
    run(async (a, out) =>
      (await import('./import.js')).importCommand(
        api(),
        {
          mbox: a.mbox,
          account: a.account.trim().toLowerCase(),
          detach: a.detach,
          ...(a.chunkMb ? { chunkBytes: Math.round(a.chunkMb * 1024 * 1024) } : {}),
        },
        out,
      ),
    ),
  )
  .command(
    'mcp',
    'serve the lake to an AI assistant over MCP (stdio): search, read messages and threads, labels, stats, read-only SQL',
    (y) => y,
    run(async () => (await import('./mcp.js')).mcpCommand(home)),
  )
  .command(
    'doctor',
    'check Temporal, the lake, S3, each signed-in token, quota settings, the clock and disk; print the fixes',
    (y) => y,
    run(async (_a, out) => (await import('./doctor.js')).doctor(home, out)),
  )
  .completion('completion', 'print a bash/zsh completion script (`gmail-lake completion >> ~/.bashrc`)')
  .demandCommand(1, 'name a command (gmail-lake --help lists them)')
  .recommendCommands()
  .strict()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(120, process.stdout.columns || 100))
  .fail((message, err, y) => {
    if (err) throw err;
    process.stderr.write(
      `gmail-lake: ${message}\n${message.includes('--help') ? '' : 'Run `gmail-lake --help` for the commands, `gmail-lake <command> --help` for one.\n'}`,
    );
    void y;
    process.exit(EXIT.usage);
  })
  .parseAsync();
