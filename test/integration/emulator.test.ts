import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { gmail_v1 } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import { parseMime } from '../../src/mime/parse.js';
import { attachmentIdFor, INLINE_LIMIT } from '../../src/emulator/gmail-responses.js';
import { DEFAULT_CLIENT, type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { control, gmailClient } from '../helpers/emulator.js';
import { manifest, type ManifestEntry } from '../helpers/verify.js';
import { waitFor } from '../helpers/ports.js';

async function listAll(gmail: gmail_v1.Gmail, params: gmail_v1.Params$Resource$Users$Messages$List = {}): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const r = await gmail.users.messages.list({ userId: 'me', maxResults: 500, ...params, pageToken });
    ids.push(...(r.data.messages ?? []).map((m) => m.id!));
    pageToken = r.data.nextPageToken ?? undefined;
  } while (pageToken);
  return ids;
}

describe('a 400-message mailbox through googleapis', () => {
  let emu: RunningEmulator;
  let gmail: gmail_v1.Gmail;
  let truth: ManifestEntry[];
  before(async () => {
    emu = await startEmulator({ seed: 'fidelity', messages: 400 });
    gmail = gmailClient(emu).gmail;
    truth = await manifest(emu);
  });
  after(async () => emu.close());

  test('list pages cover the manifest exactly, newest first; getProfile agrees', async () => {
    const ids = await listAll(gmail, { includeSpamTrash: true, maxResults: 37 });
    assert.deepEqual(
      ids,
      truth.map((e) => e.id),
    );
    const dates = truth.map((e) => e.internalDate);
    assert.deepEqual(
      dates,
      [...dates].sort((a, b) => b - a),
    );
    const profile = await gmail.users.getProfile({ userId: 'me' });
    assert.equal(profile.data.messagesTotal, 400);
    assert.equal(profile.data.emailAddress, 'user@example.com');
    const defaultList = await listAll(gmail);
    assert.deepEqual(
      defaultList,
      truth.filter((e) => !e.labelIds.includes('SPAM') && !e.labelIds.includes('TRASH')).map((e) => e.id),
    );
  });

  test('every message in every format; full agrees with raw; raw matches the manifest checksum; attachments fetchable', async () => {
    const { createHash } = await import('node:crypto');
    let attachments = 0;
    for (const e of truth) {
      const [minimal, metadata, full, raw] = await Promise.all(
        (['minimal', 'metadata', 'full', 'raw'] as const).map((format) =>
          gmail.users.messages.get({
            userId: 'me',
            id: e.id,
            format,
            metadataHeaders: format === 'metadata' ? ['Subject', 'From'] : undefined,
          }),
        ),
      );
      const bytes = Buffer.from(raw!.data.raw!, 'base64url');
      assert.equal(createHash('sha256').update(bytes).digest('hex'), e.sha256);
      assert.equal(minimal!.data.payload, undefined);
      assert.deepEqual(metadata!.data.payload!.headers!.map((h) => h.name!.toLowerCase()).sort(), ['from', 'subject']);
      const expected = parseMime(bytes, { inlineLimit: INLINE_LIMIT, attachmentId: (p) => attachmentIdFor(e.id, p) }).payload;
      assert.deepEqual(full!.data.payload, JSON.parse(JSON.stringify(expected)));
      for (const snippetOf of [minimal, metadata, full]) assert.equal(snippetOf!.data.snippet, raw!.data.snippet);
      assert.equal(full!.data.sizeEstimate, bytes.length);
      const part = (full!.data.payload!.parts ?? []).flatMap((p) => [p, ...(p.parts ?? [])]).find((p) => p.body?.attachmentId);
      if (part && attachments < 20) {
        attachments++;
        const a = await gmail.users.messages.attachments.get({ userId: 'me', messageId: e.id, id: part.body!.attachmentId! });
        assert.equal(a.data.size, part.body!.size);
        assert.equal(Buffer.from(a.data.data!, 'base64url').length, part.body!.size);
      }
    }
    assert.ok(attachments > 5);
  });

  test('threads.get answers every message of the thread as messages.get does, oldest first; 404 and raw refused as Gmail', async () => {
    const byThread = new Map<string, ManifestEntry[]>();
    for (const e of truth) byThread.set(e.threadId, [...(byThread.get(e.threadId) ?? []), e]);
    const threads = [...byThread.entries()].filter(([, members]) => members.length >= 3).slice(0, 10);
    assert.ok(threads.length >= 5, 'threads of three messages or more');
    for (const [threadId, members] of threads) {
      for (const format of ['full', 'metadata'] as const) {
        const t = await gmail.users.threads.get({ userId: 'me', id: threadId, format });
        const oldestFirst = [...members].sort((a, b) => a.internalDate - b.internalDate).map((e) => e.id);
        assert.deepEqual(
          t.data.messages!.map((m) => m.id),
          oldestFirst,
        );
        for (const m of t.data.messages!) assert.deepEqual(m, (await gmail.users.messages.get({ userId: 'me', id: m.id!, format })).data);
      }
    }
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: { status?: number }) => e.status,
      );
    assert.equal(await status(gmail.users.threads.get({ userId: 'me', id: 'ffffffffffffffff' })), 404);
    assert.equal(await status(gmail.users.threads.get({ userId: 'me', id: threads[0]![0], format: 'raw' })), 400);
  });

  test('q filters select exactly what an independent filter over the manifest selects', async () => {
    const day = (s: string, offset = 'Z') => Date.parse(`${s}T00:00:00${offset}`);
    const visible = (e: ManifestEntry) => !e.labelIds.includes('SPAM') && !e.labelIds.includes('TRASH');
    const cases: [string, (e: ManifestEntry) => boolean][] = [
      // Gmail's API reads dates as Pacific midnights: PST in January, PDT in June.
      [
        'after:2021/01/01 before:2023/06/30',
        (e) => e.internalDate >= day('2021-01-01', '-08:00') && e.internalDate < day('2023-06-30', '-07:00'),
      ],
      [`after:${day('2024-03-01') / 1000}`, (e) => e.internalDate >= day('2024-03-01')],
      ['has:attachment', (e) => e.hasAttachment],
      ['-has:attachment label:inbox', (e) => !e.hasAttachment && e.labelIds.includes('INBOX')],
      ['label:projects', (e) => e.labelIds.includes('Label_1')],
      ['is:unread is:starred', (e) => e.labelIds.includes('UNREAD') && e.labelIds.includes('STARRED')],
      ['from:example.org', (e) => e.from.includes('example.org')],
      ['to:user@example.com -in:sent', (e) => e.to.includes('user@example.com') && !e.labelIds.includes('SENT')],
      ['subject:"Re:"', (e) => e.subject.toLowerCase().includes('re:')],
      ['older_than:3y', (e) => e.internalDate < new Date(new Date().setUTCFullYear(new Date().getUTCFullYear() - 3)).getTime()],
    ];
    // A winter message sent before 08:00 UTC is on the day before in Pacific time: `after:` its UTC date leaves it out.
    const early = truth.find(
      (e) => visible(e) && [11, 0].includes(new Date(e.internalDate).getUTCMonth()) && new Date(e.internalDate).getUTCHours() < 8,
    );
    assert.ok(early, 'a winter message sent before 08:00 UTC');
    const date = new Date(early.internalDate).toISOString().slice(0, 10);
    const next = new Date(Date.parse(date) + 20 * 86_400_000).toISOString().slice(0, 10);
    cases.push([
      `after:${date.replaceAll('-', '/')} before:${next.replaceAll('-', '/')}`,
      (e) => e.internalDate >= day(date, '-08:00') && e.internalDate < day(next, '-08:00'),
    ]);
    for (const [q, pred] of cases) {
      const got = await listAll(gmail, { q, maxResults: 50 });
      const want = truth.filter((e) => visible(e) && pred(e)).map((e) => e.id);
      assert.ok(want.length > 0, `${q} selects something`);
      assert.deepEqual(got, want, q);
    }
    assert.deepEqual(
      await listAll(gmail, { q: 'in:spam' }),
      truth.filter((e) => e.labelIds.includes('SPAM')).map((e) => e.id),
    );
    await assert.rejects(gmail.users.messages.list({ userId: 'me', q: 'bogus:thing' }), (e: { status?: number }) => e.status === 400);
  });

  test('history.list returns exactly the changes made through the control endpoints, and 404 past retention', async () => {
    const start = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
    const added = (await control(emu, 'POST', 'users/user@example.com/messages', { count: 2 })) as { messages: { id: string }[] };
    const victim = truth[5]!.id;
    await control(emu, 'DELETE', `users/user@example.com/messages/${victim}`);
    await control(emu, 'POST', `users/user@example.com/messages/${truth[6]!.id}/labels`, { add: ['STARRED'], remove: ['UNREAD', 'INBOX'] });
    const h = await gmail.users.history.list({ userId: 'me', startHistoryId: start });
    const records = h.data.history ?? [];
    assert.equal(records.length, 4);
    assert.deepEqual(
      records.flatMap((r) => (r.messagesAdded ?? []).map((a) => a.message!.id)),
      added.messages.map((m) => m.id),
    );
    assert.deepEqual(
      records.flatMap((r) => (r.messagesDeleted ?? []).map((a) => a.message!.id)),
      [victim],
    );
    assert.deepEqual(
      records.flatMap((r) => r.labelsAdded ?? []).map((l) => l.labelIds),
      [['STARRED']],
    );
    const onlyAdds = await gmail.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['messageAdded'] });
    assert.equal(onlyAdds.data.history?.length, 2);
    const ids = await listAll(gmail, { includeSpamTrash: true });
    assert.ok(!ids.includes(victim));
    assert.deepEqual(ids.slice(0, 2), added.messages.map((m) => m.id).reverse(), 'added messages are the newest');
    await assert.rejects(gmail.users.messages.get({ userId: 'me', id: victim }), (e: { status?: number }) => e.status === 404);
    await control(emu, 'POST', 'users/user@example.com/history/expire');
    await assert.rejects(gmail.users.history.list({ userId: 'me', startHistoryId: start }), (e: { status?: number }) => e.status === 404);
  });
});

