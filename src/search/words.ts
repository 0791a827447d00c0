/**
 * What "a word" is for search, on both sides (the emulator's evaluator and the lake's SQL): a run of letters and digits
 * (Unicode), compared in lower case after NFC normalization. A field matches a list of words when they appear in it
 * side by side, in order: `fieldText` joins a field's words with single spaces between two more, so that is a substring
 * test of ` w1 w2 ` (the SQL twin: the words with {@link SQL_NON_WORD}s between and around them, over DuckDB's
 * lower() and nfc_normalize()).
 */
const WORD = /[\p{L}\p{N}]+/gu;

/** RE2's spelling of a character that is not part of a word, for DuckDB's regexp_matches. */
export const SQL_NON_WORD = '[^\\p{L}\\p{N}]';

/** NFC leaves ASCII as it is: only text with other characters pays for normalizing. */
const normalized = (text: string) => (/[\u0080-\uffff]/.test(text) ? text.normalize('NFC') : text);

export function words(text: string): string[] {
  return normalized(text).toLowerCase().match(WORD) ?? [];
}

/**
 * A text as the search index stores it: normalized and lower-cased as {@link words} reads it, with every character
 * outside ASCII that is not a letter or digit made a space; FTS5's `ascii` tokenizer then cuts it at ASCII's non-letters
 * and non-digits, so its tokens are exactly these words (FTS5's own unicode61 would keep combining marks inside words
 * and fold ς into σ). Only non-ASCII separators are replaced here, which costs little: ASCII's are cut in C.
 */
export function indexText(text: string | null | undefined): string {
  return text ? normalized(text).toLowerCase().replace(NON_WORDS_BEYOND_ASCII, ' ') : '';
}
const NON_WORDS_BEYOND_ASCII = /[^\p{ASCII}\p{L}\p{N}]+/gu;

/** A field's words as ` w1 w2 … ` (a blank field is a single space). */
export function fieldText(...parts: (string | null | undefined)[]): string {
  return ` ${parts.flatMap((p) => (p ? words(p) : [])).join(' ')} `;
}

/** True when `field` (a {@link fieldText}) holds `ws` side by side, in order. */
export function hasWords(field: string, ws: string[]): boolean {
  return field.includes(` ${ws.join(' ')} `);
}
