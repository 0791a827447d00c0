import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { controlRoutes } from './control-routes.js';
import { GeneratedMailbox, type LargeMessages } from './generate.js';
import { gmailRoutes } from './gmail-routes.js';
import { googleError } from './gmail-responses.js';
import { Limits, type SettingsInput } from './limits.js';
import { LoadedMail, readMailSource } from './load.js';
import { Mailbox } from './mailbox.js';
import { Authority, DEFAULT_CLIENT, type OAuthClient, WEB_CLIENT } from './oauth.js';
import { PubSub, type PushSubscription } from './pubsub.js';
import { type EmulatorEnv, type EmulatorState, HttpError } from './state.js';
import { Workspace, type WorkspaceOptions } from './workspace.js';

export { DEFAULT_CLIENT } from './oauth.js';

export interface EmulatorOptions {
  /** Port to bind (0 = any free port). Default 0. */
  port?: number;
  host?: string;
  /** Seed of the generated mailboxes. Default "gmail-lake". */
  seed?: string;
  /** Messages per generated mailbox. Default 1000. */
  messages?: number;
  /** Sizes of particular mailboxes (address → messages), overriding `messages` for them. */
  sizes?: Record<string, number>;
  /** Large messages in every generated mailbox (Gmail's largest: 25 MB of attachments, ~35 MB raw). Default none. */
  large?: LargeMessages;
  /**
   * How a Workspace user's mailbox size spreads around `messages`: `varied` (default) between a third and twice it;
   * `long-tail` as real domains (a Pareto of shape 1.5 with mean `messages`, capped at 30×: most mailboxes small, a
   * few very large).
   */
  userSizes?: 'varied' | 'long-tail';
  /** Share of generated messages that reply to the one before: 0.35 by default (threads of ~1.5); 0.8 gives ~4.5. */
  replyRate?: number;
  /** The address `me` resolves to. Default user@example.com. */
  owner?: string;
  /** Serve this .mbox file or folder of .eml files as the owner's mailbox instead of generated mail. */
  mbox?: string;
  /** OAuth client credentials the token endpoint accepts. */
  clientId?: string;
  clientSecret?: string;
  /** Refresh tokens it accepts, each with the mailbox it grants ("*" = any mailbox, like domain-wide delegation). */
  refreshTokens?: Record<string, string>;
  /** Keep the refresh tokens it issues in this file across restarts (see Authority). */
  oauthStateFile?: string;
  settings?: SettingsInput;
  /**
   * historyId of an unchanged mailbox. Default 1,000,000 (deterministic). A process that restarts the emulator over a
   * lake it filled before passes a larger one each time (e.g. the clock), as Gmail's history ids only ever grow.
   */
  historyIdBase?: number;
  /**
   * A Workspace domain: a directory of users, each with a generated mailbox (sizes varied between a third of and twice
   * `messages`), and a service account with domain-wide delegation (JWT-bearer grant; its key at
   * `GET /_emulator/service-account`). The owner is the domain's admin.
   */
  workspace?: WorkspaceOptions;
  /**
   * Gmail push: a Pub/Sub topic with a push subscription POSTing to `pushEndpoint` (more: `POST
   * /_emulator/pubsub/subscriptions`). `users.watch` on that topic then notifies the endpoint of every change.
   */
  push?: { topic: string; pushEndpoint: string; audience?: string; serviceAccountEmail?: string; minBackoffMs?: number };
  /** How long a `users.watch` lasts: 7 days, as Gmail's (shorter to play its expiry). */
  watchTtlMs?: number;
  /** Keep the users' watches in this file across restarts (Gmail keeps them). */
  watchStateFile?: string;
}

export interface RunningEmulator {
  url: string;
  port: number;
  tokenUrl: string;
  server: Server;
  /** The authorization server (consent page, token and revoke endpoints). */
  authority: Authority;
  /** The Desktop client's file, as the Cloud console downloads it (`{"installed": …}`), pointing at this emulator. */
  clientFile(type?: 'installed' | 'web'): Record<string, unknown>;
  limits: Limits;
  /** The Workspace domain, when `workspace` was given (its service-account key: `workspace.key`). */
  workspace?: Workspace;
  mailbox(email?: string): Mailbox;
  /** Cloud Pub/Sub and the users' watches. */
  pubsub: PubSub;
  /** Adds a push subscription (e.g. once the API it POSTs to is up). */
  subscribe(s: Parameters<PubSub['subscribe']>[0]): PushSubscription;
  close(): Promise<void>;
}

