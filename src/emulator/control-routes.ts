import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { type EmulatorEnv, type EmulatorState, HttpError } from './state.js';

/**
 * The emulator's own routes under `/_emulator` (no Google counterpart): health, settings (quotas, faults), counters,
 * the client file and service-account key, what tests and demos do to a mailbox as its owner would in Gmail (new
 * mail, deletions, label changes) and to Google's state (tokens revoked or expired, page tokens and history expired),
 * and each mailbox's manifest (the ground truth a lake is compared with).
 */
export function controlRoutes(state: EmulatorState, baseUrl: () => string): Hono<EmulatorEnv> {
  const { limits, authority } = state;
  const app = new Hono<EmulatorEnv>();
  app.get('/health', (c) => c.json({ ok: true, pid: process.pid }));
  app.get('/settings', (c) => c.json(limits.settings));
  app.patch('/settings', async (c) => {
    let s;
    try {
      s = limits.update(await body(c));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, { error: String(e) });
    }
    for (const mb of state.mailboxes()) mb.historyRetention = s.historyRetention;
    return c.json(s);
  });
  app.get('/stats', (c) => c.json({ methods: limits.snapshot() }));
  app.post('/stats/reset', (c) => (limits.resetStats(), c.json({ ok: true })));
  app.post('/tokens/revoke', async (c) => {
    const given = (await body(c)).refresh_token;
    const rt = typeof given === 'string' ? given : '';
    authority.revokeRefreshToken(rt);
    return c.json({ revoked: rt });
  });
  app.post('/tokens/expire', (c) => (authority.expireAccessTokens(), c.json({ ok: true })));
  app.post('/pageTokens/expire', (c) => c.json({ generation: ++state.pageTokens.generation }));
  app.get('/client-secret.json', (c) => c.json(authority.clientFile(baseUrl(), c.req.query('type') === 'web' ? 'web' : 'installed')));
  app.get('/service-account', (c) => {
    if (!state.workspace) throw new HttpError(404, { error: 'no workspace: start the emulator with a domain' });
    return c.json(state.workspace.key);
  });

  app.get('/users/:user/manifest', async (c) => {
    const mb = state.mailbox(c.req.param('user'));
    const res = c.env.outgoing;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = mb.indexLimit - 1; i >= 0; i--) {
      const v = mb.view(i);
      if (!v) continue;
      const line = JSON.stringify({
        id: v.id,
        threadId: v.threadId,
        internalDate: v.internalDate,
        labelIds: v.labelIds,
        from: v.from.address,
        to: v.to,
        subject: v.subject,
        hasAttachment: v.hasAttachment,
        sha256: mb.checksum(i),
      });
      if (!res.write(line + '\n')) await new Promise((r) => res.once('drain', r));
    }
    res.end();
    return RESPONSE_ALREADY_SENT;
  });
  app.post('/users/:user/messages', async (c) => {
    const b = await body(c);
    const mb = state.mailbox(c.req.param('user'));
    const count = Number(b.count ?? 1);
    const raw = typeof b.raw === 'string' ? Buffer.from(b.raw, 'base64') : undefined;
    const labelIds = Array.isArray(b.labelIds) ? (b.labelIds as string[]) : undefined;
    const added = Array.from({ length: raw ? 1 : count }, () => mb.add({ raw, labelIds }));
    return c.json({ messages: added.map((v) => ({ id: v.id, threadId: v.threadId })), historyId: String(mb.historyId) });
  });
  // Many messages at once, one history record per message (as Gmail's batchDelete / batchModify do).
  app.post('/users/:user/messages/:batch{batchDelete|batchModify}', async (c) => {
    const b = await body(c);
    const mb = state.mailbox(c.req.param('user'));
    const ids = Array.isArray(b.ids) ? (b.ids as unknown[]).map(String) : [];
    const missing: string[] = [];
    const add = Array.isArray(b.add) ? (b.add as string[]) : [];
    const remove = Array.isArray(b.remove) ? (b.remove as string[]) : [];
    for (const id of ids) {
      const index = mb.indexOf(id);
      const done = index !== undefined && (c.req.param('batch') === 'batchDelete' ? mb.delete(index) : mb.relabel(index, add, remove));
      if (!done) missing.push(id);
    }
    return c.json({ changed: ids.length - missing.length, missing, historyId: String(mb.historyId) });
  });
  app.delete('/users/:user/messages/:id', (c) => {
    const mb = state.mailbox(c.req.param('user'));
    const index = mb.indexOf(c.req.param('id'));
    if (index === undefined || !mb.delete(index)) throw new HttpError(404, { error: 'no such message' });
    return c.json({ deleted: c.req.param('id'), historyId: String(mb.historyId) });
  });
  // A user label renamed (PATCH {name}) or deleted (DELETE: it leaves every message, each change in history).
  app.patch('/users/:user/labels/:id', async (c) => {
    const name = (await body(c)).name;
    if (typeof name !== 'string' || !name) throw new HttpError(400, { error: 'name: a non-empty string' });
    if (!state.mailbox(c.req.param('user')).renameLabel(c.req.param('id'), name)) throw new HttpError(404, { error: 'no such user label' });
    return c.json({ id: c.req.param('id'), name });
  });
  app.delete('/users/:user/labels/:id', (c) => {
    const mb = state.mailbox(c.req.param('user'));
    const messages = mb.deleteLabel(c.req.param('id'));
    if (messages < 0) throw new HttpError(404, { error: 'no such user label' });
    return c.json({ deleted: c.req.param('id'), messages, historyId: String(mb.historyId) });
  });
  app.post('/users/:user/messages/:id/labels', async (c) => {
    const b = await body(c);
    const mb = state.mailbox(c.req.param('user'));
    const index = mb.indexOf(c.req.param('id'));
    const v = index === undefined ? undefined : mb.relabel(index, (b.add as string[]) ?? [], (b.remove as string[]) ?? []);
    if (!v) throw new HttpError(404, { error: 'no such message' });
    return c.json({ id: v.id, labelIds: v.labelIds, historyId: String(mb.historyId) });
  });
  // A Workspace user deleted mid-run: unlisted, refused a token ('Invalid email or User ID'), and every Gmail call with
  // an access token minted before answers 400 Mail service not enabled (failedPrecondition), as for gmailDisabled.
  app.post('/users/:user/delete', (c) => {
    const user = c.req.param('user').toLowerCase();
    if (!state.workspace) throw new HttpError(404, { error: 'no workspace: start the emulator with a domain' });
    if (!state.workspace.delete(user)) throw new HttpError(404, { error: `no user ${user} in ${state.workspace.options.domain}` });
    limits.update({ gmailDisabled: [...new Set([...limits.settings.gmailDisabled, user])] });
    return c.json({ deleted: user });
  });
  // Cloud Pub/Sub: a push subscription (its topic created when new), and every push attempted so far.
  app.post('/pubsub/subscriptions', async (c) => {
    const b = await body(c);
    const str = (k: string) => {
      const v = b[k];
      return typeof v === 'string' ? v : undefined;
    };
    const topic = str('topic');
    const pushEndpoint = str('pushEndpoint');
    if (!topic || !pushEndpoint) throw new HttpError(400, { error: 'topic and pushEndpoint: strings' });
    try {
      new URL(pushEndpoint);
    } catch {
      throw new HttpError(400, { error: `pushEndpoint: not a URL (${pushEndpoint})` });
    }
    const sub = state.pubsub.subscribe({
      topic,
      pushEndpoint,
      audience: str('audience'),
      serviceAccountEmail: str('serviceAccountEmail'),
      minBackoffMs: typeof b.minBackoffMs === 'number' ? b.minBackoffMs : undefined,
      gmailPublisher: typeof b.gmailPublisher === 'boolean' ? b.gmailPublisher : undefined,
    });
    return c.json(sub);
  });
  app.get('/pubsub/deliveries', (c) => c.json({ deliveries: state.pubsub.deliveries, dropped: state.pubsub.dropped }));
  // A user's watch, and the 7 days passing for it (it lapses now: no more notifications until renewed).
  app.get('/users/:user/watch', (c) => {
    const w = state.pubsub.watchOf(c.req.param('user').toLowerCase());
    if (!w) throw new HttpError(404, { error: 'no watch' });
    return c.json({ ...w, expiration: String(w.expiration), live: w.expiration > Date.now() });
  });
  app.post('/users/:user/watch/expire', (c) => {
    if (!state.pubsub.expireWatch(c.req.param('user').toLowerCase())) throw new HttpError(404, { error: 'no watch' });
    return c.json({ expired: true });
  });
  app.post('/users/:user/history/expire', (c) => {
    const mb = state.mailbox(c.req.param('user'));
    mb.expireHistory();
    return c.json({ oldestValidHistoryId: String(mb.oldestValidHistoryId) });
  });
  return app;
}

/** The request's JSON object body ({} when empty). */
async function body(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, { error: 'body is not JSON' });
  }
}
