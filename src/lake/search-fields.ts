/** Each word field's text as SQL over a lake message row `m`: what the lake's search and the search index read. */
import type { WordField } from '../search/syntax.js';

/** A header's values (all fields of that name), as one text. */
const header = (name: string) =>
  `array_to_string(list_transform(list_filter(m.headers, h -> lower(h.name) = '${name}'), h -> h.value), ' ')`;

/** Each word field's text, as SQL over a message row `m`. */
export const FIELD_SQL: Record<Exclude<WordField, 'text'> | 'body', string> = {
  subject: 'm.subject',
  from: "concat_ws(' ', m.from_name, m.from_address)",
  to: header('to'),
  cc: header('cc'),
  bcc: header('bcc'),
  // The text part, else the HTML one without its tags.
  body: "coalesce(m.body_text, regexp_replace(m.body_html, '<[^>]*>', ' ', 'g'))",
  filename:
    "(SELECT string_agg(a.filename, ' ' ORDER BY a.part_id) FROM lake.attachments a WHERE a.account = m.account AND a.message_id = m.id)",
  list: header('list-id'),
};
