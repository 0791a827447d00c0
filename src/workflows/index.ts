// The worker bundles this file: every workflow the task queue runs is exported here.
export { extractionWorkflow } from './extraction.js';
export { scheduledSyncWorkflow, syncWorkflow } from './sync.js';
export { fleetWorkflow } from './fleet.js';
export { deliverEventWorkflow } from './events.js';
export { importWorkflow } from './import.js';
