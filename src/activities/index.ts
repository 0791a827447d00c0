import { batchActivities } from './batch.js';
import type { ActivityDeps } from './context.js';
import { eventActivities } from './events.js';
import { fleetActivities } from './fleet.js';
import { importActivities } from './import.js';
import { lakeActivities } from './lake.js';
import { mailboxActivities } from './mailbox.js';
import { syncActivities } from './sync.js';

export type { ActivityDeps } from './context.js';
export { removeOrphanedStaging } from './batch.js';

/** Builds every activity the worker registers, with their dependencies injected (Gmail client, lake, logger). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...mailboxActivities(deps),
    ...batchActivities(deps),
    ...lakeActivities(deps),
    ...syncActivities(deps),
    ...eventActivities(deps),
    ...fleetActivities(deps),
    ...importActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
