import { startEmulator } from '../src/emulator/server.js';
import { startPipeline } from '../src/pipeline.js';
import { type BenchEnv, benchConfig, credentials, runExtraction } from './harness.js';
import { round, type Row } from './scenarios.js';

const TOPIC = 'projects/gmail-lake-emulator/topics/gmail';
const AUDIENCE = 'bench-push';
const PUSHER = 'gmail-push@bench.iam.gserviceaccount.com';
/** Gaps between arrivals, in ms, cycled: bursts inside Gmail's one-second silence, and mail minutes apart. */
const GAPS = [2500, 300, 4000, 700, 150, 6000, 1200, 400, 3000, 900];

/**
 * Push freshness: a mailbox of `size` messages, backfilled and kept in sync by an hourly schedule under the legacy
 * quota, receives `arrivals` new messages at uneven gaps (some within the second Gmail stays silent after a
 * notification). Each message's freshness is the time from its arrival in the emulated mailbox to its row in the lake
 * (the lake polled every 50 ms); the schedule never fires during the run, so every row is brought by push.
 */
export async function pushFreshness(env: BenchEnv, size: number, arrivals: number): Promise<Row> {
  const account = 'push@example.com';
  const emu = await startEmulator({ seed: 'push-bench', messages: size, settings: { quota: 'legacy' } });
  const p = await startPipeline(
    benchConfig(env, emu, {
      GMAIL_QUOTA_PROFILE: 'legacy',
      GMAIL_PUSH_TOPIC: TOPIC,
      GMAIL_PUSH_AUDIENCE: AUDIENCE,
      GMAIL_PUSH_SERVICE_ACCOUNT: PUSHER,
    }),
    credentials,
  );
  try {
    emu.subscribe({
      topic: TOPIC,
      pushEndpoint: `${p.url}/push/gmail`,
      audience: AUDIENCE,
      serviceAccountEmail: PUSHER,
      minBackoffMs: 1000,
    });
    const backfill = await runExtraction(p, { account, keepInSync: '1h', batchSize: 500 });
    if (backfill.final.status !== 'completed') throw new Error(`backfill ${backfill.final.status}: ${backfill.final.error}`);
    // The first sync watches the mailbox (users.watch); from then on Gmail publishes every change.
    const sync = (await (await fetch(`${p.url}/mailboxes/${account}/sync`, { method: 'POST' })).json()) as { id: string; runId: string };
    await p.client.workflow.getHandle(sync.id, sync.runId).result();

    const arrived = new Map<string, number>();
    const landed = new Map<string, number>();
    let polling = true;
    const poller = (async () => {
      while (polling || landed.size < arrived.size) {
        const pending = [...arrived.keys()].filter((id) => !landed.has(id));
        if (pending.length) {
          const rows = await p.lake.query<{ id: string }>(
            `SELECT id FROM lake.messages WHERE account = $account AND id IN (${pending.map((id) => `'${id}'`).join(', ')})`,
            { account },
          );
          const now = performance.now();
          for (const r of rows) if (!landed.has(r.id)) landed.set(r.id, now);
        }
        if (landed.size === arrived.size && !polling) break;
        if (pending.length && performance.now() - Math.min(...pending.map((id) => arrived.get(id)!)) > 120_000)
          throw new Error(`messages not in the lake after 120 s: ${pending.join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    for (let i = 0; i < arrivals; i++) {
      await new Promise((r) => setTimeout(r, GAPS[i % GAPS.length]));
      const view = emu.mailbox(account).add();
      arrived.set(view.id, performance.now());
    }
    polling = false;
    await poller;
    const latencies = [...arrived].map(([id, t]) => (landed.get(id)! - t) / 1000).sort((a, b) => a - b);
    const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))]!;
    return {
      scenario: 'push freshness (legacy quota, schedule 1h)',
      mailbox: size,
      arrivals,
      'notifications published': emu.pubsub.published,
      'dropped by Gmail (1/s)': emu.pubsub.dropped,
      'p50 s': round(q(0.5), 2),
      'p95 s': round(q(0.95), 2),
      'max s': round(latencies.at(-1)!, 2),
      'target max s': 10,
    };
  } finally {
    await p.stop();
    await emu.close();
  }
}
