import type { ExtractionOptions, ExtractionRequest } from './contracts.js';

/** The contracts of fleets (many mailboxes, one extraction each): beside contracts.ts, importing nothing else. */

/** The selection of an extraction, for every mailbox of a Workspace domain or of a list, `concurrency` at a time. */
export interface FleetRequest extends Omit<ExtractionRequest, 'account'> {
  /** A Workspace domain: its directory's users (suspended ones reported, not extracted). */
  domain?: string;
  /** Or these mailboxes. */
  accounts?: string[];
  /** Mailboxes extracted at once. */
  concurrency: number;
}

/** A mailbox of the fleet and its extraction's workflow id (the same as a single extraction's: one writer). */
export interface FleetMailbox {
  account: string;
  workflowId: string;
  extractionKey: string;
}

/** Failures (and skipped mailboxes) a fleet lists by name: the first ones; past these it counts them only. */
export const FAILURES_KEPT = 100;

export interface FleetPlan {
  /** Every mailbox, when the plan travels whole (planned without a fleet key, before `fleet-plan-in-lake`); else []. */
  mailboxes: FleetMailbox[];
  /** Mailboxes not extracted (suspended), with why: the first FAILURES_KEPT of them when the plan is stored. */
  skipped: { account: string; reason: string }[];
  /** How many were skipped, when the plan is stored. */
  skippedCount?: number;
  /** The plan is stored in the lake (fleet_mailboxes) under this key, with this many mailboxes to extract. */
  stored?: { fleet: string; mailboxes: number };
  /** Each mailbox's share of its quota budget (up to twice its fair share of the project's quota at this concurrency). */
  quotaShare: number;
}

/** A page of a stored plan: what `fleetMailboxes` is asked. */
export interface FleetPage {
  fleet: string;
  /** Position of the first mailbox wanted. */
  from: number;
  limit: number;
  /** The selection each mailbox's extraction key is derived from. */
  selection: Pick<ExtractionRequest, 'query' | 'labelIds' | 'includeSpamTrash' | 'format'>;
}

/** State carried across continue-as-new: the mailboxes still to start and the tallies of those done. */
export interface FleetState {
  planned: boolean;
  /** Mailboxes to start next: a page of the stored plan (or, planned before `fleet-plan-in-lake`, all of them). */
  pending: FleetMailbox[];
  /** The stored plan: its key, its size, and the position of the first mailbox not yet in `pending`. */
  plan?: { fleet: string; size: number; next: number };
  total: number;
  quotaShare: number;
  completed: number;
  canceled: number;
  /** Rows the completed extractions added to their lakes, and what they listed. */
  persisted: number;
  listed: number;
  /** The first FAILURES_KEPT failures (skipped mailboxes included), by name. */
  failures: { account: string; error: string }[];
  /** How many failed or were skipped (absent in states carried before `fleet-plan-in-lake`: failures.length then). */
  failed?: number;
  paused: boolean;
  startedAt: number;
  updatedAt: number;
  runs: number;
  /** Mailboxes completed since the fleet last compacted the lake. */
  sinceCompaction: number;
}

export interface FleetInput {
  request: FleetRequest;
  options: ExtractionOptions;
  state?: FleetState;
  /** Mailboxes one run starts before it continues as new. Default 400 (tests lower it). */
  childrenPerRun?: number;
  /** Mailboxes of the stored plan read at once. Default 200 (tests lower it). */
  planPage?: number;
}

export interface FleetProgress {
  id: string;
  status: 'running' | 'paused' | 'completed';
  phase: 'listing' | 'extracting' | 'done';
  paused: boolean;
  mailboxes: { total: number; pending: number; running: number; completed: number; failed: number; canceled: number };
  running: { account: string; workflowId: string }[];
  /** Messages of the mailboxes that completed (the API adds the running ones' live counts). */
  messages: { persisted: number; listed: number };
  /** Mailboxes finished per hour and the time left at that pace (null until one has finished). */
  mailboxesPerHour: number;
  etaSeconds: number | null;
  /** The first FAILURES_KEPT mailboxes that failed or were skipped, with why (mailboxes.failed counts them all). */
  failures: { account: string; error: string }[];
  startedAt: string;
  updatedAt: string;
  runs: number;
}
