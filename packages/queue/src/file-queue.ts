import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { FileQueueOptions } from './file-queue-options';
import { BatchOccupancy } from './internal/batch-occupancy';
import { BatchStore } from './internal/batch-store';
import { BodyCache } from './internal/body-cache';
import { DueIndex } from './internal/due-index';
import { prepareFollowUps, storeFollowUps } from './internal/follow-ups';
import { Journal, type JournalRecord } from './internal/journal';
import { LeaseTable } from './internal/lease-table';
import { listMessages } from './internal/list-filter';
import {
  claimOf,
  domainFilter,
  dueByDomain,
  entryFrom,
  isFinal,
  type MessageEntry,
  messageInfo,
  type RecipientEntry,
  recipientInfo,
  recordOf,
  wakeTime,
} from './internal/message-entry';
import { randomHex } from './internal/random-hex';
import { checkEnvelope, receiveBody, storageError } from './internal/receive-body';
import { recoverSpool } from './internal/recover-spool';
import { decideSettle } from './internal/settle-decision';
import { SpoolLock } from './internal/spool-lock';
import type {
  BodyInput,
  Claim,
  ClaimOptions,
  EnqueueOptions,
  EnqueueResult,
  EnvelopeInput,
  ListFilter,
  MessageInfo,
  Queue,
  RecipientOutcome,
  RecoveryReport,
  SettleOptions,
  SettleResult,
} from './queue';
import { QueueError } from './queue-error';
import { type RetryScheduleOptions, retryScheduleDefaults } from './retry-schedule';
import { nodeSpoolFileSystem, type SpoolFileSystem } from './spool-file-system';

/** The embedded file backend of `Queue`. Create it with `openFileQueue`. */
export class FileQueue implements Queue {
  recovery: RecoveryReport = { removedTemporary: 0, corrupt: [], messages: 0 };
  private readonly fs: SpoolFileSystem;
  private readonly store: BatchStore;
  private journal: Journal | undefined;
  private entries = new Map<string, MessageEntry>();
  private batches = new BatchOccupancy();
  private readonly leases = new LeaseTable();
  private readonly due = new DueIndex();
  private closed = false;
  private lock: SpoolLock | undefined;
  /** The highest message sequence handed out; persisted in batch trailers and journal records. */
  private highestSeq = 0;
  private readonly clock: { now(): number };
  private readonly random: () => number;
  private readonly schedule: Required<RetryScheduleOptions>;
  /** The newest inline bodies, for the worker that delivers them right after their 250 (see body-cache.ts). */
  private readonly recentBodies = new BodyCache(8 * 1024 * 1024);

  /** Use `openFileQueue`, which recovers the spool before handing the queue out. */
  constructor(private readonly options: FileQueueOptions) {
    this.fs = options.fileSystem ?? nodeSpoolFileSystem;
    this.store = new BatchStore(this.fs, options.spool, options.maxBatchBytes ?? 4 * 1024 * 1024);
    this.clock = { now: options.now ?? Date.now };
    this.random = options.random ?? Math.random;
    this.schedule = {
      minimalBackoffMs: options.minimalBackoffMs ?? retryScheduleDefaults.minimalBackoffMs,
      maximalBackoffMs: options.maximalBackoffMs ?? retryScheduleDefaults.maximalBackoffMs,
      maximalLifetimeMs: options.maximalLifetimeMs ?? retryScheduleDefaults.maximalLifetimeMs,
      jitter: options.jitter ?? retryScheduleDefaults.jitter,
    };
  }

  /** Takes the spool's lock and recovers the spool (see `RecoveryReport`); called once by `openFileQueue`. */
  async open(): Promise<void> {
    const readOnly = this.options.readOnly === true;
    if (!readOnly) {
      await this.fs.mkdir(this.options.spool);
      // Before recovery touches anything: two writers would corrupt each other's journal.
      this.lock = await SpoolLock.acquire(this.options.spool);
    }
    try {
      await this.recover(readOnly);
    } catch (error) {
      await this.lock?.release().catch(() => undefined);
      throw error;
    }
  }

