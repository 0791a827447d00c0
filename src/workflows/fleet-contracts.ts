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

export interface FleetPlan {
  mailboxes: FleetMailbox[];
  skipped: { account: string; reason: string }[];
  /** Each mailbox's share of its quota budget (up to twice its fair share of the project's quota at this concurrency). */
  quotaShare: number;
}

/** State carried across continue-as-new: the mailboxes still to start and the tallies of those done. */
export interface FleetState {
  planned: boolean;
  pending: FleetMailbox[];
  total: number;
  quotaShare: number;
  completed: number;
  canceled: number;
  /** Rows the completed extractions added to their lakes, and what they listed. */
  persisted: number;
  listed: number;
  failures: { account: string; error: string }[];
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
  failures: { account: string; error: string }[];
  startedAt: string;
  updatedAt: string;
  runs: number;
}
