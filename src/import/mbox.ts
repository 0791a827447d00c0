import { constants } from 'node:fs';
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
  /** The file as first seen: an import checks that later chunks read the same file. */
  identity: FileIdentity;
}

/** What tells a file from its replacement, on any host that mounts it: its size and its modification time (ms). */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
}

/** The file is no longer the one the import began reading (replaced, appended to, rewritten). */
export class FileChanged extends Error {
  override name = 'FileChanged';
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
/** Read past a chunk's limit at first, to find where the next message starts. */
const READ_SLACK = 1024 * 1024;
/** A message larger than this (Gmail's limit is ~35 MB as sent, ~50 MB with base64 of other mailers) is not taken as one. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const NL_FROM = Buffer.from('\nFrom ');

/** Whether the `\n` at `q` ends a blank line (`\n\n` or `\n\r\n`), i.e. a `From ` line after it starts a message. */
const afterBlankLine = (buf: Buffer, q: number) => q > 0 && (buf[q - 1] === 10 || (buf[q - 1] === 13 && q > 1 && buf[q - 2] === 10));

/**
 * The whole messages of `path` from `offset` (which must be a message's start: 0 or a chunk's `next`): at least one,
 * then more until about `maxBytes` or `maxMessages`. A message larger than `maxBytes` comes alone, whole. When the
 * bytes at a message's start are not a `From ` line, or the file ends inside a message (no line break at its end), the
 * chunk holds the whole messages before it and names the problem.
 */
export async function readMboxChunk(
  path: string,
  offset: number,
  limits: { maxBytes: number; maxMessages: number },
  expect?: FileIdentity,
): Promise<MboxChunk> {
  // Non-blocking: a FIFO (or a device) opens at once and is refused below instead of blocking a thread.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await file.stat();
    if (!stat.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTFILE' });
    const identity = { size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs) };
    if (expect && (expect.size !== identity.size || expect.mtimeMs !== identity.mtimeMs))
      throw new FileChanged(
        `${path} changed since the import began (${expect.size} bytes, modified ${new Date(expect.mtimeMs).toISOString()}; now ${identity.size} bytes, modified ${new Date(identity.mtimeMs).toISOString()}): start a new import of it`,
      );
    const size = stat.size;
    if (offset >= size) return { messages: [], next: size, size, end: true, identity };
    const read = async (at: number, length: number) => {
      const b = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - at)));
      const { bytesRead } = await file.read(b, 0, b.length, at);
      // The file shrank under the reader: what it was told is gone.
      if (bytesRead === 0 && b.length > 0) throw new MboxError(at, 'the file became shorter while it was read');
      return b.subarray(0, bytesRead);
    };
    // The limit plus some slack: the next message's start, past the limit, is then usually in the first read.
    let buf = await read(offset, Math.max(limits.maxBytes, 64 * 1024) + READ_SLACK);
    if (!buf.subarray(0, FROM.length).equals(FROM)) {
      const detail = offset === 0 ? 'not an mbox file: it does not begin with a "From " line' : 'no message starts here';
      return { messages: [], next: offset, size, end: false, problem: new MboxError(offset, detail), identity };
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
      // No line may make one message larger than any mail server would carry: past that, this is not an mbox (or not
      // one whose messages are separated by blank lines), and reading on would hold the whole file.
      if (buf.length - starts.at(-1)! > MAX_MESSAGE_BYTES) {
        // The whole messages before it go first; the next chunk starts at it, and stops there.
        if (starts.length > 1) {
          limited = true;
          break;
        }
        const detail = `no next message within ${MAX_MESSAGE_BYTES / 2 ** 20} MB (not an mbox, or one without blank lines between messages)`;
        return { messages: [], next: offset, size, end: false, problem: new MboxError(offset, detail), identity };
      }
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
        return { messages, next: e.offset, size, end: false, problem: e, identity };
      }
    }
    const next = limited ? offset + starts.at(-1)! : offset + buf.length;
    return { messages, next, size, end: next >= size, identity };
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
  // Takeout's (`<decimal id>@xxx`), or this tool's export of a message imported without a Gmail id (`mbox-…@xxx`).
  const takeout = /^(\d{1,20}|mbox-[0-9a-f]{24})@xxx$/.exec(sender);
  if (takeout) {
    message.gmailId = takeout[1]!.startsWith('mbox-') ? takeout[1] : hexId(takeout[1]!);
    // Takeout's headers come first, each once and in this order (a message of its own may start with an older copy of
    // them: those are its bytes); each may be folded over several lines.
    const order = ['x-gm-thrid', 'x-gmail-labels', 'x-gmail-lake-added-newline'];
    let next = 0;
    for (;;) {
      const end = region.indexOf(10, at);
      if (end < 0) break;
      const line = region.subarray(at, end).toString('utf8').replace(/\r$/, '');
      const m = TAKEOUT_HEADER.exec(line);
      const rank = m ? order.indexOf(m[1]!.toLowerCase()) : -1;
      if (!m || rank < next) break;
      next = rank + 1;
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
  // Takeout and this tool's export end every message with a blank line, the last one too: without it, the file was
  // cut at a line's end. Other mboxes may end their last message without one.
  else if (!lastInFile || takeout) throw new MboxError(offset, 'the file ends inside a message (no blank line after it: truncated?)');
  // The line break the export added (in the message's own line ending: its first line's).
  if (addedNewline) {
    const first = region.indexOf(10, at);
    end -= first > at && region[first - 1] === 13 ? 2 : 1;
  }
  if (end <= at)
    throw new MboxError(offset, lastInFile ? 'the file ends inside a message (nothing after its headers)' : 'an empty message');
  let raw = region.subarray(at, Math.max(at, end));
  if (raw.includes('>From ')) raw = Buffer.from(unescapeMboxrd(raw.toString('latin1')), 'latin1');
  message.raw = raw;
  return message;
}
