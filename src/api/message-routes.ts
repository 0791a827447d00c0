import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AttachmentBytes, StoredMessage } from '../lake/read.js';
import type { SearchOptions, SearchPage } from '../lake/search.js';
import { CursorError } from '../search/cursor.js';
import { QueryError } from '../search/syntax.js';
import { ApiError } from './errors.js';
import { address, commonErrors, errorSchema, json } from './schemas.js';

/** What /messages reads: the lake's search (the worker's lake in one process, a read-only one beside a lone API). */
export interface MessageStore {
  search(o: SearchOptions): Promise<SearchPage>;
  message(account: string, id: string): Promise<StoredMessage | undefined>;
  /** The stored bytes; null when the message was stored without them; undefined when absent. */
  raw(account: string, id: string): Promise<Buffer | null | undefined>;
  thread(account: string, threadId: string): Promise<StoredMessage[]>;
  attachment(account: string, id: string, partId: string): Promise<AttachmentBytes | undefined>;
}

const attachmentSchema = z.object({
  partId: z.string(),
  filename: z.string().nullable(),
  mimeType: z.string().nullable(),
  size: z.number().nullable(),
  contentId: z.string().nullable(),
  disposition: z.string().nullable(),
  stored: z.boolean().openapi({
    description:
      'its bytes are in the lake (ATTACHMENTS=content): GET …/attachments/{partId}, `root` for the part `""` (a message that is only a file)',
  }),
});

const messageSchema = z
  .object({
    account: z.string(),
    id: z.string(),
    threadId: z.string().nullable(),
    internalDate: z.string().nullable(),
    labelIds: z.array(z.string()),
    snippet: z.string().nullable(),
    sizeEstimate: z.number().nullable(),
    subject: z.string().nullable(),
    from: z.object({ name: z.string().nullable(), address: z.string().nullable() }),
    to: z.array(z.string()),
    cc: z.array(z.string()),
    messageId: z.string().nullable(),
    inReplyTo: z.string().nullable(),
    references: z.string().nullable(),
    date: z.string().nullable(),
    headers: z.array(z.object({ name: z.string(), value: z.string() })),
    bodyText: z.string().nullable(),
    bodyHtml: z.string().nullable(),
    format: z.string().nullable(),
    parseError: z.string().nullable(),
    hasRaw: z.boolean(),
    deletedAt: z.string().nullable(),
    attachments: z.array(attachmentSchema),
  })
  .openapi('StoredMessage');

const gmailId = () => z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, { message: 'must be a Gmail id (letters, digits, _ and -)' });
const messageParams = z.object({
  account: address().openapi({ param: { name: 'account', in: 'path' }, example: 'ann@example.com' }),
  id: gmailId().openapi({ param: { name: 'id', in: 'path' }, example: '18c2f0a9b1d2e3f4' }),
});
const threadParams = z.object({
  account: address().openapi({ param: { name: 'account', in: 'path' }, example: 'ann@example.com' }),
  threadId: gmailId().openapi({ param: { name: 'threadId', in: 'path' }, example: '18c2f0a9b1d2e3f4' }),
});

const attachmentParams = messageParams.extend({
  partId: z
    .string()
    .regex(/^(root|\d{1,4}(\.\d{1,4}){0,31})$/, { message: 'must be a MIME part id such as 1 or 0.2, or root' })
    .openapi({
      param: { name: 'partId', in: 'path' },
      example: '1',
      description: 'the part id, or `root` for the message\'s own body (Gmail\'s part id `""`: a message that is only a file)',
    }),
});

/** A part's type as sent: `type/subtype` of token characters, else application/octet-stream (no parameters, no injection). */
export function safeType(mimeType: string | null): string {
  const t = (mimeType ?? '').trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(t) ? t : 'application/octet-stream';
}

