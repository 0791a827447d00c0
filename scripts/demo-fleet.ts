/**
 * `npm run demo -- --fleet N`: the fleet part of the demo. The emulator plays a Workspace domain of N mailboxes (one
 * suspended); the pipeline reads it with the service-account key the emulator generated. Starts POST /fleets for the
 * domain, shows progress by mailbox, then the lake by mailbox and what the fleet reported.
 */
import cliProgress from 'cli-progress';
import type { FleetView } from '../src/api/fleets.js';
import type { Pipeline } from '../src/pipeline.js';

export const FLEET_DOMAIN = 'example.com';
/** The demo's suspended user (reported by the fleet, not extracted). */
export const fleetSuspended = (size: number) => (size >= 3 ? [`user${String(size - 1).padStart(3, '0')}@${FLEET_DOMAIN}`] : []);

export async function runFleetDemo(
  pipeline: Pipeline,
  auth: Record<string, string>,
  opts: { size: number; format: string; isStopping: () => boolean },
): Promise<void> {
  const concurrency = Math.min(opts.size, 5);
  const res = await fetch(`${pipeline.url}/fleets`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ domain: FLEET_DOMAIN, format: opts.format, concurrency }),
  });
  const started = (await res.json()) as { id: string; statusUrl: string };
  console.log(`POST /fleets {"domain":"${FLEET_DOMAIN}","concurrency":${concurrency}} → ${res.status} ${JSON.stringify(started)}`);
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} mailboxes | {running} running | {messages} messages | {rate} msg/s',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(opts.size, 0, { running: 0, messages: 0, rate: 0 });
  let fleet: FleetView;
  for (;;) {
    if (opts.isStopping()) await new Promise(() => undefined);
    const polled = await fetch(`${pipeline.url}${started.statusUrl}`, { headers: auth }).catch((e: unknown) => {
      if (opts.isStopping()) return undefined;
      throw e;
    });
    if (!polled) await new Promise(() => undefined);
    fleet = (await polled!.json()) as FleetView;
    const m = fleet.mailboxes;
    bar.setTotal(Math.max(m.total, 1));
    bar.update(m.completed + m.failed + m.canceled, { running: m.running, messages: fleet.messages.persisted, rate: fleet.ratePerSecond });
    if (fleet.status !== 'running' && fleet.status !== 'paused') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  bar.stop();
  console.log(
    `\nFleet ${fleet.status}: ${fleet.mailboxes.completed} of ${fleet.mailboxes.total} mailboxes, ${fleet.messages.persisted} messages`,
  );
  for (const f of fleet.failures) console.log(`  ${f.account}: ${f.error}`);
  console.log('-- Messages by mailbox (largest 8)');
  console.table(
    await pipeline.lake.query('SELECT account, count(*)::INTEGER AS messages FROM lake.messages GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8'),
  );
}