  private async recover(readOnly: boolean): Promise<void> {
    const recovered = await recoverSpool(this.fs, this.options.spool, this.store, this.options.logger, readOnly);
    this.entries = recovered.entries;
    this.batches = new BatchOccupancy(recovered.live, recovered.gone);
    this.highestSeq = recovered.highestSeq;
    this.recovery = recovered.report;
    for (const entry of this.entries.values()) this.wake(entry);
    if (readOnly) return;
    const journal = new Journal(
      this.fs,
      join(this.options.spool, 'journal'),
      recovered.lastSequence,
      this.options.journalBytes ?? 16 * 1024 * 1024,
      () => this.snapshot(),
    );
    this.journal = journal;
    await journal.rotateNow();
    this.options.logger?.info({ ...this.recovery, corrupt: this.recovery.corrupt.length }, 'queue recovered');
  }

  async enqueue(envelope: EnvelopeInput, body: BodyInput, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.assertWritable();
    const recipients = checkEnvelope(envelope);
    const id = randomHex(8);
    const prepend = options.prepend === undefined ? Buffer.alloc(0) : Buffer.from(options.prepend);
    const inlineLimit = this.options.inlineBodyBytes ?? 256 * 1024;
    const gathered = await receiveBody(this.fs, this.store.temporaryDirectory, id, prepend, body, inlineLimit);
    if (this.closed) {
      // Closed while the body was arriving: nothing of it may be committed now.
      if (gathered.kind === 'spilled') {
        await gathered.file.close().catch(() => undefined);
        await this.fs.unlink(gathered.path).catch(() => undefined);
      }
      throw new QueueError('CLOSED', 'the queue was closed while the message was being received');
    }
    const stored = {
      id,
      sender: envelope.sender,
      recipients,
      attributes: { ...(envelope.attributes ?? {}) },
      createdAt: this.clock.now(),
      // Taken when the commit is requested: commits complete in request order.
      seq: ++this.highestSeq,
    };
    let committed: Awaited<ReturnType<BatchStore['store']>>;
    try {
      committed = await this.store.store({ envelope: stored, body: gathered });
    } catch (error) {
      throw storageError(error, 'committing a message');
    }
    this.admit(committed.batch, entryFrom(committed.stored, committed.batch, undefined), false);
    if (gathered.kind === 'inline') this.recentBodies.put(id, gathered.data);
    return { id, size: committed.stored.length };
  }

  async claim(options: ClaimOptions = {}): Promise<Claim[]> {
    this.assertWritable();
    const limit = options.limit ?? 100;
    const now = this.clock.now();
    const until = now + (options.leaseMs ?? this.options.leaseMs ?? 600_000);
    const wanted = domainFilter(options);
    const claims: Claim[] = [];
    const touched: MessageEntry[] = [];
    // Only messages whose wake-up time has come are looked at; each is re-filed after the loop.
    while (claims.length < limit) {
      const item = this.due.popDue(now);
      if (item === undefined) break;
      const entry = this.entries.get(item.id);
      if (entry === undefined || entry.version !== item.version) continue;
      touched.push(entry);
      // Past its lifetime a message, held or not, is handed out whole, to be bounced.
      const expired = now >= this.expiresAt(entry);
      if (entry.held && !expired) continue;
      for (const [domain, rcpts] of dueByDomain(entry, expired ? undefined : now, wanted)) {
        if (claims.length >= limit) break;
        const leaseId = this.leases.grant(entry, domain, now, until, expired);
        if (leaseId === undefined) continue;
        claims.push(claimOf(entry, { leaseId, until, domain, expired }, rcpts));
      }
    }
    for (const entry of touched) this.wake(entry);
    return claims;
  }

  /**
   * Files the message in the due index at the earliest time it may have claimable work: the
   * earliest next attempt of a recipient, or the end of the lease that covers it.
   */
  private wake(entry: MessageEntry): void {
    if (this.due.size > 2 * this.entries.size + 1024) {
      this.rebuildDueIndex(); // files this entry too
      return;
    }
    entry.version += 1;
    if (!this.entries.has(entry.stored.id)) return;
    const at = wakeTime(entry, this.expiresAt(entry), (leaseId) => this.leases.until(leaseId));
    if (at === undefined) return;
    this.due.push(entry.stored.id, at, entry.stored.seq, entry.version);
  }

  private expiresAt(entry: MessageEntry): number {
    return entry.stored.createdAt + this.schedule.maximalLifetimeMs;
  }

