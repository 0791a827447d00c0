import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { googleError } from './gmail-responses.js';
import type { HistoryRecord } from './mailbox.js';
import { HttpError } from './http-error.js';
import { EMULATOR_PROJECT } from './workspace.js';

/** A watch lasts 7 days (Gmail's `expiration`); it must be renewed before. */
export const WATCH_TTL_MS = 7 * 24 * 3600 * 1000;
/** Gmail sends at most one notification per second for a watched user and drops the others. */
const NOTIFY_INTERVAL_MS = 1000;
/** Pub/Sub's push retry policy by default: exponential backoff from 10 s to 600 s. */
const MAX_BACKOFF_MS = 600_000;
/** Pub/Sub acknowledges a push by these statuses; any other answer (or none) is a nack, delivered again. */
const ACK = new Set([102, 200, 201, 202, 204]);
const TOPIC = /^projects\/[^/]+\/topics\/[^/]+$/;

export interface PushSubscription {
  topic: string;
  /** projects/<p>/subscriptions/<name>: what the push body names. */
  name: string;
  pushEndpoint: string;
  /** The `aud` of the OIDC token (Pub/Sub's default: the endpoint's URL). */
  audience: string;
  /** The service account the token is minted for (its `email`). */
  serviceAccountEmail: string;
  /** First retry after a nack (Pub/Sub's minimumBackoff, 10 s by default). */
  minBackoffMs: number;
}

export interface Watch {
  topicName: string;
  labelIds: string[];
  labelFilterBehavior: 'include' | 'exclude';
  expiration: number;
}

export interface Delivery {
  subscription: string;
  emailAddress: string;
  historyId: string;
  attempt: number;
  /** The endpoint's HTTP status, or the network error. */
  outcome: number | string;
  at: string;
}

/**
 * Cloud Pub/Sub as Gmail push uses it: topics (each granting Gmail's publisher or not), push subscriptions that POST
 * each message with an OIDC token Google signs (RS256; its keys at `/oauth2/v1/certs`, as www.googleapis.com serves
 * them) and retry a nack with backoff; and Gmail's side, `users.watch`: one watch per user, 7 days, label filters, at
 * most one notification a second.
 */
export class PubSub {
  private readonly key: KeyObject;
  private readonly publicPem: string;
  readonly kid = randomBytes(20).toString('hex');
  private readonly topics = new Map<string, { gmailPublisher: boolean; subscriptions: PushSubscription[] }>();
  private readonly watches = new Map<string, Watch>();
  private readonly lastNotified = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextMessageId = 1_000_000_000_000;
  private closed = false;
  /** Every delivery attempt, oldest first (GET /_emulator/pubsub/deliveries). */
  readonly deliveries: Delivery[] = [];
  /** Notifications Gmail dropped (over one a second for a user). */
  dropped = 0;
  /** Notifications published. */
  published = 0;

  /** How long a watch lasts (7 days; shorter to play its expiry: tests may change it between watches). */
  constructor(
    public watchTtlMs = WATCH_TTL_MS,
    /** Keeps the users' watches across restarts, as Gmail keeps them (`gmail-lake up --emulator` after a `down`). */
    private readonly stateFile?: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.key = privateKey;
    this.publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    if (stateFile && existsSync(stateFile))
      for (const [user, w] of JSON.parse(readFileSync(stateFile, 'utf8')) as [string, Watch][]) this.watches.set(user, w);
  }

  private save(): void {
    if (this.stateFile) writeFileSync(this.stateFile, JSON.stringify([...this.watches]));
  }

  /** Google's signing keys, kid → PEM (what `OAuth2Client.verifyIdToken` fetches). */
  certs(): Record<string, string> {
    return { [this.kid]: this.publicPem };
  }

  /** Creates a topic (if new) and a push subscription on it. */
  subscribe(s: {
    topic: string;
    pushEndpoint: string;
    audience?: string;
    serviceAccountEmail?: string;
    minBackoffMs?: number;
    gmailPublisher?: boolean;
    name?: string;
  }): PushSubscription {
    if (!TOPIC.test(s.topic)) throw new HttpError(400, { error: 'topic: projects/<project>/topics/<name>' });
    new URL(s.pushEndpoint);
    const project = s.topic.split('/')[1]!;
    const topic = this.topics.get(s.topic) ?? { gmailPublisher: s.gmailPublisher ?? true, subscriptions: [] };
    if (s.gmailPublisher !== undefined) topic.gmailPublisher = s.gmailPublisher;
    const sub: PushSubscription = {
      topic: s.topic,
      name: `projects/${project}/subscriptions/${s.name ?? `gmail-push-${topic.subscriptions.length + 1}`}`,
      pushEndpoint: s.pushEndpoint,
      audience: s.audience ?? s.pushEndpoint,
      serviceAccountEmail: s.serviceAccountEmail ?? `gmail-push@${project}.iam.gserviceaccount.com`,
      minBackoffMs: s.minBackoffMs ?? 10_000,
    };
    topic.subscriptions.push(sub);
    this.topics.set(s.topic, topic);
    return sub;
  }

