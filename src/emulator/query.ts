import { dateBounds, mentionsSpamTrash, parseQuery, type QueryNode } from '../search/syntax.js';
import { matches, needsBody, needsContent } from '../search/evaluate.js';
import { resolveLabel } from '../search/labels.js';
import type { Mailbox, MessageView } from './mailbox.js';
import type { SearchDocs } from './search-docs.js';

export { QueryError } from '../search/syntax.js';

/**
 * `messages.list?q=` as Gmail answers it, over one mailbox: the query read by the shared syntax (src/search), each
 * message tested in memory, its content (words, attachments, size, Message-ID) read from its bytes only when the query
 * asks for content. Dates are midnights in Pacific time, as Gmail's API documents (src/search/syntax.ts's DEFAULT_TIME_ZONE).
 */
export class MailboxQuery {
  readonly after?: number;
  readonly before?: number;
  /** True when the query names spam, trash or anywhere: they are searched too. */
  readonly mentionsSpamTrash: boolean;
  /** True when some term tests something (a blank query lists everything). */
  readonly filters: boolean;
  private readonly tree: QueryNode;
  private readonly content: boolean;
  private readonly body: boolean;
  private readonly resolve: (name: string) => string | undefined;

  constructor(
    private readonly mb: Mailbox,
    q: string | undefined,
    private readonly docs: SearchDocs,
    now = Date.now(),
  ) {
    this.tree = parseQuery(q, { now });
    this.resolve = (name) => resolveLabel(name, mb.userLabels);
    this.mentionsSpamTrash = mentionsSpamTrash(this.tree, this.resolve);
    ({ after: this.after, before: this.before } = dateBounds(this.tree));
    this.content = needsContent(this.tree);
    this.body = needsBody(this.tree);
    this.filters = !(this.tree.type === 'and' && this.tree.children.length === 0);
  }

  matches(index: number, view: MessageView): boolean {
    const doc = this.content
      ? this.docs.doc(this.mb, index, view, this.body)
      : {
          labelIds: view.labelIds,
          internalDate: view.internalDate,
          sizeEstimate: 0,
          hasAttachment: false,
          messageId: '',
          fields: { subject: '', from: '', to: '', cc: '', bcc: '', body: '', filename: '', list: '' },
        };
    return matches(this.tree, doc, this.resolve);
  }
}