describe('OAuth token endpoint drives google-auth-library as Google does', () => {
  test('refresh grants tokens; expired access tokens are refreshed; revoked refresh tokens get invalid_grant', async () => {
    const emu = await startEmulator({ messages: 10, settings: { accessTokenTtl: 3600 } });
    try {
      const { auth, gmail } = gmailClient(emu);
      const first = await auth.getAccessToken();
      assert.match(first.token ?? '', /^ya29\./);
      const unknown = gmailClient(emu, 'not-a-token');
      await assert.rejects(unknown.gmail.users.getProfile({ userId: 'me' }), /invalid_grant/);
      const raw = await fetch(`${emu.url}gmail/v1/users/me/profile`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(raw.status, 401);
      assert.equal(((await raw.json()) as { error: { status: string } }).error.status, 'UNAUTHENTICATED');
      await control(emu, 'POST', 'tokens/expire');
      const expired = await fetch(`${emu.url}gmail/v1/users/me/profile`, { headers: { authorization: `Bearer ${first.token}` } });
      assert.equal(expired.status, 401);
      const refreshed = await gmail.users.getProfile({ userId: 'me' });
      assert.equal(refreshed.status, 200, 'a 401 on an expired token is followed by one refresh');
      assert.notEqual((await auth.getAccessToken()).token, first.token);
      await control(emu, 'POST', 'tokens/revoke', { refresh_token: DEFAULT_CLIENT.refreshToken });
      const again = gmailClient(emu);
      await assert.rejects(again.gmail.users.getProfile({ userId: 'me' }), /invalid_grant/);
    } finally {
      await emu.close();
    }
  });
});

describe('quotas and faults', () => {
  /** Requests from `concurrency` clients for `ms`, or until `requests` were answered (a count that load cannot shrink). */
  async function hammer(emu: RunningEmulator, ms: number, concurrency: number, requests = Infinity) {
    const token = (await gmailClient(emu).auth.getAccessToken()).token!;
    const id = (await manifest(emu))[0]!.id;
    const counts: Record<string, number> = {};
    const end = Date.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        let sent = 0;
        while (Date.now() < end && sent++ < requests / concurrency) {
          const r = await fetch(`${emu.url}gmail/v1/users/me/messages/${id}?format=minimal`, {
            headers: { authorization: `Bearer ${token}` },
          }).catch(() => undefined);
          const key = r ? String(r.status) : 'dropped';
          if (r) await r.arrayBuffer().catch(() => undefined);
          counts[key] = (counts[key] ?? 0) + 1;
        }
      }),
    );
    return counts;
  }

  test('legacy profile serves ~50 messages.get/s per user and answers 403 userRateLimitExceeded past it', async () => {
    const emu = await startEmulator({ messages: 10, settings: { quota: 'legacy' } });
    try {
      const counts = await hammer(emu, 3000, 8);
      const rate = (counts['200'] ?? 0) / 3;
      assert.ok(rate >= 45 && rate <= 60, `served ${rate}/s (legacy ceiling 50/s)`);
      assert.ok((counts['403'] ?? 0) > 0);
      const r = await fetch(`${emu.url}gmail/v1/users/me/profile`, {
        headers: { authorization: `Bearer ${(await gmailClient(emu).auth.getAccessToken()).token}` },
      });
      const body = (await r.json()) as { error?: { errors: { reason: string }[] } };
      if (r.status === 403) assert.equal(body.error!.errors[0]!.reason, 'userRateLimitExceeded');
    } finally {
      await emu.close();
    }
  });

  test('2026 profile allows 6,000 units per minute (300 messages.get) and throttles the rest', async () => {
    const emu = await startEmulator({ messages: 10, settings: { quota: '2026' } });
    try {
      const counts = await hammer(emu, 2000, 8);
      assert.ok((counts['200'] ?? 0) <= 300 && (counts['200'] ?? 0) >= 295, `served ${counts['200']} in the first window`);
      assert.ok((counts['403'] ?? 0) > 0);
    } finally {
      await emu.close();
    }
  });

  test('threads.get costs twice a messages.get: 10 units of the legacy 250 a second, 40 of the 2026 6,000 a minute', async () => {
    for (const [quota, gets] of [
      ['legacy', 50],
      ['2026', 300],
    ] as const) {
      const emu = await startEmulator({ messages: 30, settings: { quota } });
      try {
        const gmail = gmailClient(emu).gmail;
        const threadId = (await manifest(emu))[0]!.threadId;
        let served = 0;
        for (let i = 0; i < gets; i++) {
          const ok = await gmail.users.threads.get({ userId: 'me', id: threadId, format: 'minimal' }).then(
            () => true,
            () => false,
          );
          if (!ok) break;
          served++;
        }
        assert.equal(served, gets / 2, `${quota}: threads.get served before the first 403`);
      } finally {
        await emu.close();
      }
    }
  });

  test('per-user concurrency cap answers 429; faults appear at the configured shares', async () => {
    const emu = await startEmulator({ messages: 10, settings: { concurrency: 2, faults: { latencyMs: 20 } } });
    try {
      const capped = await hammer(emu, 1000, 6);
      assert.ok((capped['429'] ?? 0) > 0, JSON.stringify(capped));
      await control(emu, 'PATCH', 'settings', { concurrency: 0, faults: { latencyMs: 0, error500: 0.2, error503: 0.1, drop: 0.05 } });
      await control(emu, 'POST', 'stats/reset');
      const counts = await hammer(emu, 60_000, 4, 1000);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const share = (k: string) => (counts[k] ?? 0) / total;
      assert.equal(total, 1000);
      assert.ok(Math.abs(share('500') - 0.2) < 0.05, `500 share ${share('500')}`);
      assert.ok(Math.abs(share('503') - 0.1) < 0.04, `503 share ${share('503')}`);
      assert.ok(Math.abs(share('dropped') - 0.05) < 0.03, `dropped share ${share('dropped')}`);
    } finally {
      await emu.close();
    }
  });
});