/**
 * `attachment` with the file name twice (RFC 6266): an ASCII fallback without quotes, backslashes, control characters
 * or path separators, and the exact name percent-encoded as `filename*` (RFC 8187).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export function contentDisposition(filename: string): string {
  const name =
    filename
      .replace(LONE_SURROGATE, '\ufffd')
      // eslint-disable-next-line no-control-regex -- control characters are what is taken out
      .replace(/[\u0000-\u001f\u007f]/g, '')
      // Line and paragraph separators and bidirectional controls (a name that reads backwards) go too.
      .replace(/[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
      .replace(/^[\s\S]*[\\/]/, '') || 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

const hitSchema = z
  .object({
    id: z.string(),
    threadId: z.string().nullable(),
    internalDate: z.string().nullable(),
    from: z.string().nullable(),
    subject: z.string().nullable(),
    snippet: z.string().nullable(),
    labelIds: z.array(z.string()),
  })
  .openapi('MessageHit');

const searchQuery = z.object({
  account: address().openapi({ param: { name: 'account', in: 'query' }, example: 'ann@example.com', description: 'the mailbox' }),
  // 800 characters: a query of 4-byte characters is 12 bytes each in a URL, and Node refuses a request line and headers
  // over 16 KB (431) before the API sees them.
  q: z
    .string()
    .max(800)
    .optional()
    .openapi({
      param: { name: 'q', in: 'query' },
      example: 'from:ann has:attachment after:2024/01/01',
      description:
        "Gmail's search syntax: from: to: cc: bcc: subject: label: in: is: category: has:attachment filename: after: before: older_than: newer_than: larger: smaller: rfc822msgid: list:, quoted phrases, OR and {}, - and ( ); bare words match subject, bodies and addresses. Blank: every message. At most 800 characters and 50 terms.",
    }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' } }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: "the previous page's nextCursor" }),
  order: z
    .enum(['relevance', 'date'])
    .default('relevance')
    .openapi({
      param: { name: 'order', in: 'query' },
      description:
        '`relevance` (default): a query with bare words ranks its matches by BM25 from the search index, the best first; other queries, and every query while the index is first built, come newest first. `date`: newest first always.',
    }),
  tz: z
    .string()
    .max(64)
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. Europe/Paris')
    .optional()
    .openapi({
      param: { name: 'tz', in: 'query' },
      description: "the time zone of after:/before: dates (an IANA name; default America/Los_Angeles, as Gmail's API reads them)",
    }),
});

/** GET /messages: Gmail's search over the lake. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function messageRoutes(app: OpenAPIHono<any>, store: MessageStore): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/messages',
      operationId: 'searchMessages',
      summary: "Find messages in the lake with Gmail's search syntax",
      description:
        "The mailbox's stored messages matching `q` as Gmail's own search would answer (the same ids for the same mailbox), ranked by relevance when the query has bare words (see `order`), else newest first, `limit` per page; pass `nextCursor` back as `cursor` for the next. Spam and trash only when the query names them (in:spam, in:trash, in:anywhere); messages deleted in Gmail never. A query Gmail would refuse is a 400 whose details name the position and the operator.",
      request: { query: searchQuery },
      responses: {
        200: json(
          z.object({
            messages: z.array(hitSchema),
            nextCursor: z.string().optional(),
            order: z.enum(['relevance', 'date']).openapi({ description: 'how this page is ordered' }),
            source: z.enum(['index', 'lake']).openapi({
              description: 'what answered: the search index (current to the newest batch), or the lake (index off or being built)',
            }),
          }),
          'A page of messages',
        ),
        404: json(errorSchema, 'No lake yet'),
        ...commonErrors,
      },
    }),
    async (c) => {
      const { account, q, limit, cursor, tz, order } = c.req.valid('query');
      try {
        return c.json(await store.search({ account, q, limit, cursor, timeZone: tz, order }), 200);
      } catch (e) {
        if (e instanceof QueryError)
          throw new ApiError(400, 'INVALID_REQUEST', `invalid query: ${e.message}`, { position: e.position, operator: e.operator });
        if (e instanceof CursorError) throw new ApiError(400, 'INVALID_REQUEST', e.message);
        throw e;
      }
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/messages/{account}/{id}',
      operationId: 'getMessage',
      summary: 'Read one stored message',
      description:
        "Its headers, addresses, labels, thread, bodies and attachments (as JSON); with `Accept: message/rfc822`, the message's stored bytes exactly as Gmail gave them (406 when it was stored without them: a format other than raw).",
      request: { params: messageParams },
      responses: {
        200: {
          content: {
            'application/json': { schema: messageSchema },
            'message/rfc822': { schema: z.string().openapi({ format: 'binary' }) },
          },
          description: 'The message',
        },
        404: json(errorSchema, 'No such message in the lake'),
        406: json(errorSchema, 'Stored without its bytes'),
        ...commonErrors,
      },
    }),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (async (c: any) => {
      const { account, id } = c.req.valid('param') as { account: string; id: string };
      if (/message\/rfc822/i.test(c.req.header('accept') ?? '')) {
        const raw = await store.raw(account, id);
        if (raw === undefined) throw new ApiError(404, 'NOT_FOUND', `no message ${id} of ${account} in the lake`);
        if (raw === null)
          throw new ApiError(406, 'INVALID_REQUEST', `message ${id} was stored without its bytes (extract with format raw to keep them)`);
        return c.body(raw, 200, { 'content-type': 'message/rfc822', 'content-disposition': `attachment; filename="${id}.eml"` });
      }
      const message = await store.message(account, id);
      if (!message) throw new ApiError(404, 'NOT_FOUND', `no message ${id} of ${account} in the lake`);
      return c.json(message, 200);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
    }) as any,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/messages/{account}/{id}/attachments/{partId}',
      operationId: 'getAttachment',
      summary: "Download a stored message's attachment",
      description:
        "The bytes of the part (decoded), stored with ATTACHMENTS=content, with its type (a type that is not a plain `type/subtype` is served as application/octet-stream) and `Content-Disposition: attachment` with its file name made safe; never rendered by the browser in the API's origin (`nosniff`, a `sandbox` CSP). 404 when the message has no such part, or its bytes were not stored.",
      request: { params: attachmentParams },
      responses: {
        200: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'The bytes' },
        404: json(errorSchema, 'No such attachment, or its bytes are not stored'),
        ...commonErrors,
      },
    }),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (async (c: any) => {
      const { account, id, partId } = c.req.valid('param') as { account: string; id: string; partId: string };
      const a = await store.attachment(account, id, partId === 'root' ? '' : partId);
      if (!a) throw new ApiError(404, 'NOT_FOUND', `no attachment ${partId} of message ${id} of ${account} in the lake`);
      if (!a.content)
        throw new ApiError(
          404,
          'NOT_FOUND',
          `the bytes of attachment ${partId} of message ${id} are not stored (set ATTACHMENTS=content before extracting)`,
        );
      return c.body(a.content, 200, {
        'content-type': safeType(a.mimeType),
        'content-disposition': contentDisposition(a.filename ?? `${id}-${partId}`),
        'x-content-type-options': 'nosniff',
        'content-security-policy': "sandbox; default-src 'none'",
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
    }) as any,
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/threads/{account}/{threadId}',
      operationId: 'getThread',
      summary: 'Read a stored thread, oldest message first',
      request: { params: threadParams },
      responses: {
        200: json(z.object({ threadId: z.string(), messages: z.array(messageSchema) }), 'The thread'),
        404: json(errorSchema, 'No message of that thread in the lake'),
        ...commonErrors,
      },
    }),
    async (c) => {
      const { account, threadId } = c.req.valid('param');
      const messages = await store.thread(account, threadId);
      if (!messages.length) throw new ApiError(404, 'NOT_FOUND', `no message of thread ${threadId} of ${account} in the lake`);
      return c.json({ threadId, messages }, 200);
    },
  );
}