  /** Drops the stale items that rescheduling leaves behind. */
  private rebuildDueIndex(): void {
    this.due.clear();
    // One item per entry keeps the size under the threshold, so this never recurses.
    for (const entry of this.entries.values()) this.wake(entry);
  }

  async settle(
    leaseId: string,
    outcomes: readonly RecipientOutcome[],
    options: SettleOptions = {},
  ): Promise<SettleResult> {
    this.assertWritable();
    const { lease, entry } = this.leases.held(leaseId, this.entries);
    // Checked before anything is written: a bad follow-up fails the whole settle.
    const prepared = prepareFollowUps(options.enqueue ?? [], () => randomHex(8));
    return this.withLock(entry, async () => {
      this.leases.held(leaseId, this.entries);
      const followUps =
        prepared.length === 0
          ? []
          : await storeFollowUps(this.store, prepared, {
              now: this.clock.now(),
              nextSeq: () => ++this.highestSeq,
              crc: (data) => crc32(data),
            });
      // Re-checked after the follow-ups' write: the lease may have run out and gone to another worker.
      this.leases.held(leaseId, this.entries);
      const { rcpts, failed, warn, complete } = decideSettle(entry, lease.domain, outcomes, {
        now: this.clock.now(),
        schedule: this.schedule,
        random: this.random,
        delayWarningMs: this.options.delayWarningMs ?? 4 * 3600_000,
        expired: lease.expired,
      });
      const record: JournalRecord = complete
        ? { id: entry.stored.id, done: 1, q: this.highestSeq }
        : recordOf(entry.stored.id, entry.held, entry.warned || warn, rcpts);
      // One journal line holds the outcomes and names the follow-ups: the commit point of both.
      if (followUps.length > 0) record.f = followUps.map((message) => message.stored.id);
      await this.writeState(entry, record);
      entry.rcpts = rcpts;
      if (warn) entry.warned = true;
      this.leases.end(entry, lease, leaseId);
      if (complete) this.forget(entry);
      else this.wake(entry);
      const enqueued = followUps.map((committed) => {
        // Journaled: every later snapshot holds a record of it, which keeps it confirmed.
        this.admit(committed.batch, entryFrom(committed.stored, committed.batch, undefined), true);
        return { id: committed.stored.id, size: committed.stored.length };
      });
      const open = rcpts.filter((r) => !isFinal(r.state));
      const result: SettleResult = {
        id: entry.stored.id,
        complete,
        failed,
        delayWarning: warn ? rcpts.filter((r) => r.state === 'deferred').map(recipientInfo) : [],
        enqueued,
      };
      if (open.length > 0) result.nextAttemptAt = Math.min(...open.map((r) => r.next));
      return result;
    });
  }

