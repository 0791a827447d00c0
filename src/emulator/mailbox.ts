import { createHash } from 'node:crypto';
import { GeneratedMailbox, type GeneratedMeta, indexOfId, messageIdFor, USER_LABELS } from './generate.js';
import type { LoadedMail } from './load.js';

/** What listing, filtering and the Gmail responses need to know of a message, without building its bytes. */
export interface MessageView extends Pick<
  GeneratedMeta,
  'index' | 'id' | 'threadId' | 'internalDate' | 'labelIds' | 'from' | 'to' | 'cc' | 'subject' | 'hasAttachment'
> {
  historyId: number;
}

export interface HistoryRecord {
  id: number;
  messages: { id: string; threadId: string }[];
  messagesAdded?: { message: { id: string; threadId: string; labelIds: string[] } }[];
  messagesDeleted?: { message: { id: string; threadId: string; labelIds: string[] } }[];
  labelsAdded?: { message: { id: string; threadId: string; labelIds: string[] }; labelIds: string[] }[];
  labelsRemoved?: { message: { id: string; threadId: string; labelIds: string[] }; labelIds: string[] }[];
}

/** The historyId of a mailbox nothing has changed yet (unless the emulator is given another base). */
export const INITIAL_HISTORY_ID = 1_000_000;

/**
 * One user's mailbox: a lazily generated (or loaded) base plus an overlay of the changes made through the control
 * endpoints. Every change advances historyId and is recorded for history.list; records older than the retention are
 * dropped, after which an older startHistoryId is answered with 404 as Gmail does.
 */
export class Mailbox {
  private readonly added = new Map<number, { raw: Buffer; view: MessageView }>();
  private readonly deleted = new Set<number>();
  private readonly labelOverrides = new Map<number, string[]>();
  /** The user's labels, id → name (renamed and deleted through the control endpoints). */
  readonly userLabels = new Map<string, string>(USER_LABELS.map((l) => [l.id, l.name]));
  private history: HistoryRecord[] = [];
  private nextIndex: number;
  historyId: number;
  /** The oldest startHistoryId history.list still accepts. */
  oldestValidHistoryId: number;
  /** Told of every change once it is complete (Gmail's push: a watch publishes it). */
  onChange?: (record: HistoryRecord) => void;

  constructor(
    readonly email: string,
    private readonly base: GeneratedMailbox | LoadedMail,
    public historyRetention = 100_000,
    private readonly historyIdBase = INITIAL_HISTORY_ID,
  ) {
    this.nextIndex = base.size;
    this.historyId = historyIdBase;
    this.oldestValidHistoryId = historyIdBase;
  }

  get seed(): string {
    return this.base.seed;
  }
  /** Upper bound (exclusive) of message indices, deleted ones included. */
  get indexLimit(): number {
    return this.nextIndex;
  }
  get messagesTotal(): number {
    return this.nextIndex - this.deleted.size;
  }

  /** Messages carrying a label and, of those, the unread ones (labels.get's messagesTotal and messagesUnread). */
  labelCounts(labelId: string): { total: number; unread: number } {
    let total = 0;
    let unread = 0;
    for (let i = 0; i < this.nextIndex; i++) {
      const labels = this.view(i)?.labelIds;
      if (!labels?.includes(labelId)) continue;
      total++;
      if (labels.includes('UNREAD')) unread++;
    }
    return { total, unread };
  }

  view(index: number): MessageView | undefined {
    if (index < 0 || index >= this.nextIndex || this.deleted.has(index)) return undefined;
    const added = this.added.get(index);
    if (added) return added.view;
    const m = this.base.meta(index);
    const labels = this.labelOverrides.get(index);
    return { ...m, labelIds: labels ?? m.labelIds, historyId: this.historyIdBase };
  }

  raw(index: number): Buffer {
    return this.added.get(index)?.raw ?? this.base.raw(index);
  }

  indexOf(id: string): number | undefined {
    const i = indexOfId(this.base.seed, id);
    return i !== undefined && this.view(i) ? i : undefined;
  }

  /**
   * The indices of a thread's messages, oldest first (deleted ones left out): a generated thread is a run of replies
   * starting at its root (whose id is the thread's) and at most 9 long; a loaded one is found by scanning from its root.
   */
  threadIndices(threadId: string): number[] {
    const found: number[] = [];
    const root = indexOfId(this.base.seed, threadId);
    if (root !== undefined && root < this.base.size) {
      const end = this.base instanceof GeneratedMailbox ? Math.min(this.base.size, root + 9) : this.base.size;
      for (let i = root; i < end; i++) if (this.base.meta(i).threadId === threadId && this.view(i)) found.push(i);
    }
    for (const [i, a] of this.added) if (a.view.threadId === threadId && !this.deleted.has(i)) found.push(i);
    return found;
  }

