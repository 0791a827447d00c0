import { closeIndexFeed } from '../lake/index-feed.js';
import { Lake } from '../lake/lake.js';
import { CursorError } from '../search/cursor.js';
import { redactedMessage } from '../redact.js';
import { QueryError } from '../search/syntax.js';
import { CliError, EXIT } from './output.js';
import type { Home } from './settings.js';

/**
 * Runs `fn` on the lake opened read-only (also while the pipeline writes it), closed after: no lake yet, or one that
 * cannot be opened, is a usage error saying why; so is a Gmail query or a cursor the lake's search refuses.
 */
export async function withReadLake<T>(home: Home, fn: (lake: Lake) => Promise<T>): Promise<T> {
  let lake: Lake;
  try {
    lake = await Lake.openReadOnly(home.pipelineConfig().lake);
  } catch (e) {
    throw new CliError(redactedMessage(e), EXIT.usage);
  }
  try {
    return await fn(lake);
  } catch (e) {
    if (e instanceof QueryError) throw new CliError(`invalid query: ${e.message}`, EXIT.usage);
    if (e instanceof CursorError) throw new CliError(`invalid cursor: ${e.message}`, EXIT.usage);
    throw e;
  } finally {
    await closeIndexFeed(lake);
    lake.close();
  }
}
