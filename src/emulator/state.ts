import type { HttpBindings } from '@hono/node-server';
import type { Limits } from './limits.js';
import type { Mailbox } from './mailbox.js';
import type { Authority } from './oauth.js';
import type { PubSub } from './pubsub.js';
import type { Workspace } from './workspace.js';

/** What the emulator's route modules share: the mailboxes, Google's limits, the authorization server. */
export interface EmulatorState {
  owner: string;
  limits: Limits;
  authority: Authority;
  workspace: Workspace | undefined;
  /** Cloud Pub/Sub and Gmail's watches (push notifications). */
  pubsub: PubSub;
  /** The mailbox of `email` (default the owner), generated on first use. */
  mailbox(email?: string): Mailbox;
  /** The mailboxes generated so far. */
  mailboxes(): Iterable<Mailbox>;
  /** Page tokens carry the generation they were issued in; `pageTokens/expire` starts a new one (Gmail's expire too). */
  pageTokens: { generation: number };
}

/** The Hono environment of the emulator's routes: Node's request and response, for faults that cut a connection. */
export type EmulatorEnv = { Bindings: HttpBindings };

export { HttpError } from './http-error.js';
