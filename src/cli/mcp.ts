import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { closeIndexFeed } from '../lake/index-feed.js';
import { Lake } from '../lake/lake.js';
import { SqlSandbox } from '../lake/sandbox.js';
import { createMcpServer } from '../mcp/server.js';
import { opened } from '../opened.js';
import type { Home } from './settings.js';

/**
 * `mcp`: the MCP server over stdio, for an assistant that starts it (Claude Desktop's `command`, an IDE): the lake read
 * directly, read-only, so nothing else needs to run. It serves until the client closes stdin.
 */
export async function mcpCommand(home: Home): Promise<void> {
  const config = home.pipelineConfig().lake;
  const lake = opened(() => Lake.openReadOnly(config));
  const sandbox = opened(() => SqlSandbox.open(config));
  const server = createMcpServer({ lake: lake.get, sql: sandbox.get });
  const transport = new StdioServerTransport();
  // The client closing stdin ends the session (the transport itself only closes when told to).
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  await server.connect(transport);
  await closed;
  // The search index's refresh in progress ends before the lake closes under it.
  await lake.close(closeIndexFeed);
  await sandbox.close();
}
