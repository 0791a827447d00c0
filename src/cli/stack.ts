import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { generateApiKey } from '../api-keys.js';
import { startDevServerOnFreePorts } from '../stack/dev-server.js';
import { onFreePort, PortTaken } from '../stack/ports.js';
import { projectRoot } from '../stack/tools.js';
import { CliError, EXIT, type Out } from './output.js';
import type { Home, StackState } from './settings.js';

/** The processes `up` runs, in start order (`down` stops them in reverse). */
const ORDER = ['temporal', 'emulator', 'worker', 'api'] as const;
const LABEL = { temporal: 'the Temporal dev server', emulator: 'the Gmail emulator', worker: 'the worker', api: 'the API' } as const;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** `sig` to a process's group (what `up` spawns leads its own), or to the process alone when it leads none. */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

async function temporalAnswers(address: string): Promise<boolean> {
  try {
    const c = await Connection.connect({ address, connectTimeout: 1500 });
    await c.workflowService.getSystemInfo({});
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** A node entry of this project as its own process (its own process group), its output appended to `log`. */
function spawnEntry(entry: string, args: string[], env: NodeJS.ProcessEnv, log: string): number {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(projectRoot, entry), ...args], {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  return child.pid!;
}

async function waitUntil(what: string, ok: () => Promise<boolean>, pid: number, log: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (!alive(pid)) throw new CliError(`${what} exited while starting:\n${tail(log)}`, EXIT.failed);
    if (Date.now() > deadline) throw new CliError(`${what} did not get ready within ${timeoutMs / 1000} s:\n${tail(log)}`, EXIT.failed);
    await delay(250);
  }
}

/**
 * Spawns an entry that serves on a port and waits until `ready(port, pid)` says it serves (and that it is this process
 * that answers there, where it can tell). A port found free can be taken before the process binds it (other programs
 * and test files pick ports too): a start that exits with EADDRINUSE is tried again on a fresh port, three times in
 * all. A process that does not get ready is stopped, never left behind.
 */
async function spawnServing(
  what: string,
  preferred: number | undefined,
  start: (port: number) => { entry: string; args?: string[]; env: NodeJS.ProcessEnv },
  ready: (port: number, pid: number) => Promise<boolean>,
  log: string,
): Promise<{ pid: number; port: number }> {
  return onFreePort(preferred, async (port) => {
    const { entry, args = [], env } = start(port);
    const logged = existsSync(log) ? statSync(log).size : 0; // what this attempt writes comes after
    const pid = spawnEntry(entry, args, env, log);
    try {
      await waitUntil(what, () => ready(port, pid), pid, log);
      return { pid, port };
    } catch (e) {
      if (alive(pid)) {
        signalGroup(pid, 'SIGKILL');
        throw e;
      }
      throw /EADDRINUSE/.test(readFileSync(log, 'utf8').slice(logged)) ? new PortTaken(e) : e;
    }
  });
}

const tail = (file: string, lines = 15) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .map((l) => `  ${l}`)
        .join('\n')
    : '';

export interface UpOptions {
  /** Start the emulator playing Google too (a sample mailbox, the consent page, a Desktop client file). */
  emulator?: boolean;
  /** Messages of the emulator's mailboxes. */
  messages?: number;
  /** Port of the Temporal frontend (default 7233): a server answering there is used, else a dev server is started on it. */
  temporalPort?: number;
}

/**
 * What `up` runs that `npm install` does not bring — the temporal CLI, DuckDB's extensions — provisioned on first use
 * (scripts/provision.sh: a few minutes once, then nothing), its output on stderr so that `--json` stays parseable.
 */
async function provisioned(out: Out): Promise<void> {
  const temporal = process.env.TEMPORAL_CLI || join(projectRoot, '.tools/bin/temporal');
  const extensions = resolve(process.env.DUCKDB_EXTENSION_DIR || join(projectRoot, '.tools/duckdb-extensions'));
  if (existsSync(temporal) && existsSync(join(extensions, 'v1.5.5/linux_amd64/ducklake.duckdb_extension'))) return;
  out.line('First run: provisioning the temporal CLI and DuckDB extensions into .tools/ (a few minutes, once) …');
  const child = spawn('bash', [join(projectRoot, 'scripts/provision.sh')], { cwd: projectRoot, stdio: ['ignore', 2, 2] });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new CliError(`provisioning failed (exit ${code}): see the lines above, or run \`npm run provision\``, EXIT.failed);
}

/**
 * Starts what one machine needs, each as its own process that outlives the command: the Temporal dev server (unless
 * one answers at TEMPORAL_ADDRESS or 127.0.0.1:7233), a worker, the API — and with `emulator`, the Gmail emulator
 * playing Google. Makes an admin API key on first use and points the command at the API (config.json).
 */
export async function up(home: Home, options: UpOptions, out: Out): Promise<StackState> {
  const previous = home.stack();
  const running = previous && Object.values(previous.processes).filter((p) => alive(p.pid));
  if (previous && running && running.length === Object.keys(previous.processes).length && running.length > 0) {
    const emulatorMismatch = !!options.emulator !== !!previous.googleApiUrl;
    if (emulatorMismatch)
      throw new CliError(
        `the stack is up ${previous.googleApiUrl ? 'with' : 'without'} the emulator: \`gmail-lake down\` first to change that`,
        EXIT.usage,
      );
    printUp(previous, home, out, true);
    return previous;
  }
  if (previous && running?.length) await stopAll(previous, () => undefined);
  if (!home.env.TEMPORAL_ADDRESS) await provisioned(out);

  const data = home.dataDir;
  const logs = join(data, 'logs');
  mkdirSync(logs, { recursive: true });
  const processes: StackState['processes'] = {};
  const state = (): StackState => ({ ...partial, processes });
  const partial: Omit<StackState, 'processes'> = {
    apiUrl: '',
    apiKeyEntry: previous?.apiKeyEntry ?? '',
    temporalAddress: '',
    temporalUiUrl: '',
    ...(home.env.GMAIL_CREDENTIALS_FILE ? { credentialsFile: home.env.GMAIL_CREDENTIALS_FILE } : {}),
  };
  try {
    // Temporal: the one the environment names, one already answering on the default port, or a dev server of our own.
    let address = home.env.TEMPORAL_ADDRESS;
    let uiUrl = home.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
    const wanted = options.temporalPort ?? 7233;
    if (!address && (await temporalAnswers(`127.0.0.1:${wanted}`))) address = `127.0.0.1:${wanted}`;
    if (address) {
      if (!(await temporalAnswers(address)))
        throw new CliError(
          `no Temporal server answers at TEMPORAL_ADDRESS=${address}; start it, or unset TEMPORAL_ADDRESS to let up start one`,
          EXIT.unreachable,
        );
      out.line(`Temporal: using the server at ${address}`);
    } else {
      const log = join(logs, 'temporal.log');
      out.line('Temporal: starting the dev server …');
      const server = await startDevServerOnFreePorts({
        dbFile: join(data, 'temporal.db'),
        port: wanted,
        uiPort: wanted + 1000,
        detachedLog: log,
      });
      out.line(`Temporal: the dev server answers on ${server.address} (Web UI ${server.uiUrl})`);
      processes.temporal = { pid: server.process.pid!, log };
      address = server.address;
      uiUrl = server.uiUrl;
    }
    Object.assign(partial, { temporalAddress: address, temporalUiUrl: uiUrl });

    if (options.emulator) {
      const log = join(logs, 'emulator.log');
      const clientFile = join(data, 'emulator', 'client_secret.json');
      mkdirSync(join(data, 'emulator'), { recursive: true });
      out.line('Gmail emulator: starting (plays Google: Gmail, the consent page, the token endpoint) …');
      const emulatorArgs = (port: number) => [
        ...['--port', String(port), '--client-file', clientFile, '--oauth-state', join(data, 'emulator', 'oauth-state.json')],
        ...['--watch-state', join(data, 'emulator', 'watches.json')],
        ...['--messages', String(options.messages ?? 2000), '--history-id-base', String(Date.now())],
      ];
      const { pid, port } = await spawnServing(
        'the Gmail emulator',
        8085,
        (p) => ({ entry: 'src/emulator/main.ts', args: emulatorArgs(p), env: process.env }),
        // Ours when it answers with our pid (another `up`'s emulator can hold the port it meant to take).
        async (p, pid) => ((await (await fetch(`http://127.0.0.1:${p}/_emulator/health`)).json()) as { pid?: number }).pid === pid,
        log,
      );
      processes.emulator = { pid, log };
      const url = `http://127.0.0.1:${port}/`;
      Object.assign(partial, { googleApiUrl: url, clientFile });
    }

    const key = home.api().key;
    if (!partial.apiKeyEntry || !key) {
      const made = generateApiKey('cli', 'admin');
      partial.apiKeyEntry = made.entry;
      home.saveSettings({ ...home.settings(), 'api-key': made.key });
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: data,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_UI_URL: uiUrl,
      GMAIL_CREDENTIALS_DIR: home.credentials.dir,
      API_HOST: '127.0.0.1',
      API_KEYS: [home.env.API_KEYS, partial.apiKeyEntry].filter(Boolean).join(','),
      LOG_LEVEL: home.env.LOG_LEVEL ?? 'info',
      ...(partial.googleApiUrl
        ? {
            GOOGLE_API_URL: partial.googleApiUrl,
            GMAIL_QUOTA_PROFILE: home.env.GMAIL_QUOTA_PROFILE ?? 'legacy',
            // Gmail push, played by the emulator's Pub/Sub: mailboxes kept in sync are watched and synced as mail arrives.
            GMAIL_PUSH_TOPIC: home.env.GMAIL_PUSH_TOPIC ?? LOCAL_PUSH.topic,
            GMAIL_PUSH_AUDIENCE: home.env.GMAIL_PUSH_AUDIENCE ?? LOCAL_PUSH.audience,
            GMAIL_PUSH_SERVICE_ACCOUNT: home.env.GMAIL_PUSH_SERVICE_ACCOUNT ?? LOCAL_PUSH.serviceAccountEmail,
          }
        : {}),
    };
    // Ready when they serve: the worker its /metrics (METRICS_PORT), the API its own /metrics — whatever LOG_LEVEL says.
    out.line('Worker: starting …');
    const workerLog = join(logs, 'worker.log');
    const worker = await spawnServing(
      'the worker',
      undefined,
      (p) => ({ entry: 'src/worker/main.ts', env: { ...env, METRICS_PORT: String(p) } }),
      async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).ok,
      workerLog,
    );
    processes.worker = { pid: worker.pid, log: workerLog };
    out.line('API: starting …');
    const apiLog = join(logs, 'api.log');
    const api = await spawnServing(
      'the api',
      Number(home.env.API_PORT) || 3000,
      (p) => ({ entry: 'src/api/main.ts', env: { ...env, API_PORT: String(p) } }),
      // Ours when it takes our key (another `up`'s API, which can hold the port it meant to take, refuses it).
      async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`, { headers: { authorization: `Bearer ${home.api().key}` } })).ok,
      apiLog,
    );
    processes.api = { pid: api.pid, log: apiLog };
    const apiPort = api.port;
    partial.apiUrl = `http://127.0.0.1:${apiPort}`;
    if (partial.googleApiUrl) await subscribeLocalPush(partial.googleApiUrl, env, partial.apiUrl);
    home.saveSettings({ ...home.settings(), 'api-url': partial.apiUrl });
    home.saveStack(state());
    printUp(state(), home, out, false);
    return state();
  } catch (e) {
    await stopAll(state(), () => undefined);
    throw e instanceof CliError ? e : new CliError(`could not start the stack: ${(e as Error).message}`, EXIT.failed);
  }
}

/** The emulator's Pub/Sub push of the local stack: a topic, its audience and the account its tokens are minted for. */
const LOCAL_PUSH = {
  topic: 'projects/gmail-lake-emulator/topics/gmail',
  audience: 'gmail-lake-local-push',
  serviceAccountEmail: 'gmail-push@gmail-lake-local.iam.gserviceaccount.com',
};

/** Subscribes the API's /push/gmail to the emulator's topic, as `gcloud pubsub subscriptions create --push-endpoint` does. */
async function subscribeLocalPush(emulatorUrl: string, env: NodeJS.ProcessEnv, apiUrl: string): Promise<void> {
  const res = await fetch(`${emulatorUrl}_emulator/pubsub/subscriptions`, {
    method: 'POST',
    body: JSON.stringify({
      topic: env.GMAIL_PUSH_TOPIC,
      pushEndpoint: `${apiUrl}/push/gmail`,
      audience: env.GMAIL_PUSH_AUDIENCE,
      serviceAccountEmail: env.GMAIL_PUSH_SERVICE_ACCOUNT,
      minBackoffMs: 1000,
    }),
  });
  if (!res.ok) throw new Error(`the emulator refused the push subscription: ${res.status} ${await res.text()}`);
}

function printUp(s: StackState, home: Home, out: Out, already: boolean) {
  out.result({ ...s, apiKeyEntry: undefined, already }, () => {
    out.line(already ? 'The stack is already up.' : 'The stack is up.');
    out.line(`  API        ${s.apiUrl} (docs ${s.apiUrl}/docs; the command's key is in ${home.configFile})`);
    out.line(`  Temporal   ${s.temporalAddress}, Web UI ${s.temporalUiUrl}`);
    if (s.googleApiUrl) out.line(`  Emulator   ${s.googleApiUrl} — plays Google; its Desktop client file: ${s.clientFile}`);
    out.line(`  Data       ${home.dataDir} (logs in ${join(home.dataDir, 'logs')})`);
    const signedIn = home.credentials.accounts();
    out.line(
      signedIn.length
        ? `Next: gmail-lake extract ${signedIn.length === 1 ? signedIn[0] : '<address>'}   (signed in: ${signedIn.join(', ')})`
        : `Next: gmail-lake login --client-file ${s.clientFile ?? 'client_secret.json'}`,
    );
    out.line('Stop it all with: gmail-lake down');
  });
}

/** SIGTERM to each process group (the worker drains its batches), SIGKILL after `graceMs`. */
async function stopAll(s: StackState, say: (line: string) => void, graceMs = 30_000): Promise<string[]> {
  const stopped: string[] = [];
  for (const name of [...ORDER].reverse()) {
    const p = s.processes[name];
    if (!p || !alive(p.pid)) continue;
    say(`Stopping ${LABEL[name]} (pid ${p.pid}) …`);
    signalGroup(p.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(p.pid) && Date.now() < deadline) await delay(100);
    if (alive(p.pid)) signalGroup(p.pid, 'SIGKILL');
    while (alive(p.pid)) await delay(50);
    stopped.push(name);
  }
  return stopped;
}

/** Stops what `up` started (in reverse order) and forgets its processes; the key, the data and sign-ins stay. */
export async function down(home: Home, out: Out): Promise<void> {
  const s = home.stack();
  if (!s || Object.keys(s.processes).length === 0) {
    out.result({ stopped: [] }, () => out.line('Nothing to stop: the stack is not up.'));
    return;
  }
  const stopped = await stopAll(s, (l) => out.line(l));
  home.saveStack({ ...s, processes: {} });
  out.result({ stopped }, () =>
    out.line(stopped.length ? `Stopped: ${stopped.join(', ')}. Data stays in ${home.dataDir}.` : 'Nothing was running.'),
  );
}