describe('scale', () => {
  test('a 1,000,000-message mailbox lists end to end with flat memory', async (t) => {
    const emu = await startEmulator({ seed: 'scale', messages: 1_000_000 });
    try {
      const { gmail } = gmailClient(emu);
      let peak = 0;
      const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
      const startRss = process.memoryUsage().rss;
      let count = 0;
      let pageToken: string | undefined;
      let rssAt100k = 0;
      const t0 = Date.now();
      do {
        const r = await gmail.users.messages.list({ userId: 'me', maxResults: 500, includeSpamTrash: true, pageToken });
        count += r.data.messages?.length ?? 0;
        if (!rssAt100k && count >= 100_000) rssAt100k = process.memoryUsage().rss;
        pageToken = r.data.nextPageToken ?? undefined;
      } while (pageToken);
      clearInterval(sample);
      const mb = (n: number) => Math.round(n / 2 ** 20);
      t.diagnostic(
        `listed ${count} ids in ${((Date.now() - t0) / 1000).toFixed(1)} s; RSS start ${mb(startRss)} MB, at 100k ${mb(rssAt100k)} MB, peak ${mb(peak)} MB`,
      );
      assert.equal(count, 1_000_000);
      assert.ok(peak - rssAt100k < 150 * 2 ** 20, 'memory stays flat from 100k to 1M listed ids');
    } finally {
      await emu.close();
    }
  });
});

