/**
 * Patch ids of the workflows: where a change of command sequence began, guarding the histories of a deployed version
 * (see "Changing workflow code" in docs/operations.md). The replay test requires a recorded history holding each.
 */
export const PATCHES = {
  /** Events are delivered by a workflow of their own, outside the run (runs before it awaited each delivery). */
  eventsOutsideRun: 'events-outside-run',
  /** A cancelled run waits for its batches in flight before it records its end (runs before it ended at once). */
  cancelWaitsForBatches: 'cancel-waits-for-batches',
  /** Compactions run beside the batches (they held their dispatch), a dead compactor noticed in 5 s (it was 30 s). */
  compactionBesideBatches: 'compaction-beside-batches',
  /** A `stalled` event once per stall (options.stallAfterMs): a timer while nothing moves (runs before it had none). */
  stallAlerts: 'stall-alerts',
  /** The labels snapshot is taken again when the backfill ends (runs before it kept the one taken as it began). */
  labelsAtEnd: 'labels-at-end',
} as const;

/** Patch ids of the fleet workflow. */
export const FLEET_PATCHES = {
  /** The plan is stored in the lake and read a page at a time (runs before it carried every mailbox in its state). */
  planInLake: 'fleet-plan-in-lake',
} as const;

/** Patch ids of the sync workflows. */
export const SYNC_PATCHES = {
  /**
   * A push notification (the `mailboxChanged` signal) that arrives while a sync reads history, naming a newer historyId,
   * adds one more pass (a page, or after the end a new run), so the change it announces is not left to the next sync.
   */
  pushNotifications: 'sync-push-notifications',
} as const;