  /** Smallest index with internalDate ≥ t among the base messages (dates rise with index). */
  firstIndexAtOrAfter(t: number): number {
    const i = this.base.firstIndexAtOrAfter(t);
    return i < this.base.size ? i : this.base.size;
  }

  /** Adds a message (generated from the seed when raw is not given) as the newest one. */
  add(options: { raw?: Buffer; labelIds?: string[] } = {}): MessageView {
    const index = this.nextIndex++;
    const generated = new GeneratedMailbox(
      this.base.seed,
      index + 1,
      this.email,
      undefined,
      this.base instanceof GeneratedMailbox ? this.base.replyRate : undefined,
    );
    const meta = generated.meta(index);
    const raw = options.raw ?? generated.raw(index);
    const record = this.record();
    const view: MessageView = {
      ...meta,
      id: messageIdFor(this.base.seed, index),
      threadId: options.raw ? messageIdFor(this.base.seed, index) : meta.threadId,
      // A minute after the newest message: deterministic (the same operations give the same mailbox).
      internalDate: this.newestDate() + 60_000,
      labelIds: options.labelIds ?? ['INBOX', 'UNREAD'],
      historyId: record.id,
    };
    this.added.set(index, { raw, view });
    const ref = { id: view.id, threadId: view.threadId, labelIds: view.labelIds };
    record.messages.push({ id: view.id, threadId: view.threadId });
    record.messagesAdded = [{ message: ref }];
    return view;
  }

  delete(index: number): boolean {
    const view = this.view(index);
    if (!view) return false;
    this.deleted.add(index);
    const record = this.record();
    record.messages.push({ id: view.id, threadId: view.threadId });
    record.messagesDeleted = [{ message: { id: view.id, threadId: view.threadId, labelIds: view.labelIds } }];
    return true;
  }

  relabel(index: number, add: string[], remove: string[]): MessageView | undefined {
    const view = this.view(index);
    if (!view) return undefined;
    const labels = [...view.labelIds.filter((l) => !remove.includes(l)), ...add.filter((l) => !view.labelIds.includes(l))];
    const record = this.record();
    const added = this.added.get(index);
    if (added) added.view = { ...added.view, labelIds: labels, historyId: record.id };
    else this.labelOverrides.set(index, labels);
    const ref = { id: view.id, threadId: view.threadId, labelIds: labels };
    record.messages.push({ id: view.id, threadId: view.threadId });
    const addedLabels = add.filter((l) => !view.labelIds.includes(l));
    const removedLabels = remove.filter((l) => view.labelIds.includes(l));
    if (addedLabels.length) record.labelsAdded = [{ message: ref, labelIds: addedLabels }];
    if (removedLabels.length) record.labelsRemoved = [{ message: ref, labelIds: removedLabels }];
    return this.view(index);
  }

  /** Renames a user label: its id, and so every message's labelIds, stay as they are (as Gmail). */
  renameLabel(id: string, name: string): boolean {
    if (!this.userLabels.has(id)) return false;
    this.userLabels.set(id, name);
    return true;
  }

  /**
   * Deletes a user label: it leaves every message that carries it, each a labelRemoved change of history (as removing
   * it from the message would be), and labels.list no longer names it.
   */
  deleteLabel(id: string): number {
    if (!this.userLabels.delete(id)) return -1;
    let changed = 0;
    for (let i = 0; i < this.nextIndex; i++)
      if (this.view(i)?.labelIds.includes(id)) {
        this.relabel(i, [], [id]);
        changed++;
      }
    return changed;
  }

  /** History records with id > start, oldest first. */
  historySince(start: number): HistoryRecord[] {
    return this.history.filter((h) => h.id > start);
  }

  /** Forgets all history so far: any earlier startHistoryId now gets 404. */
  expireHistory(): void {
    this.history = [];
    this.oldestValidHistoryId = this.historyId;
  }

  /** sha256 of the raw bytes, the ground truth a lake is checked against. */
  checksum(index: number): string {
    return createHash('sha256').update(this.raw(index)).digest('hex');
  }

  private newestDate(): number {
    for (let i = this.nextIndex - 1; i >= 0; i--) {
      const v = this.view(i);
      if (v) return v.internalDate;
    }
    return 0;
  }

  private record(): HistoryRecord {
    const record: HistoryRecord = { id: ++this.historyId, messages: [] };
    this.history.push(record);
    // After the caller has filled the record in.
    queueMicrotask(() => this.onChange?.(record));
    while (this.history.length > this.historyRetention) {
      const dropped = this.history.shift()!;
      this.oldestValidHistoryId = dropped.id;
    }
    return record;
  }
}
