import http from 'node:http';
import { gmail as gmailApi } from '@googleapis/gmail';
import { OAuth2Client } from 'google-auth-library';
import { DEFAULT_CLIENT } from '../src/emulator/oauth.js';
import { leanJsonAdapter } from '../src/gmail/http-adapter.js';
import { startEmulatorProcess } from './harness.js';
import type { Row } from './scenarios.js';

/**
 * The CPU the Gmail client spends per `messages.get` (format `full`, ~35 KB of JSON), in this process, with the
 * emulator in a process of its own: googleapis over gaxios' default transport (node-fetch), googleapis over the worker's
 * lean adapter (src/gmail/http-adapter.ts), and node:http with one JSON.parse and nothing else (the floor). Each
 * fetches the same messages, 20 at a time, after a warm-up of 500; the three run in turns, twice, in one run.
 */
export async function httpClient(messages: number): Promise<Row[]> {
  const emu = await startEmulatorProcess({ messages, seed: 'http-client' });
  try {
    const auth = new OAuth2Client({
      clientId: DEFAULT_CLIENT.clientId,
      clientSecret: DEFAULT_CLIENT.clientSecret,
      endpoints: { oauth2TokenUrl: emu.tokenUrl },
    });
    auth.setCredentials({ refresh_token: DEFAULT_CLIENT.refreshToken });
    // A new object each: googleapis takes `version` out of the options it is given.
    const options = () => ({ version: 'v1' as const, auth, rootUrl: emu.url, retry: false, timeout: 60_000 });
    const clients = {
      'googleapis, node-fetch (gaxios default)': gmailApi(options()),
      'googleapis, lean adapter': gmailApi({ ...options(), adapter: leanJsonAdapter() }),
    };
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const r = await clients['googleapis, lean adapter'].users.messages.list({ userId: 'me', maxResults: 500, pageToken });
      for (const m of r.data.messages ?? []) ids.push(m.id!);
      pageToken = r.data.nextPageToken ?? undefined;
    } while (pageToken);
    const token = (await auth.getAccessToken()).token!;
    const agent = new http.Agent({ keepAlive: true });
    const floor = (id: string) =>
      new Promise<unknown>((resolve, reject) => {
        const req = http.request(
          new URL(`gmail/v1/users/me/messages/${id}?format=full`, emu.url),
          { agent, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const ways: Record<string, (id: string) => Promise<unknown>> = {
      ...Object.fromEntries(
        Object.entries(clients).map(([name, g]) => [
          name,
          (id: string) => g.users.messages.get({ userId: 'me', id, format: 'full' }, { signal: new AbortController().signal }),
        ]),
      ),
      'node:http + JSON.parse (floor)': floor,
    };
    const run = async (get: (id: string) => Promise<unknown>, slice: string[]) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < slice.length) await get(slice[next++]!);
        }),
      );
    };
    const cpu = new Map<string, number[]>();
    for (const get of Object.values(ways)) await run(get, ids.slice(0, 500));
    const measured = ids.slice(500);
    for (let round = 0; round < 2; round++)
      for (const [name, get] of Object.entries(ways)) {
        const c0 = process.cpuUsage();
        await run(get, measured);
        const c = process.cpuUsage(c0);
        cpu.set(name, [...(cpu.get(name) ?? []), (c.user + c.system) / 1000 / measured.length]);
      }
    return Object.entries(ways).map(([name]) => ({
      scenario: 'Gmail client CPU per messages.get (full)',
      client: name,
      messages: measured.length,
      'CPU ms/msg': cpu
        .get(name)!
        .map((ms) => ms.toFixed(3))
        .join(', '),
    }));
  } finally {
    await emu.stop();
  }
}
