import { searchMessages } from '../lake/search.js';
import { mailboxOf } from './extractions.js';
import { type Out, table } from './output.js';
import { withReadLake } from './read-lake.js';
import type { Home } from './settings.js';

/**
 * `search`: Gmail's search syntax over the lake (read-only, also while the pipeline writes it), from the search index
 * (bare words best match first, else newest first): a table
 * of date, sender, subject and id, or the page as JSON with --json (its nextCursor goes back as --cursor).
 */
export async function search(
  home: Home,
  q: string,
  o: { address?: string; limit: number; cursor?: string; tz?: string; order?: 'relevance' | 'date' },
  out: Out,
): Promise<void> {
  const account = mailboxOf(home, o.address, false);
  await withReadLake(home, async (lake) => {
    // The search index is brought up to date first, for at most 30 s (the lake answers meanwhile; the change feed goes on
    // from where it stopped at the next search, a rebuild from the rows starts over).
    const page = await searchMessages(lake, {
      account,
      q,
      limit: o.limit,
      cursor: o.cursor,
      timeZone: o.tz,
      order: o.order,
      index: { waitMs: 30_000 },
    });
    out.result(page, () => {
      if (!page.messages.length) return out.line(`(no messages of ${account} match)`);
      out.line(
        table(
          page.messages.map((m) => ({ date: m.internalDate?.slice(0, 16).replace('T', ' '), from: m.from, subject: m.subject, id: m.id })),
          48,
        ),
      );
      const how =
        page.order === 'relevance'
          ? 'best match first'
          : page.source === 'lake'
            ? 'newest first, read from the lake (no search index, or it is being built)'
            : 'newest first';
      out.line(
        page.nextCursor
          ? `(${page.messages.length} shown, ${how}; more with --cursor ${page.nextCursor})`
          : `(${page.messages.length}, ${how})`,
      );
    });
  });
}
