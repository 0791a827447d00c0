/**
 * Which lake reads go ahead of the commits waiting in the process's line of lake work (src/lake/line.ts): an API
 * request's. Its own module, free of DuckDB, so that the API's composition root can mark its requests.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const ahead = new AsyncLocalStorage<boolean>();

/**
 * Runs `fn` with its lake reads ahead of the writes waiting in this process's line: the API's requests (a search or
 * `/readyz` beside a backfill), never the pipeline's own work, whose reads keep their place behind the writes queued
 * before them (a retried batch's probe must see its first attempt's commit when that one is still queued).
 */
export const readsAhead = <T>(fn: () => T): T => ahead.run(true, fn);

/** Runs `fn` with its lake reads in line, whatever called it (what a request starts in the background). */
export const readsInLine = <T>(fn: () => T): T => ahead.run(false, fn);

/** Whether the lake reads made here go ahead of waiting writes (inside readsAhead). */
export const readingAhead = (): boolean => ahead.getStore() === true;