  /**
   * users.watch: replaces the user's watch. The topic must be in the caller's own Cloud project (Gmail: it "must
   * exactly match your Google developer project id"), exist, and let Gmail publish to it.
   */
  watch(
    user: string,
    body: Record<string, unknown>,
    historyId: number,
    project = EMULATOR_PROJECT,
  ): { historyId: string; expiration: string } {
    const topicName = typeof body.topicName === 'string' ? body.topicName : '';
    if (!TOPIC.test(topicName) || topicName.split('/')[1] !== project)
      throw new HttpError(400, googleError(400, `Invalid topicName does not match projects/${project}/topics/*`, 'invalidArgument'));
    const topic = this.topics.get(topicName);
    if (!topic) throw new HttpError(404, googleError(404, `Resource not found (resource=${topicName.split('/')[3]}).`, 'notFound'));
    if (!topic.gmailPublisher)
      throw new HttpError(
        403,
        googleError(
          403,
          `Error sending test message to Cloud PubSub ${topicName} : User not authorized to perform this action.`,
          'forbidden',
        ),
      );
    const given = body.labelFilterBehavior ?? body.labelFilterAction;
    const behavior = typeof given === 'string' ? given.toLowerCase() : 'include';
    const expiration = Date.now() + this.watchTtlMs;
    this.watches.set(user, {
      topicName,
      labelIds: Array.isArray(body.labelIds) ? body.labelIds.map(String) : [],
      labelFilterBehavior: behavior === 'exclude' ? 'exclude' : 'include',
      expiration,
    });
    this.save();
    return { historyId: String(historyId), expiration: String(expiration) };
  }

  /** users.stop. */
  stop(user: string): void {
    this.watches.delete(user);
    this.save();
  }

  watchOf(user: string): Watch | undefined {
    return this.watches.get(user);
  }

  /** Plays the 7 days passing: the user's watch lapses now. */
  expireWatch(user: string): boolean {
    const w = this.watches.get(user);
    if (w) w.expiration = Date.now();
    this.save();
    return !!w;
  }

  /** A change to a mailbox: Gmail publishes `{emailAddress, historyId}` when a live watch's filter lets it through. */
  changed(user: string, record: HistoryRecord, historyId: number): void {
    const w = this.watches.get(user);
    if (!w || w.expiration <= Date.now() || !passes(w, record)) return;
    const now = Date.now();
    if (now - (this.lastNotified.get(user) ?? -Infinity) < NOTIFY_INTERVAL_MS) {
      this.dropped++;
      return;
    }
    this.lastNotified.set(user, now);
    this.published++;
    const data = Buffer.from(JSON.stringify({ emailAddress: user, historyId })).toString('base64');
    const messageId = String(this.nextMessageId++);
    const publishTime = new Date(now).toISOString();
    for (const sub of this.topics.get(w.topicName)?.subscriptions ?? [])
      void this.deliver(
        sub,
        { data, messageId, message_id: messageId, publishTime, publish_time: publishTime, attributes: {} },
        user,
        String(historyId),
        1,
      );
  }

  private async deliver(sub: PushSubscription, message: Record<string, unknown>, user: string, historyId: string, attempt: number) {
    if (this.closed) return;
    let outcome: number | string;
    try {
      const res = await fetch(sub.pushEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token(sub)}` },
        body: JSON.stringify({ message, subscription: sub.name }),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      outcome = res.status;
    } catch (e) {
      outcome = (e as Error).message;
    }
    this.deliveries.push({ subscription: sub.name, emailAddress: user, historyId, attempt, outcome, at: new Date().toISOString() });
    if ((typeof outcome === 'number' && ACK.has(outcome)) || this.closed) return;
    const backoff = Math.min(MAX_BACKOFF_MS, sub.minBackoffMs * 2 ** (attempt - 1));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.deliver(sub, message, user, historyId, attempt + 1);
    }, backoff);
    timer.unref();
    this.timers.add(timer);
  }

  /** The OIDC token Pub/Sub attaches to a push: signed by Google, for the subscription's audience and account. */
  token(
    sub: Pick<PushSubscription, 'audience' | 'serviceAccountEmail'>,
    forge: { key?: KeyObject; kid?: string; issuedAt?: number; issuer?: string; emailVerified?: boolean } = {},
  ): string {
    const { key = this.key, kid = this.kid } = forge;
    const iat = Math.floor((forge.issuedAt ?? Date.now()) / 1000);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = enc({ alg: 'RS256', kid, typ: 'JWT' });
    // The service account's numeric id (Google's `sub` and `azp`), made up from its address.
    const accountId = '1' + sub.serviceAccountEmail.length.toString().padStart(20, '0');
    const body = enc({
      aud: sub.audience,
      azp: accountId,
      email: sub.serviceAccountEmail,
      email_verified: forge.emailVerified ?? true,
      exp: iat + 3600,
      iat,
      iss: forge.issuer ?? 'https://accounts.google.com',
      sub: accountId,
    });
    return `${head}.${body}.${sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Whether a watch's label filter lets a change through: include = some changed message carries one of the labels. */
function passes(w: Watch, record: HistoryRecord): boolean {
  if (!w.labelIds.length) return true;
  const labelSets = [
    ...(record.messagesAdded ?? []),
    ...(record.messagesDeleted ?? []),
    ...(record.labelsAdded ?? []),
    ...(record.labelsRemoved ?? []),
  ].map((x) => x.message.labelIds);
  const carries = (labels: string[]) => labels.some((l) => w.labelIds.includes(l));
  return w.labelFilterBehavior === 'include' ? labelSets.some(carries) : labelSets.some((l) => !carries(l));
}