/** Starts the Gmail-API-compatible emulator (Gmail REST v1 paths, OAuth token endpoint, control endpoints), one Hono app. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const seed = options.seed ?? 'gmail-lake';
  const size = options.messages ?? 1000;
  const owner = (options.owner ?? 'user@example.com').toLowerCase();
  const clientId = options.clientId ?? DEFAULT_CLIENT.clientId;
  const clientSecret = options.clientSecret ?? DEFAULT_CLIENT.clientSecret;
  const workspace = options.workspace ? new Workspace(options.workspace, owner) : undefined;
  const limits = new Limits(options.settings ?? {}, seed);
  const desktop: OAuthClient = { clientId, clientSecret, type: 'installed', redirectUris: ['http://localhost'] };
  const authority = new Authority({
    clients: [desktop, WEB_CLIENT],
    refreshTokens: options.refreshTokens ?? { [DEFAULT_CLIENT.refreshToken]: '*' },
    owner,
    limits,
    workspace,
    stateFile: options.oauthStateFile,
  });
  const mailboxes = new Map<string, Mailbox>();
  const pubsub = new PubSub(options.watchTtlMs, options.watchStateFile);
  if (options.push) pubsub.subscribe(options.push);
  const loaded = options.mbox ? readMailSource(options.mbox) : undefined;

  const mailbox = (email = owner): Mailbox => {
    const key = email.toLowerCase();
    let m = mailboxes.get(key);
    if (!m) {
      const mbSeed = `${seed}:${key}`;
      const n =
        options.sizes?.[key] ?? (workspace?.user(key) && key !== owner ? variedSize(`${seed}:${key}`, size, options.userSizes) : size);
      const base =
        key === owner && loaded
          ? new LoadedMail(mbSeed, loaded, owner)
          : new GeneratedMailbox(mbSeed, n, key, options.large, options.replyRate);
      const created = new Mailbox(key, base, limits.settings.historyRetention, options.historyIdBase);
      created.onChange = (record) => pubsub.changed(key, record, created.historyId);
      mailboxes.set(key, created);
      m = created;
    }
    return m;
  };

  const state: EmulatorState = {
    owner,
    limits,
    authority,
    workspace,
    pubsub,
    mailbox,
    mailboxes: () => mailboxes.values(),
    pageTokens: { generation: 0 },
  };
  let url = '';
  const app = new Hono<EmulatorEnv>();
  app.route('/', authority.app);
  app.route('/', gmailRoutes(state));
  app.route(
    '/_emulator',
    controlRoutes(state, () => url),
  );
  // The one 404 (Hono applies no sub-app's notFound): the control routes' own shape under /_emulator, Google's elsewhere.
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    return path.startsWith('/_emulator/')
      ? c.json({ error: `no control route ${c.req.method} ${path.slice('/_emulator/'.length)}` }, 404)
      : c.json(googleError(404, 'Not Found', 'notFound'), 404);
  });
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.body, err.status as ContentfulStatusCode);
    console.error('[emulator] internal error', err);
    return c.json(googleError(500, 'Internal error', 'backendError'), 500);
  });
  const listener = getRequestListener(app.fetch);
  const server = createServer({ keepAlive: true, keepAliveTimeout: 30_000 }, (req, res) => void listener(req, res));

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  url = `http://${options.host ?? '127.0.0.1'}:${port}/`;
  return {
    url,
    port,
    tokenUrl: `${url}token`,
    server,
    authority,
    clientFile: (type = 'installed') => authority.clientFile(url, type),
    limits,
    workspace,
    mailbox,
    pubsub,
    subscribe: (s) => pubsub.subscribe(s),
    close: () =>
      new Promise<void>((resolve) => {
        pubsub.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Workspace user's mailbox size: between a third of and twice `size`, fixed by the seed (so fairness shows). */
function variedSize(seed: string, size: number, spread: 'varied' | 'long-tail' = 'varied'): number {
  const x = createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
  if (spread === 'varied') return Math.max(1, Math.round(size * (1 / 3 + (5 / 3) * x)));
  // Pareto, shape α = 1.5: scale m = size × (α − 1) / α gives a mean of `size`; 1 − x is in (0, 1].
  const alpha = 1.5;
  return Math.max(1, Math.round(Math.min(30 * size, ((size * (alpha - 1)) / alpha) * (1 - x) ** (-1 / alpha))));
}
