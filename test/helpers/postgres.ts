import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { stopProcessGroup } from '../../src/stack/dev-server.js';
import { onFreePort, PortTaken } from '../../src/stack/ports.js';

function pgBinDir(): string {
  const dirs = [
    process.env.PG_BINDIR,
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort()
          .reverse()
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
  ];
  for (const d of dirs) if (d && existsSync(join(d, 'postgres')) && existsSync(join(d, 'initdb'))) return d;
  throw new Error('PostgreSQL server binaries not found: run `npm run provision` (installs Debian postgresql) or set PG_BINDIR');
}

export interface TestPostgres {
  port: number;
  dsn(db: string): string;
  createDatabase(name: string): Promise<void>;
  /**
   * Restarts the server as an operator does (`pg_ctl restart -m fast`: every connection is closed), down for `downMs`,
   * on the same port and data; resolves when it accepts connections again.
   */
  restart(downMs?: number): Promise<void>;
  /** Stops the server (`-m fast`) and leaves it down until `start()`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data; resolves when it accepts connections. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL cluster on a free port, removed on stop (initdb runs as `postgres` when we are root). TCP
 * connections are trusted, or with `password` must authenticate as `postgres` with it (SCRAM).
 */
export async function startPostgres(opts: { password?: string } = {}): Promise<TestPostgres> {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'gmail-lake-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const auth = ['--auth=trust'];
  if (opts.password) {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o644 });
    auth.push('--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  execFileSync(...run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', ...auth, '-E', 'UTF8', '--no-sync']), { stdio: 'pipe' });
  // A port found free can be taken before the server binds it (other test files start servers too): a server that
  // exits while starting is started again on a fresh port, and a server answering on the port is taken for ours only
  // when its data directory is ours.
  let port = 0;
  const serve = (): ChildProcess =>
    spawn(
      ...run(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']),
      { stdio: 'ignore', detached: true },
    );
  let child: ChildProcess;
  const connect = async (database: string) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database, password: opts.password });
    await c.connect();
    return c;
  };
  /** Whether the server started serves (false when it exited first: its port was taken). */
  const accepting = async (): Promise<boolean> => {
    const deadline = Date.now() + 60_000;
    let last: unknown;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        const c = await connect('postgres');
        try {
          const { rows } = await c.query<{ data_directory: string }>('SHOW data_directory');
          if (rows[0]?.data_directory === resolve(data)) return true;
          last = `another server answers on port ${port} (data directory ${rows[0]?.data_directory})`;
        } finally {
          await c.end();
        }
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 60 s: ${String(last)}`);
      await delay(200);
    }
  };
  try {
    await onFreePort(undefined, async (p) => {
      port = p;
      child = serve();
      if (!(await accepting())) throw new PortTaken(new Error(`postgres exited while starting, on three ports in turn (last ${p})`));
    });
  } catch (e) {
    await stopProcessGroup(child!);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const halt = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGINT'); // fast shutdown: open connections are closed, as by `pg_ctl stop -m fast`
    await exited;
  };
  const start = async () => {
    child = serve();
    if (!(await accepting())) throw new Error(`postgres exited while starting again on port ${port}`);
  };
  return {
    port,
    dsn: (db) => `host=127.0.0.1 port=${port} user=postgres dbname=${db}`,
    async createDatabase(name) {
      const c = await connect('postgres');
      await c.query(`CREATE DATABASE "${name}"`);
      await c.end();
    },
    async restart(downMs = 0) {
      await halt();
      if (downMs > 0) await delay(downMs);
      await start();
    },
    halt,
    start,
    async stop() {
      await stopProcessGroup(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
