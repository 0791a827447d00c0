/**
 * Where a page of search results ended, opaque to clients: newest-first pages by the last message's date (microseconds)
 * and id, pages ranked by relevance by how many came before (a ranking has no key to resume after).
 */

/** A cursor that is not one this search issued. */
export class CursorError extends Error {}

export const encodeCursor = (micros: bigint, id: string) => Buffer.from(JSON.stringify([micros.toString(), id])).toString('base64url');

export function decodeCursor(cursor: string): [bigint, string] {
  try {
    const [micros, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
    if (typeof id !== 'string' || !/^-?\d+$/.test(micros)) throw new Error();
    return [BigInt(micros), id];
  } catch {
    throw new CursorError('cursor is not one this search returned');
  }
}

export const encodeOffsetCursor = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64url');

export function decodeOffsetCursor(cursor: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { offset: unknown };
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error();
    return offset as number;
  } catch {
    throw new CursorError('cursor is not one this search returned (a page ranked by relevance takes the cursor its previous page gave)');
  }
}

/** Either kind of cursor: a date cursor pages newest first from where it ended, an offset one skips that many. */
export type Cursor = { kind: 'date'; micros: bigint; id: string } | { kind: 'offset'; offset: number };

export function decodeAnyCursor(cursor: string): Cursor {
  try {
    return { kind: 'offset', offset: decodeOffsetCursor(cursor) };
  } catch {
    const [micros, id] = decodeCursor(cursor);
    return { kind: 'date', micros, id };
  }
}