  async renewLease(leaseId: string, leaseMs: number): Promise<number> {
    this.assertWritable();
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new QueueError('INVALID_ARGUMENT', `a lease lasts a positive number of ms, not ${String(leaseMs)}`);
    }
    const { lease, entry } = this.leases.held(leaseId, this.entries);
    // An expired lease not yet handed to anyone else is still this worker's: it may be renewed.
    lease.until = this.clock.now() + leaseMs;
    this.wake(entry);
    return lease.until;
  }

  /** Makes a committed message live: indexed, due, and counted in its batch. */
  private admit(batch: string, entry: MessageEntry, journaled: boolean): void {
    entry.journaled = journaled;
    this.entries.set(entry.stored.id, entry);
    this.wake(entry);
    this.batches.add(batch, entry.stored.id);
  }

  async hold(id: string): Promise<void> {
    await this.change(id, (entry) => ({ held: true, rcpts: entry.rcpts }));
  }

  async release(id: string): Promise<void> {
    await this.change(id, (entry) => ({ held: false, rcpts: entry.rcpts }));
  }

  async remove(id: string): Promise<void> {
    this.assertWritable();
    const entry = this.find(id);
    await this.withLock(entry, async () => {
      if (!this.entries.has(id)) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
      await this.writeState(entry, { id, done: 1, q: this.highestSeq });
      this.leases.endAll(entry);
      this.forget(entry);
    });
  }

  async reschedule(id?: string): Promise<number> {
    this.assertWritable();
    const now = this.clock.now();
    const targets = id === undefined ? [...this.entries.values()] : [this.find(id)];
    const due = targets.filter((entry) => entry.rcpts.some((r) => !isFinal(r.state) && r.next > now));
    await Promise.all(
      due.map((entry) =>
        this.change(entry.stored.id, (current) => ({
          held: current.held,
          rcpts: current.rcpts.map((r) => (!isFinal(r.state) && r.next > now ? { ...r, next: now } : r)),
        })),
      ),
    );
    return due.length;
  }

  async list(filter: ListFilter = {}): Promise<MessageInfo[]> {
    this.assertOpen();
    return listMessages(this.entries.values(), filter);
  }

  async inspect(id: string): Promise<MessageInfo | undefined> {
    this.assertOpen();
    const entry = this.entries.get(id);
    return entry === undefined ? undefined : messageInfo(entry);
  }

  async openBody(id: string): Promise<Readable> {
    const entry = this.find(id);
    const { offset, length } = entry.stored;
    if (length === 0) return Readable.from([]);
    const recent = this.recentBodies.get(id);
    if (recent !== undefined) return Readable.from([recent], { objectMode: false });
    return this.fs.createReadStream(this.store.path(entry.batch), { start: offset, end: offset + length - 1 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.recentBodies.clear();
    await this.store.idle();
    await Promise.all([...this.entries.values()].map((entry) => entry.lock.catch(() => undefined)));
    try {
      await this.journal?.close();
    } finally {
      await this.lock?.release().catch((error: unknown) => {
        // Harmless: the next opener finds this process gone and takes the spool over.
        this.options.logger?.warn({ err: error }, 'queue could not release the spool lock');
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('CLOSED', 'the queue is closed');
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.options.readOnly === true) {
      throw new QueueError('READ_ONLY', `the queue in ${this.options.spool} was opened read-only`);
    }
  }

  private find(id: string): MessageEntry {
    this.assertOpen();
    const entry = this.entries.get(id);
    if (entry === undefined) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
    return entry;
  }

  private withLock<T>(entry: MessageEntry, work: () => Promise<T>): Promise<T> {
    const run = entry.lock.then(work, work);
    entry.lock = run.catch(() => undefined);
    return run;
  }

  private change(id: string, next: (entry: MessageEntry) => { held: boolean; rcpts: RecipientEntry[] }): Promise<void> {
    this.assertWritable();
    const entry = this.find(id);
    return this.withLock(entry, async () => {
      if (!this.entries.has(id)) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
      const state = next(entry);
      await this.writeState(entry, recordOf(id, state.held, entry.warned, state.rcpts));
      entry.held = state.held;
      entry.rcpts = state.rcpts;
      this.wake(entry);
    });
  }

  private async writeState(entry: MessageEntry, record: JournalRecord): Promise<void> {
    // Set before the append: if the append fails, a later snapshot must still cover this id.
    entry.journaled = true;
    try {
      // Never undefined here: every path that writes asserts a writable queue first.
      await this.journal!.append([record]);
    } catch (error) {
      throw storageError(error, 'recording a state change');
    }
  }

  /** Drops a message that left the queue; its batch file goes when no message of it is live. */
  private forget(entry: MessageEntry): void {
    const id = entry.stored.id;
    this.entries.delete(id);
    this.recentBodies.delete(id);
    if (!this.batches.leave(entry.batch, id)) return;
    this.store.delete(entry.batch).catch((error: unknown) => {
      // Harmless: recovery deletes a batch file whose messages are all done.
      this.options.logger?.warn({ batch: entry.batch, err: error }, 'queue could not delete a finished batch file');
    });
  }

  private snapshot(): JournalRecord[] {
    // The high-water mark first: the messages that carried the highest sequences may be gone.
    const records: JournalRecord[] = [{ id: '', q: this.highestSeq }];
    for (const [id, entry] of this.entries) {
      // A message never journaled is in its initial state, which its batch file already gives.
      if (entry.journaled) records.push(recordOf(id, entry.held, entry.warned, entry.rcpts));
    }
    for (const id of this.batches.goneIds()) records.push({ id, done: 1 });
    return records;
  }
}

/** Opens (and recovers) the embedded file queue in `options.spool`. */
export async function openFileQueue(options: FileQueueOptions): Promise<FileQueue> {
  const queue = new FileQueue(options);
  try {
    await queue.open();
  } catch (error) {
    throw storageError(error, `opening the spool ${options.spool}`);
  }
  return queue;
}
