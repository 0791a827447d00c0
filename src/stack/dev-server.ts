import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { ACCOUNT_SEARCH_ATTRIBUTE } from '../workflows/extraction.js';
import { freePort, onFreePort, PortTaken } from './ports.js';
import { toolPath } from './tools.js';

export interface DevServerOptions {
  /** SQLite file that keeps workflows across restarts. */
  dbFile: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  /** Extra `--dynamic-config-value KEY=JSON` pairs (tests lower limit.historyCount.suggestContinueAsNew). */
  dynamicConfig?: Record<string, unknown>;
  /** Where the server's own log goes; default: discarded. */
  logStream?: NodeJS.WritableStream;
  /**
   * Run it on its own: its output goes to this file and it outlives this process (`gmail-lake up`; `down` stops it by
   * its pid).
   */
  detachedLog?: string;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `temporal server start-dev` (SQLite persistence, Web UI, our search attribute) and waits until it serves. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--namespace',
    options.namespace ?? 'default',
    '--search-attribute',
    `${ACCOUNT_SEARCH_ATTRIBUTE}=Keyword`,
    '--log-level',
    'warn',
  ];
  for (const [k, v] of Object.entries(options.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  // What this start writes to a detached log comes after what earlier starts wrote there.
  const logged = options.detachedLog && existsSync(options.detachedLog) ? statSync(options.detachedLog).size : 0;
  const logFd = options.detachedLog ? openSync(options.detachedLog, 'a') : undefined;
  const child = spawn(toolPath('temporal', 'TEMPORAL_CLI'), args, {
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
    detached: true,
  });
  if (logFd !== undefined) closeSync(logFd);
  let exited: string | undefined;
  let output = '';
  child.on('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  for (const s of [child.stdout, child.stderr]) {
    s?.on('data', (d: Buffer) => {
      if (output.length < 20_000) output += d.toString();
      options.logStream?.write(d);
    });
  }
  const outputNow = () =>
    options.detachedLog ? readFileSync(options.detachedLog).subarray(logged).toString('utf8').slice(-20_000) : output;
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    // A Go panic's cause is at its head, its stack at its tail: both are kept.
    if (exited) {
      const text = outputNow();
      throw new Error(`temporal dev server ${exited}:\n${text.length > 6000 ? `${text.slice(0, 2000)}\n…\n${text.slice(-4000)}` : text}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal dev server did not answer on ${address} within 120 s: ${String(e)}\n${outputNow().slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (options.detachedLog) child.unref();
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    process: child,
    stop: () => stopProcessGroup(child),
  };
}

/**
 * startDevServer on free ports (`port`/`uiPort` when given and free, else any): a port found free can be taken before
 * the server binds it, and the dev server also picks the ports of its internal services itself, so a start that fails
 * with "address already in use" is tried again on fresh ports, three times in all.
 */
export async function startDevServerOnFreePorts(options: DevServerOptions): Promise<DevServer> {
  return onFreePort(options.port, async (port, attempt) => {
    const uiPort = await freePort(attempt === 1 ? options.uiPort : undefined);
    try {
      return await startDevServer({ ...options, port, uiPort });
    } catch (e) {
      throw /address already in use/.test(String(e)) ? new PortTaken(e) : e;
    }
  });
}

/** SIGTERM to the whole process group, SIGKILL after 10 s; resolves when the process has exited. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}
