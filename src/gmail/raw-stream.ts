import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { gmail_v1 } from '@googleapis/gmail';
import Parser from 'stream-json/Parser.js';

/** A `messages.get?format=raw` answer read as a stream: the resource without `raw`, whose bytes went to a file. */
export interface StreamedRaw {
  message: Omit<gmail_v1.Schema$Message, 'raw'>;
  /** The raw message's size in bytes (what the file holds). */
  bytes: number;
}

/**
 * Reads a `messages.get?format=raw` JSON body as it arrives (stream-json's tokenizer), keeping the resource's small
 * fields and decoding `raw` (base64url) into `file` chunk by chunk: a 35 MB answer never sits in memory whole, as
 * text, as a parsed string or as bytes. A body cut short rejects (the caller retries the request).
 */
export async function streamRawMessage(body: Readable, file: string): Promise<StreamedRaw> {
  const message: Record<string, unknown> = {};
  let bytes = 0;
  // Top-level fields by name; `labelIds` is the one array of strings; `raw` is decoded 4 characters at a time.
  async function* decode(tokens: AsyncIterable<{ name: string; value?: string }>) {
    let depth = 0;
    let key: string | undefined;
    let inRaw = false;
    let carry = '';
    let text = '';
    let list: string[] | undefined;
    for await (const t of tokens) {
      switch (t.name) {
        case 'startObject':
        case 'startArray':
          depth++;
          if (depth === 2 && t.name === 'startArray') list = [];
          break;
        case 'endObject':
        case 'endArray':
          depth--;
          if (depth === 1 && list && key) message[key] = list;
          if (depth === 1) list = undefined;
          break;
        case 'keyValue':
          if (depth === 1) key = t.value;
          break;
        case 'startString':
          inRaw = depth === 1 && key === 'raw';
          text = '';
          break;
        case 'stringChunk':
          if (!inRaw) text += t.value!;
          else {
            const chars = carry + t.value!;
            const usable = chars.length - (chars.length % 4);
            carry = chars.slice(usable);
            if (usable) {
              const chunk = Buffer.from(chars.slice(0, usable), 'base64url');
              bytes += chunk.length;
              yield chunk;
            }
          }
          break;
        case 'endString':
          if (inRaw && carry) {
            const tail = Buffer.from(carry, 'base64url');
            bytes += tail.length;
            yield tail;
          } else if (!inRaw && list) list.push(text);
          else if (!inRaw && depth === 1 && key) message[key] = text;
          inRaw = false;
          carry = '';
          break;
        case 'numberValue':
          if (depth === 1 && key) message[key] = Number(t.value);
          break;
      }
    }
  }
  await pipeline(body, new Parser({ packKeys: true, packStrings: false, packNumbers: true }), decode, createWriteStream(file));
  return { message, bytes };
}
