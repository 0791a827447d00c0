// ---- Imports (an mbox file into one mailbox of the lake) ------------------------------------------------------------

/** What `POST /imports` asks: the file (a path the workers can read) and the mailbox its messages go to. */
export interface ImportRequest {
  account: string;
  path: string;
  /** Bytes of the file one chunk (one activity, one lake transaction) reads at most, past its first message. */
  chunkBytes?: number;
}

export const IMPORT_DEFAULTS = { chunkBytes: 16 * 1024 * 1024, chunkMessages: 2_000 } as const;
export const IMPORT_FAILURE = {
  /** A worker cannot read the file (missing, not a regular file, no permission, outside IMPORT_DIRS). Non-retryable. */
  fileUnreadable: 'ImportFileUnreadable',
  /** The file changed since the import began. Non-retryable. */
  fileChanged: 'ImportFileChanged',
  /** The file is not an mbox, or ends inside a message: the whole messages before that byte are imported. */
  notMbox: 'MboxUnreadable',
} as const;

/** One chunk: the whole messages from `offset` on, committed in one lake transaction. */
export interface ImportChunkInput {
  account: string;
  path: string;
  offset: number;
  maxBytes: number;
  maxMessages: number;
  /** The file as the first chunk saw it: a later chunk of a changed file fails instead of reading another file. */
  expect?: { size: number; mtimeMs: number };
}

export interface ImportCounts {
  /** Messages read from the file. */
  messages: number;
  /** Stored by this import. */
  inserted: number;
  /** Already in the lake (same Gmail id, or the same bytes under any id), or twice in the file: not stored again. */
  present: number;
  /** Read with a parse_error (MIME the reader could not make sense of): stored and flagged. */
  malformed: number;
  /** Bytes of the messages read. */
  bytes: number;
}

export interface ImportChunkResult extends ImportCounts {
  /** Where the next chunk starts. */
  next: number;
  /** The file's size. */
  size: number;
  end: boolean;
  /** Why the file cannot be read past `next`: not an mbox, or cut inside a message. */
  problem?: { offset: number; detail: string };
  /** The file as this chunk saw it (size, modification time). */
  identity?: { size: number; mtimeMs: number };
}

/** What an import carries over continue-as-new: where the file is read next, and the counts so far. */
export interface ImportState extends ImportCounts {
  offset: number;
  /** The file as the first chunk saw it. */
  file?: { size: number; mtimeMs: number };
  size: number | null;
  chunks: number;
  runs: number;
  startedAt: string | null;
  updatedAt: string | null;
}

export interface ImportInput {
  request: ImportRequest;
  state?: Partial<ImportState>;
}

export type ImportStatus = 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out';

export interface ImportProgress extends ImportState {
  id: string;
  account: string;
  path: string;
  status: ImportStatus;
  /** Of the file's bytes, read and committed. */
  percent: number;
  error: string | null;
}
