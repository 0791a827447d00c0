import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { HISTORY_ID } from '../workflows/contracts.js';
import { ApiError } from './errors.js';
import type { MailboxService } from './mailboxes.js';
import { commonErrors, errorSchema, json } from './schemas.js';

/**
 * Gmail push (docs/operations.md, "Push"): Gmail publishes `{emailAddress, historyId}` to a Pub/Sub topic on every
 * change of a watched mailbox, and a push subscription POSTs it here with an OIDC token Google signs. The token is
 * checked as Google documents it — signature by Google's keys, issuer, expiry, audience, and the subscription's
 * service account as `email` — and the mailbox's sync is started, or told of the change when it runs already.
 */
export type PushSettings = NonNullable<Config['api']['push']>;

const pushBody = z
  .object({
    message: z.object({
      data: z.string().min(1).openapi({ description: 'base64 of {"emailAddress": …, "historyId": …}' }),
      messageId: z.string().optional(),
      publishTime: z.string().optional(),
    }),
    subscription: z.string().optional(),
  })
  .openapi('PushMessage');

const notification = z.object({ emailAddress: z.string().email(), historyId: z.union([z.string(), z.number()]).transform(String) });

const pushOut = z
  .object({
    status: z.enum(['syncing', 'ignored']),
    account: z.string(),
    reason: z.string().optional(),
    id: z.string().optional(),
    runId: z.string().optional(),
  })
  .openapi('PushOutcome');

/** Why google-auth-library refused a token, without the token (its messages quote it whole). */
function refusal(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  const known: [RegExp, string][] = [
    [/^Wrong recipient/, 'its audience is not GMAIL_PUSH_AUDIENCE'],
    [/^Token used too late/, 'it has expired'],
    [/^Token used too early/, 'it is not valid yet'],
    [/^Invalid token signature/, 'its signature is not by Google'],
    [/^No pem found/, 'it is signed by a key Google does not publish'],
    [/^Invalid issuer/, 'its issuer is not Google'],
  ];
  return known.find(([re]) => re.test(m))?.[1] ?? 'it is not a well-formed signed token';
}

/** Checks a push request's `Authorization` and answers the service account it was minted for. */
export function pushVerifier(settings: PushSettings) {
  const client = new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: settings.certsUrl } });
  return async (authorization: string | undefined): Promise<void> => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token)
      throw new ApiError(
        401,
        'UNAUTHENTICATED',
        'push requests carry a Bearer token: give the push subscription authentication (an OIDC token)',
      );
    let payload;
    try {
      payload = (await client.verifyIdToken({ idToken: token, audience: settings.audience })).getPayload();
    } catch (err) {
      // Google's keys could not be fetched: not the token's fault; Pub/Sub delivers again later.
      // (google-auth-library's own words for it; a refused token's message can hold any text, the token's included.)
      if (err instanceof Error && err.message.startsWith('Failed to retrieve verification certificates'))
        throw new ApiError(503, 'UNAVAILABLE', "Google's token-signing keys could not be fetched; the push is delivered again");
      throw new ApiError(401, 'UNAUTHENTICATED', `push token refused: ${refusal(err)}`);
    }
    if (payload?.email?.toLowerCase() !== settings.serviceAccount || payload.email_verified !== true)
      throw new ApiError(403, 'FORBIDDEN', 'push token refused: it is not minted for GMAIL_PUSH_SERVICE_ACCOUNT');
  };
}

/** POST /push/gmail: open to Pub/Sub (no API key), authenticated by the push's OIDC token instead. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function pushRoutes(app: OpenAPIHono<any>, mailboxes: MailboxService, settings: PushSettings | undefined, logger: Logger): void {
  const verify = settings ? pushVerifier(settings) : undefined;
  app.openapi(
    createRoute({
      method: 'post',
      path: '/push/gmail',
      operationId: 'gmailPush',
      summary: 'Gmail push notification (Pub/Sub push endpoint)',
      description:
        "What a Pub/Sub push subscription on the Gmail watch topic POSTs: authenticated by its OIDC token (audience GMAIL_PUSH_AUDIENCE, minted for GMAIL_PUSH_SERVICE_ACCOUNT), not by an API key. Starts the mailbox's sync (trigger `push`), or tells the running one. 200 `ignored` for a mailbox without a sync schedule, or with its schedule paused, or while its backfill runs (acknowledged, so Pub/Sub does not deliver it again); 404 when push is not configured.",
      security: [],
      request: { body: { content: { 'application/json': { schema: pushBody } }, required: true } },
      responses: {
        ...commonErrors,
        200: json(pushOut, 'Acknowledged'),
        401: json(errorSchema, 'No token, or a token Google did not sign for this audience'),
        403: json(errorSchema, 'A token minted for another service account'),
        404: json(errorSchema, 'Push is not configured (GMAIL_PUSH_AUDIENCE)'),
      },
    }),
    async (c) => {
      if (!verify) throw new ApiError(404, 'NOT_FOUND', 'push is not configured: set GMAIL_PUSH_AUDIENCE and GMAIL_PUSH_SERVICE_ACCOUNT');
      await verify(c.req.header('authorization'));
      const { message } = c.req.valid('json');
      let parsed;
      try {
        parsed = notification.safeParse(JSON.parse(Buffer.from(message.data, 'base64').toString('utf8')));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success)
        throw new ApiError(400, 'INVALID_REQUEST', 'message.data is not base64 of a Gmail notification ({"emailAddress", "historyId"})');
      const { emailAddress, historyId } = parsed.data;
      if (!HISTORY_ID.test(historyId)) throw new ApiError(400, 'INVALID_REQUEST', "the notification's historyId is not a number");
      const outcome = await mailboxes.pushed(emailAddress.toLowerCase(), historyId);
      logger.info({ status: outcome.status, reason: outcome.reason, syncId: outcome.id, historyId }, 'gmail push');
      return c.json(outcome, 200);
    },
  );
}
