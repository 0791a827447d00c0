import { QUOTA_PROFILES } from '../src/env-schema.js';
import { startEmulator } from '../src/emulator/server.js';
import { startPipeline } from '../src/pipeline.js';
import { type BenchEnv, benchConfig, credentials, runExtraction } from './harness.js';
import { round, type Row } from './scenarios.js';

/**
 * Quota-optimal fetching: a `full` backfill of `messages` messages under the legacy per-user quota, on generated mail
 * whose messages reply to the one before with probability `replyRate` (0.35: the emulator's default, threads of ~1.5;
 * 0.8: ~4.5). Reports the units spent per stored message (gets, threads.get and lists; a get each costs 5 + a list's
 * share) and the rate the quota then allows, against the same mailbox's `raw` backfill, which threads.get cannot serve.
 */
export async function threadFetching(env: BenchEnv, messages: number, replyRate: number): Promise<Row> {
  const emu = await startEmulator({ seed: `threads-${replyRate}`, messages, replyRate, settings: { quota: 'legacy' } });
  const run = async (format: 'full' | 'raw') => {
    const pipeline = await startPipeline(benchConfig(env, emu, { GMAIL_QUOTA_PROFILE: 'legacy' }), credentials);
    try {
      const r = await runExtraction(pipeline, { account: `${format}@example.com`, format, batchSize: 100 });
      const units = r.final.units ?? {};
      const spent = Object.values(units).reduce((a, b) => a + b, 0);
      const stored = r.final.progress.persisted;
      return { stored, perMessage: spent / stored, rate: stored / r.seconds, threads: units.thread ?? 0 };
    } finally {
      await pipeline.stop();
    }
  };
  try {
    const full = await run('full');
    const raw = await run('raw');
    const legacy = QUOTA_PROFILES.legacy;
    return {
      scenario: `threads.get planner, replyRate ${replyRate}`,
      messages: full.stored,
      'full units/msg': round(full.perMessage, 2),
      'raw units/msg (a get each)': round(raw.perMessage, 2),
      'full ÷ a get each': round(full.perMessage / raw.perMessage, 2),
      'threads.get': full.threads / legacy.costs.thread,
      'full msg/s': round(full.rate, 1),
      'raw msg/s': round(raw.rate, 1),
    };
  } finally {
    await emu.close();
  }
}
