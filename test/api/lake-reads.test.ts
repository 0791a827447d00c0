import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { ExtractionService } from '../../src/api/extractions.js';
import type { MessageStore } from '../../src/api/message-routes.js';
import { readingAhead } from '../../src/read-priority.js';
import { createLogger } from '../../src/log.js';

test("a request's lake reads go ahead of the worker's waiting commits (src/lake/line.ts): /messages and /readyz", async () => {
  const seen: Record<string, boolean> = {};
  const messages = {
    async search() {
      await new Promise((r) => setImmediate(r));
      seen.search = readingAhead();
      return { messages: [], order: 'date', source: 'lake' };
    },
  } as unknown as MessageStore;
  const app = createApp({
    auth: undefined,
    extractions: {} as ExtractionService,
    messages,
    readiness: {
      lake: async () => {
        seen.readyz = readingAhead();
      },
    },
    logger: createLogger('silent'),
  });
  const search = await app.request('/messages?account=ann%40example.com&q=from%3Abob');
  assert.equal(search.status, 200, await search.text());
  await app.request('/readyz');
  assert.deepEqual(seen, { search: true, readyz: true });
  assert.equal(readingAhead(), false, 'outside a request, reads keep their place');
});
