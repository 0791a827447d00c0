import { open } from 'node:fs/promises';
import { hexId, parseLabelsHeader, unescapeMboxrd } from '../export/takeout.js';

/**
 * Reading an mbox (Google Takeout's, this tool's export, or any mboxrd file) in chunks that start and end on message
 * boundaries, so an import can checkpoint the byte offset of the next message and resume there after a crash. A
 * message starts at a line beginning `From ` at the start of the file or after a blank line; its bytes end before the
 * blank line that precedes the next one. Takeout's `From <decimal id>@xxx` line gives the Gmail id; its leading
 * `X-GM-THRID` and `X-Gmail-Labels` headers (and this tool's `X-Gmail-Lake-Added-Newline`) give the thread and labels
 * and are taken off, so the bytes are the message Gmail serves.
 */

export interface MboxMessage {
  /** Byte offset of its `From ` line in the file. */
  offset: number;
  /** The message's own bytes. */
  raw: Buffer;
  /** Gmail's id (hex), when the `From ` line is Takeout's. */
  gmailId?: string;
  /** Gmail's thread id (hex), from X-GM-THRID. */
  threadId?: string;
  /** Label names from X-Gmail-Labels (Takeout's names); undefined when the message has none. */
  labels?: string[];
  /** The `From ` line's date (Takeout: the message's internal date), ms since the epoch. */
  date?: number;
}

export interface MboxChunk {
  messages: MboxMessage[];
  /** Where the next chunk starts (the file's size at the end). */
  next: number;
  /** The file's size when read. */
  size: number;
  /** Whether the chunk reached the end of the file. */
  end: boolean;
  /**
   * Why reading stopped short of the file's end: the bytes at `next` are not a message (not an mbox, or a message cut
   * short). The messages before it are whole and returned.
   */
  problem?: MboxError;
}

/** A file that is not an mbox, or ends inside a message: where, and why. Messages before `offset` are whole. */
export class MboxError extends Error {
  override name = 'MboxError';
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {
    super(`${detail} (at byte ${offset})`);
  }
}

const FROM = Buffer.from('From ');
const NL_FROM = Buffer.from('\nFrom ');

/** Whether the `\n` at `q` ends a blank line (`\n\n` or `\n\r\n`), i.e. a `From ` line after it starts a message. */
const afterBlankLine = (buf: Buffer, q: number) => q > 0 && (buf[q - 1] === 10 || (buf[q - 1] === 13 && q > 1 && buf[q - 2] === 10));

/**
 * The whole messages of `path` from `offset` (which must be a message's start: 0 or a chunk's `next`): at least one,
 * then more until about `maxBytes` or `maxMessages`. A message larger than `maxBytes` comes alone, whole. When the
 * bytes at a message's start are not a `From ` line, or the file ends inside a message (no line break at its end), the
 * chunk holds the whole messages before it and names the problem.
 */
export async function readMboxChunk(path: string, offset: number, limits: { maxBytes: number; maxMessages: number }): Promise<MboxChunk> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (offset >= size) return { messages: [], next: size, size, end: true };
    const read = async (at: number, length: number) => {
      const b = Buffer.allocUnsafe(Math.min(length, size - at));
      const { bytesRead } = await file.read(b, 0, b.length, at);
      return b.subarray(0, bytesRead);
    };
    let buf = await read(offset, Math.max(limits.maxBytes, 64 * 1024));
    if (!buf.subarray(0, FROM.length).equals(FROM)) {
      const detail = offset === 0 ? 'not an mbox file: it does not begin with a "From " line' : 'no message starts here';
      return { messages: [], next: offset, size, end: false, problem: new MboxError(offset, detail) };
    }
    const starts = [0];
    let scan = 0;
    /** Whether a limit was reached: the last start then opens the next chunk, else its message runs to the end. */
    let limited = false;
    for (;;) {
      const q = buf.indexOf(NL_FROM, scan);
      if (q >= 0) {
        scan = q + 1;
        if (!afterBlankLine(buf, q)) continue;
        starts.push(q + 1);
        limited = q + 1 >= limits.maxBytes || starts.length - 1 >= limits.maxMessages;
        if (limited) break;
        continue;
      }
      if (offset + buf.length >= size) break;
      // The last message runs past what was read: read as much again (a large message doubles, not grows in steps).
      scan = Math.max(starts.at(-1)!, buf.length - NL_FROM.length - 2);
      buf = Buffer.concat([buf, await read(offset + buf.length, Math.max(limits.maxBytes, buf.length))]);
    }
    const bounds = limited ? starts : [...starts, buf.length];
    const messages: MboxMessage[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const last = !limited && i + 2 === bounds.length;
      try {
        messages.push(messageAt(buf.subarray(bounds[i], bounds[i + 1]), offset + bounds[i]!, last));
      } catch (e) {
        if (!(e instanceof MboxError)) throw e;
        return { messages, next: e.offset, size, end: false, problem: e };
      }
    }
    const next = limited ? offset + starts.at(-1)! : offset + buf.length;
    return { messages, next, size, end: next >= size };
  } finally {
    await file.close();
  }
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** asctime as mbox writes it, with Takeout's zone before the year: `Wed Jun 07 12:34:56 +0000 2023`, `Wed Jun  7 12:34:56 2023`. */
const FROM_DATE = new RegExp(`^${DAY} (\\w{3}) +(\\d{1,2}) (\\d{2}):(\\d{2}):(\\d{2})(?: ([+-]\\d{4}))? (\\d{4})`);

