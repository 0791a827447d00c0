/**
 * The MCP server (the official @modelcontextprotocol/sdk): read-only tools over the lake for AI assistants —
 * search_messages (Gmail's syntax), get_message, get_thread, list_labels, mailbox_stats and run_sql (one SELECT in a
 * fenced, read-only DuckDB, within row and time limits). Served over stdio (`gmail-lake mcp`) and streamable HTTP
 * (`/mcp`, behind an API key).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Lake } from '../lake/lake.js';
import { readMessage, readThread, type StoredMessage } from '../lake/read.js';
import type { SqlLimits, SqlSandbox } from '../lake/sandbox.js';
import { searchMessages, userLabels } from '../lake/search.js';

export interface McpDeps {
  /** The lake, read-only or the worker's own. */
  lake: () => Promise<Lake>;
  /** The fenced SQL runner for run_sql. */
  sql: () => Promise<SqlSandbox>;
  limits?: SqlLimits;
}

/** Bodies are cut here: an assistant's context is small, and a newsletter's HTML is not. */
const BODY_CHARS = 100_000;

const text = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value, null, 1) }] });
const failure = (message: string) => ({ content: [{ type: 'text' as const, text: message }], isError: true });

function trimmed(m: StoredMessage) {
  const cut = (s: string | null) =>
    s && s.length > BODY_CHARS ? `${s.slice(0, BODY_CHARS)}… (${s.length - BODY_CHARS} more characters)` : s;
  return { ...m, headers: undefined, bodyText: cut(m.bodyText), bodyHtml: cut(m.bodyHtml) };
}

const account = z.string().trim().toLowerCase().min(3).max(320).describe('the mailbox address, e.g. ann@example.com');

export function createMcpServer(deps: McpDeps): McpServer {
  const limits = deps.limits ?? { maxRows: 500, timeoutMs: 10_000 };
  const server = new McpServer({ name: 'gmail-lake', version: '0.1.0' });
  const readOnly = { readOnlyHint: true, openWorldHint: false };
  const guarded =
    <A>(fn: (args: A) => Promise<ReturnType<typeof text>>) =>
    async (args: A) => {
      try {
        return await fn(args);
      } catch (e) {
        return failure(e instanceof Error ? e.message : String(e));
      }
    };

  server.registerTool(
    'search_messages',
    {
      description:
        'Find messages with Gmail\'s search syntax (from: to: subject: label: is:unread has:attachment after:2024/01/01 larger:5M "a phrase" OR - …), newest first. Returns ids, dates, senders, subjects, snippets and a cursor for the next page.',
      inputSchema: {
        account,
        q: z.string().max(800).optional().describe("Gmail search, e.g. 'from:ann has:attachment newer_than:1y'"),
        limit: z.number().int().min(1).max(100).optional().describe('messages per page (default 20)'),
        cursor: z.string().max(512).optional().describe("the previous page's nextCursor"),
      },
      annotations: readOnly,
    },
    guarded(async ({ account, q, limit, cursor }) =>
      text(await searchMessages(await deps.lake(), { account, q, limit: limit ?? 20, cursor })),
    ),
  );
  server.registerTool(
    'get_message',
    {
      description: 'One message: headers, addresses, labels, thread id, text and HTML bodies (cut at 100,000 characters), attachments.',
      inputSchema: { account, id: z.string().max(64).describe('the Gmail message id') },
      annotations: readOnly,
    },
    guarded(async ({ account, id }) => {
      const m = await readMessage(await deps.lake(), account, id);
      return m ? text(trimmed(m)) : failure(`no message ${id} of ${account} in the lake`);
    }),
  );
  server.registerTool(
    'get_thread',
    {
      description: "A thread's messages, oldest first (bodies cut as get_message's).",
      inputSchema: { account, threadId: z.string().max(64).describe('the Gmail thread id') },
      annotations: readOnly,
    },
    guarded(async ({ account, threadId }) => {
      const messages = await readThread(await deps.lake(), account, threadId);
      return messages.length
        ? text({ threadId, messages: messages.map(trimmed) })
        : failure(`no message of thread ${threadId} in the lake`);
    }),
  );
  server.registerTool(
    'list_labels',
    {
      description: "The mailbox's user labels (id and name) as its last extraction or sync saw them.",
      inputSchema: { account },
      annotations: readOnly,
    },
    guarded(async ({ account }) => text([...(await userLabels(await deps.lake(), account))].map(([id, name]) => ({ id, name })))),
  );
  server.registerTool(
    'mailbox_stats',
    {
      description: 'Per mailbox in the lake: messages, threads, the oldest and newest message, unread, with attachments, deleted in Gmail.',
      inputSchema: { account: account.optional() },
      annotations: readOnly,
    },
    guarded(async ({ account: only }) => {
      const lake = await deps.lake();
      const rows = await lake.query(
        `SELECT m.account, count(*) AS messages, count(DISTINCT m.thread_id) AS threads, min(m.internal_date) AS oldest,
                max(m.internal_date) AS newest, count(*) FILTER (WHERE list_contains(m.label_ids, 'UNREAD')) AS unread,
                count(*) FILTER (WHERE m.deleted_at IS NOT NULL) AS deleted_in_gmail,
                (SELECT count(DISTINCT a.message_id) FROM lake.attachments a WHERE a.account = m.account AND a.disposition = 'attachment') AS with_attachments
           FROM lake.messages m ${only ? 'WHERE m.account = $account' : ''} GROUP BY m.account ORDER BY m.account`,
        only ? { account: only } : undefined,
      );
      return text(rows);
    }),
  );
  server.registerTool(
    'run_sql',
    {
      description: `One read-only SELECT over the lake's tables (messages, attachments, labels, message_changes, …; DuckDB SQL), at most ${limits.maxRows} rows and ${limits.timeoutMs / 1000} s. Writes, DDL, COPY, ATTACH, SET and files outside the lake are refused.`,
      inputSchema: {
        sql: z.string().min(1).max(20_000).describe('e.g. SELECT from_address, count(*) FROM messages GROUP BY 1 ORDER BY 2 DESC LIMIT 10'),
      },
      annotations: readOnly,
    },
    guarded(async ({ sql }) => text(await (await deps.sql()).run(sql, limits))),
  );
  return server;
}
