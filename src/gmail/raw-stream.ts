import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { gmail_v1 } from '@googleapis/gmail';

/** A `messages.get?format=raw` answer read as a stream: the resource without `raw`, whose bytes went to a file. */
export interface StreamedRaw {
  message: Omit<gmail_v1.Schema$Message, 'raw'>;
  /** The raw message's size in bytes (what the file holds). */
  bytes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Splits a Gmail message resource's JSON, as its bytes arrive, into the value of its top-level `raw` string (handed
 * out chunk by chunk: base64url, which holds no quote nor escape, so its end is the next quote) and the rest of the
 * document (a few kilobytes, parsed whole at the end with `raw` left empty). Tracks strings and escapes, so a `"raw"`
 * inside another value (a snippet) is never taken for the key. Hand-written: the streaming JSON parsers at hand cut
 * a long string into hundreds of thousands of tokens and copy their buffer at each (quadratic on a 47 MB value).
 */
class RawSplitter {
  private readonly rest: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The bytes of the string being read at depth 1 (a key, or a short value), up to 8. */
  private text: number[] = [];
  private lastString = '';
  /** The top-level key whose value comes next (set by its colon). */
  private key = '';
  private inRaw = false;
  private rawEnded = false;

  /** Feeds a chunk; returns the pieces of `raw`'s value it held. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let from = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.inRaw) {
        const end = chunk.indexOf(QUOTE, i);
        out.push(chunk.subarray(i, end === -1 ? chunk.length : end));
        if (end === -1) return out;
        this.inRaw = false;
        this.rawEnded = true;
        from = i = end; // the closing quote goes to `rest`: `"raw":""`
        continue;
      }
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) {
          this.inString = false;
          this.lastString = Buffer.from(this.text).toString('latin1');
        } else if (this.text.length < 8) this.text.push(b);
      } else if (b === QUOTE) {
        if (this.depth === 1 && this.key === 'raw' && !this.rawEnded) {
          this.rest.push(chunk.subarray(from, i + 1));
          this.inRaw = true;
          this.key = '';
          from = i + 1;
        } else {
          this.inString = true;
          this.text = [];
        }
      } else if (b === 0x7b || b === 0x5b) this.depth++;
      else if (b === 0x7d || b === 0x5d) this.depth--;
      else if (b === 0x3a && this.depth === 1) this.key = this.lastString;
      else if (b === 0x2c && this.depth === 1) this.key = '';
      i++;
    }
    if (from < chunk.length) this.rest.push(chunk.subarray(from));
    return out;
  }

  /** The resource without `raw` (rejects a body cut short, which is not JSON). */
  message(): Record<string, unknown> {
    if (this.inRaw) throw new Error('the answer ended inside its raw message (cut short)');
    const message = JSON.parse(Buffer.concat(this.rest).toString('utf8')) as Record<string, unknown>;
    delete message.raw;
    return message;
  }
}

/**
 * Reads a `messages.get?format=raw` JSON body as it arrives, decoding `raw` (base64url) into `file` chunk by chunk and
 * keeping the resource's other fields: a 35 MB answer never sits in memory whole, as text, as a parsed string or as
 * bytes. A body cut short rejects (the caller retries the request).
 */
export async function streamRawMessage(body: Readable | ReadableStream<Uint8Array>, file: string): Promise<StreamedRaw> {
  const splitter = new RawSplitter();
  let bytes = 0;
  let carry = '';
  const decode = (text: string) => {
    const chunk = Buffer.from(text, 'base64url');
    bytes += chunk.length;
    return chunk;
  };
  async function* decoded(chunks: AsyncIterable<Uint8Array | string>) {
    for await (const chunk of chunks) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (const piece of splitter.push(buf)) {
        const chars = carry + piece.toString('latin1');
        const usable = chars.length - (chars.length % 4);
        carry = chars.slice(usable);
        if (usable) yield decode(chars.slice(0, usable));
      }
    }
    if (carry) yield decode(carry);
  }
  await pipeline(body, decoded, createWriteStream(file));
  return { message: splitter.message(), bytes };
}
