import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiClient } from '../../src/cli/api-client.js';
import { follow } from '../../src/cli/extractions.js';
import type { Out } from '../../src/cli/output.js';
import type { Home } from '../../src/cli/settings.js';
import type { ExtractionProgress } from '../../src/workflows/contracts.js';

// `npx gmail-lake extract` gets the terminal's Ctrl-C twice: from the terminal, and again when npx forwards it to its
// child — whenever npx's event loop gets to it. The second copy must find a handler even after the detach finished,
// or Node's default action would end the process with 130 after it printed "Detached".
test('extract: Ctrl-C detaches with exit 0, and a second SIGINT after the detach is still handled', async () => {
  const before = process.listenerCount('SIGINT');
  const running = {
    id: 'gmail-extract-a@example.com',
    account: 'a@example.com',
    status: 'running',
    phase: 'extracting',
    progress: { total: 10, persisted: 2, present: 0, skipped: 0, malformed: 0, failed: 0, percent: 20 },
    ratePerSecond: 1,
    etaSeconds: 8,
  } as unknown as ExtractionProgress;
  let calls = 0;
  const api: ApiClient = {
    url: 'http://api.invalid',
    async call<T>() {
      if (++calls === 2) process.emit('SIGINT'); // Ctrl-C while following
      return { status: 200, body: running as T };
    },
  };
  const lines: string[] = [];
  const out: Out = { json: false, line: (t = '') => lines.push(t), result: (_v, human) => human?.() };

  const code = await follow({} as Home, api, 'a@example.com', running.id, out);

  assert.equal(code, 0);
  assert.match(lines.join('\n'), /Detached: the extraction of a@example\.com keeps running\./);
  assert.ok(process.listenerCount('SIGINT') > before, 'a SIGINT arriving after the detach (npx forwarding it) is handled');
});
