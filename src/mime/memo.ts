/**
 * A bounded memo of parses keyed by header values (cleared whole when full). Keys and values are copied in
 * (structuredClone) before they are kept: a header value is a slice of its message's text, and V8 keeps a sliced
 * string's whole parent alive, so a remembered slice held its whole message — a 35 MB one too — until the memo was
 * cleared (measured: a worker's memory outside the heap grew by the size of every large message it parsed, 1.1 GB for
 * 37 of them).
 */
export class ParseMemo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.size) this.map.clear();
    this.map.set(structuredClone(key), structuredClone(value));
  }
}
