import { ApplicationFailure, continueAsNew, defineQuery, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import { importChunk, prepareImport } from './activities.js';
import {
  IMPORT_DEFAULTS,
  IMPORT_FAILURE,
  type ImportCounts,
  type ImportInput,
  type ImportProgress,
  type ImportState,
  type ImportStatus,
} from './import-contracts.js';

/** Query name: `temporal workflow query --workflow-id ID --name progress`. */
export const importProgressQuery = defineQuery<ImportProgress>('progress');

/** Chunks per run before continue-as-new (each adds a handful of events; histories stay small). */
const CHUNKS_PER_RUN = 500;

const COUNTS: (keyof ImportCounts)[] = ['messages', 'inserted', 'present', 'malformed', 'bytes'];

/**
 * Imports an mbox file (Google Takeout's, or any) into one mailbox of the lake, chunk after chunk (`importChunk`: the
 * whole messages from the offset on, committed in one lake transaction on whichever worker takes it). The offset of
 * the next chunk is the checkpoint: it lives in this workflow's state, so a worker killed mid-chunk costs that chunk's
 * re-run (which stores nothing twice) and nothing else. A file that is not an mbox, or ends inside a message, fails
 * the import with the byte offset — every whole message before it stored.
 */
export async function importWorkflow(input: ImportInput): Promise<ImportProgress> {
  const { request } = input;
  const now = () => new Date(Date.now()).toISOString();
  const state: ImportState = {
    offset: 0,
    size: null,
    chunks: 0,
    runs: 0,
    startedAt: null,
    updatedAt: null,
    messages: 0,
    inserted: 0,
    present: 0,
    malformed: 0,
    bytes: 0,
    ...input.state,
  };
  state.runs++;
  state.startedAt ??= now();
  const progress = (status: ImportStatus, error: string | null = null): ImportProgress => ({
    ...state,
    id: workflowInfo().workflowId,
    account: request.account,
    path: request.path,
    status,
    percent: state.size ? Math.floor((1000 * state.offset) / state.size) / 10 : 0,
    error,
  });
  setHandler(importProgressQuery, () => progress('running'));
  /** The Web UI's "Current details" (user metadata: no history event). */
  const showDetails = (p: ImportProgress) => {
    const n = (v: number) => v.toLocaleString('en-US');
    setCurrentDetails(
      [
        `**${p.account}** ← \`${p.path}\` — ${p.status}, ${p.percent}% (${(p.offset / 1e6).toFixed(1)} of ${((p.size ?? 0) / 1e6).toFixed(1)} MB)`,
        `${n(p.messages)} read · ${n(p.inserted)} stored · ${n(p.present)} already present · ${n(p.malformed)} malformed`,
        `chunk ${n(p.chunks)} · run ${p.runs} · updated ${p.updatedAt ?? '—'}${p.error ? ` · ${p.error}` : ''}`,
      ].join('\n\n'),
    );
    return p;
  };
  showDetails(progress('running'));
  if (state.chunks === 0 && state.runs === 1) await prepareImport({ account: request.account });

  for (let n = 0; ; n++) {
    if (n >= CHUNKS_PER_RUN) await continueAsNew<typeof importWorkflow>({ request, state });
    const r = await importChunk({
      account: request.account,
      path: request.path,
      offset: state.offset,
      maxBytes: request.chunkBytes ?? IMPORT_DEFAULTS.chunkBytes,
      maxMessages: IMPORT_DEFAULTS.chunkMessages,
      ...(state.file ? { expect: state.file } : {}),
    });
    state.file ??= r.identity;
    for (const k of COUNTS) state[k] += r[k];
    state.offset = r.next;
    state.size = r.size;
    state.chunks++;
    state.updatedAt = now();
    showDetails(progress('running'));
    if (r.problem) {
      const error = `${request.path} cannot be read past byte ${r.problem.offset}: ${r.problem.detail}; the ${state.messages} whole messages before it are imported`;
      throw ApplicationFailure.nonRetryable(error, IMPORT_FAILURE.notMbox, showDetails(progress('failed', error)));
    }
    if (r.end) return showDetails(progress('completed'));
  }
}
