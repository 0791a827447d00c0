/** Where a page of search results ended: the last message's date (microseconds) and id, opaque to clients. */

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