describe('users.watch and Pub/Sub push, as Gmail and Pub/Sub answer them', () => {
  const TOPIC = 'projects/gmail-lake-emulator/topics/gmail';
  let emu: RunningEmulator;
  let gmail: gmail_v1.Gmail;
  const received: { auth: string; body: { message: { data: string; messageId: string }; subscription: string } }[] = [];
  let failNext = 0;
  const endpoint = createServer((req, res) => {
    let text = '';
    req
      .on('data', (d) => (text += d))
      .on('end', () => {
        received.push({ auth: req.headers.authorization ?? '', body: JSON.parse(text) });
        res.writeHead(failNext-- > 0 ? 503 : 204).end();
      });
  });
  before(async () => {
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    emu = await startEmulator({ messages: 10 });
    gmail = gmailClient(emu).gmail;
  });
  after(async () => {
    await emu.close();
    endpoint.close();
  });
  const notice = (i: number) =>
    JSON.parse(Buffer.from(received[i]!.body.message.data, 'base64').toString()) as { emailAddress: string; historyId: string };
  const status = (e: unknown) => (e as { status?: number }).status;

  test('watch checks the topic as Gmail does: its name, that it exists, that Gmail may publish to it', async () => {
    await assert.rejects(gmail.users.watch({ userId: 'me', requestBody: { topicName: 'gmail' } }), (e) => status(e) === 400);
    // A topic of another project than the caller's: Gmail refuses it even when it exists.
    emu.subscribe({ topic: 'projects/elsewhere/topics/gmail', pushEndpoint: 'http://127.0.0.1:9/' });
    await assert.rejects(
      gmail.users.watch({ userId: 'me', requestBody: { topicName: 'projects/elsewhere/topics/gmail' } }),
      (e) => status(e) === 400 && /projects\/gmail-lake-emulator\/topics/.test((e as Error).message),
    );
    await assert.rejects(gmail.users.watch({ userId: 'me', requestBody: { topicName: TOPIC } }), (e) => status(e) === 404);
    emu.subscribe({ topic: 'projects/gmail-lake-emulator/topics/closed', pushEndpoint: 'http://127.0.0.1:9/', gmailPublisher: false });
    await assert.rejects(
      gmail.users.watch({ userId: 'me', requestBody: { topicName: 'projects/gmail-lake-emulator/topics/closed' } }),
      (e) => status(e) === 403 && /User not authorized/.test((e as Error).message),
    );
    const port = (endpoint.address() as AddressInfo).port;
    emu.subscribe({ topic: TOPIC, pushEndpoint: `http://127.0.0.1:${port}/push`, minBackoffMs: 50 });
    const w = await gmail.users.watch({
      userId: 'me',
      requestBody: { topicName: TOPIC, labelIds: ['STARRED'], labelFilterBehavior: 'include' },
    });
    assert.equal(w.data.historyId, String(emu.mailbox().historyId));
    const days = (Number(w.data.expiration) - Date.now()) / 86_400_000;
    assert.ok(days > 6.99 && days <= 7, `a watch lasts 7 days (${days})`);
  });

  test("a change passing the watch's label filter is pushed with a Google-signed token; a nack is delivered again", async () => {
    const mb = emu.mailbox();
    mb.add({ labelIds: ['INBOX'] });
    const starred = mb.add({ labelIds: ['INBOX', 'STARRED'] });
    await new Promise((r) => setImmediate(r));
    // Filtered out, not rate-dropped: a change the filter let through would have been published, the next dropped.
    assert.equal(emu.pubsub.dropped, 0);
    failNext = 2;
    // The emulator records an attempt's outcome when the endpoint's answer reaches it, after the endpoint saw the
    // request: wait for both (CI once read the deliveries between the third request and its 204).
    await waitFor('three attempts, answered', async () => received.length >= 3 && emu.pubsub.deliveries.length >= 3, 10_000, 20);
    assert.equal(emu.pubsub.published, 1, 'the INBOX-only change is filtered out');
    assert.deepEqual(notice(0), { emailAddress: 'user@example.com', historyId: starred.historyId });
    assert.equal(new Set(received.map((r) => r.body.message.messageId)).size, 1, 'the same message, delivered again');
    assert.match(received[0]!.body.subscription, /^projects\/gmail-lake-emulator\/subscriptions\//);
    const attempts = emu.pubsub.deliveries.map((d) => [d.attempt, d.outcome]);
    assert.deepEqual(attempts, [
      [1, 503],
      [2, 503],
      [3, 204],
    ]);
    // The token verifies as Google's: google-auth-library with the emulator's certs endpoint.
    const client = new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: `${emu.url}oauth2/v1/certs` } });
    const ticket = await client.verifyIdToken({
      idToken: received[2]!.auth.replace(/^Bearer /, ''),
      audience: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/push`,
    });
    assert.equal(ticket.getPayload()?.email, 'gmail-push@gmail-lake-emulator.iam.gserviceaccount.com');
  });

  test('stop ends the watch: 204, and changes are no longer pushed', async () => {
    const r = await gmail.users.stop({ userId: 'me' });
    assert.equal(r.status, 204);
    const published = emu.pubsub.published;
    const dropped = emu.pubsub.dropped;
    emu.mailbox().add({ labelIds: ['STARRED'] });
    await new Promise((r) => setImmediate(r));
    assert.equal(emu.pubsub.published, published, 'nothing published');
    assert.equal(emu.pubsub.dropped, dropped, 'nor dropped by the rate: no watch saw the change');
    assert.equal(emu.pubsub.watchOf('user@example.com'), undefined);
  });
});