/** The `From ` line's date in ms (UTC when it names no zone), or undefined. */
export function fromLineDate(text: string): number | undefined {
  const m = FROM_DATE.exec(text.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return undefined;
  const zone = m[6] ? (Number(m[6].slice(1, 3)) * 60 + Number(m[6].slice(3))) * (m[6][0] === '-' ? -1 : 1) : 0;
  const ms = Date.UTC(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) - zone * 60_000;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Takeout's leading headers: taken off the message's bytes (they are not Gmail's). */
const TAKEOUT_HEADER = /^(X-GM-THRID|X-Gmail-Labels|X-Gmail-Lake-Added-Newline):[ \t]*/i;

/** One message from its bytes in the file (`From ` line to the blank line before the next one, or the file's end). */
function messageAt(region: Buffer, offset: number, lastInFile: boolean): MboxMessage {
  const eol = region.indexOf(10);
  if (eol < 0) throw new MboxError(offset, 'the file ends inside a message (its "From " line has no line break)');
  const fromLine = region.subarray(FROM.length, eol).toString('latin1').replace(/\r$/, '');
  const space = fromLine.indexOf(' ');
  const sender = space < 0 ? fromLine : fromLine.slice(0, space);
  const message: MboxMessage = { offset, raw: region, date: fromLineDate(space < 0 ? '' : fromLine.slice(space + 1)) };
  let at = eol + 1;
  let addedNewline = false;
  const takeout = /^\d{1,20}@xxx$/.exec(sender);
  if (takeout) {
    message.gmailId = hexId(sender.slice(0, -4));
    // Takeout's headers come first; each may be folded over several lines.
    for (;;) {
      const end = region.indexOf(10, at);
      if (end < 0) break;
      const line = region.subarray(at, end).toString('utf8').replace(/\r$/, '');
      const m = TAKEOUT_HEADER.exec(line);
      if (!m) break;
      let value = line.slice(m[0].length);
      let stop = end + 1;
      while (region[stop] === 0x20 || region[stop] === 0x09) {
        const more = region.indexOf(10, stop);
        if (more < 0) break;
        value += region.subarray(stop, more).toString('utf8').replace(/\r$/, '');
        stop = more + 1;
      }
      const name = m[1]!.toLowerCase();
      if (name === 'x-gm-thrid') message.threadId = hexId(value.trim());
      else if (name === 'x-gmail-labels') message.labels = parseLabelsHeader(value.trim());
      else addedNewline = true;
      at = stop;
    }
  }
  let end = region.length;
  if (region[end - 1] !== 10) {
    // Only the file's last message can end so (the others end before a blank line): the file was cut short.
    throw new MboxError(offset, 'the file ends inside a message (no line break at its end: truncated?)');
  }
  // The blank line that ends a message in the mbox is not the message's: `\n` after `\n`, or `\r\n` after `\r\n`.
  if (region[end - 2] === 10) end -= 1;
  else if (region[end - 2] === 13 && region[end - 3] === 10) end -= 2;
  else if (!lastInFile) throw new MboxError(offset, 'a message not followed by a blank line');
  if (addedNewline) end -= region[end - 2] === 13 ? 2 : 1;
  if (end <= at)
    throw new MboxError(offset, lastInFile ? 'the file ends inside a message (nothing after its headers)' : 'an empty message');
  let raw = region.subarray(at, Math.max(at, end));
  if (raw.includes('>From ')) raw = Buffer.from(unescapeMboxrd(raw.toString('latin1')), 'latin1');
  message.raw = raw;
  return message;
}
