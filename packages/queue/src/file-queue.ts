import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BatchStore } from './internal/batch-store';
import { DueIndex } from './internal/due-index';
import { Journal, type JournalRecord } from './internal/journal';
import {
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
import { checkEnvelope, receiveBody, storageError } from './internal/receive-body';
import { type QueueLogger, recoverSpool } from './internal/recover-spool';
import { decideSettle } from './internal/settle-decision';
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
  SettleResult,
} from './queue';
import { QueueError } from './queue-error';
import { type RetryScheduleOptions, retryScheduleDefaults } from './retry-schedule';
import { nodeSpoolFileSystem, type SpoolFileSystem } from './spool-file-system';

/** Options of `openFileQueue`; see the README for each default. */
export interface FileQueueOptions extends RetryScheduleOptions {
  /** The spool directory (created if missing). */
  spool: string;
  /** `false` turns the delay warning off; default 4 h. */
  delayWarningMs?: number | false;
  /** Default lease of a claim, ms (10 min). */
  leaseMs?: number;
  /** Most body bytes in one commit batch file (4 MiB). */
  maxBatchBytes?: number;
  /** Bodies up to this size are gathered in memory; bigger ones stream to their own file (256 KiB). */
  inlineBodyBytes?: number;
  /** The journal is compacted past this size (16 MiB). */
  journalBytes?: number;
  clock?: { now(): number };
  random?: () => number;
  logger?: QueueLogger;
  fileSystem?: SpoolFileSystem;
}

/** The embedded file backend of `Queue`. Create it with `openFileQueue`. */
export class FileQueue implements Queue {
  recovery: RecoveryReport = { removedTemporary: 0, corrupt: [], messages: 0 };
  private readonly fs: SpoolFileSystem;
  private readonly store: BatchStore;
  private journal!: Journal;
  private entries = new Map<string, MessageEntry>();
  private live = new Map<string, Set<string>>();
  private gone = new Map<string, Set<string>>();
  private leases = new Map<string, { id: string; domain: string; until: number }>();
  private readonly due = new DueIndex();
  private closed = false;
  private readonly clock: { now(): number };
  private readonly random: () => number;
  private readonly schedule: Required<RetryScheduleOptions>;

  /** Use `openFileQueue`, which recovers the spool before handing the queue out. */
  constructor(private readonly options: FileQueueOptions) {
    this.fs = options.fileSystem ?? nodeSpoolFileSystem;
    this.store = new BatchStore(this.fs, options.spool, options.maxBatchBytes ?? 4 * 1024 * 1024);
    this.clock = options.clock ?? { now: Date.now };
    this.random = options.random ?? Math.random;
    this.schedule = {
      minimalBackoffMs: options.minimalBackoffMs ?? retryScheduleDefaults.minimalBackoffMs,
      maximalBackoffMs: options.maximalBackoffMs ?? retryScheduleDefaults.maximalBackoffMs,
      maximalLifetimeMs: options.maximalLifetimeMs ?? retryScheduleDefaults.maximalLifetimeMs,
      jitter: options.jitter ?? retryScheduleDefaults.jitter,
    };
  }

  /** Recovers the spool (see `RecoveryReport`); called once by `openFileQueue`. */
  async open(): Promise<void> {
    const recovered = await recoverSpool(this.fs, this.options.spool, this.store, this.options.logger);
    this.entries = recovered.entries;
    this.live = recovered.live;
    this.gone = recovered.gone;
    this.recovery = recovered.report;
    for (const entry of this.entries.values()) this.wake(entry);
    this.journal = new Journal(
      this.fs,
      join(this.options.spool, 'journal'),
      recovered.lastSequence,
      this.options.journalBytes ?? 16 * 1024 * 1024,
      () => this.snapshot(),
    );
    await this.journal.rotateNow();
    this.options.logger?.info({ ...this.recovery, corrupt: this.recovery.corrupt.length }, 'queue recovered');
  }

  async enqueue(envelope: EnvelopeInput, body: BodyInput, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.assertOpen();
    const recipients = checkEnvelope(envelope);
    const id = randomBytes(8).toString('hex');
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
    };
    let committed: Awaited<ReturnType<BatchStore['store']>>;
    try {
      committed = await this.store.store({ envelope: stored, body: gathered });
    } catch (error) {
      throw storageError(error, 'committing a message');
    }
    const entry = entryFrom(committed.stored, committed.batch, undefined);
    this.entries.set(id, entry);
    this.wake(entry);
    const ids = this.live.get(committed.batch) ?? new Set<string>();
    this.live.set(committed.batch, ids);
    ids.add(id);
    return { id, size: committed.stored.length };
  }

  async claim(options: ClaimOptions = {}): Promise<Claim[]> {
    this.assertOpen();
    const limit = options.limit ?? 100;
    const now = this.clock.now();
    const until = now + (options.leaseMs ?? this.options.leaseMs ?? 600_000);
    const wantedDomain = options.domain?.toLowerCase();
    const claims: Claim[] = [];
    const touched: MessageEntry[] = [];
    // Only messages whose wake-up time has come are looked at; each is re-filed after the loop.
    while (claims.length < limit) {
      const item = this.due.popDue(now);
      if (item === undefined) break;
      const entry = this.entries.get(item.id);
      if (entry === undefined || entry.version !== item.version || entry.held) continue;
      touched.push(entry);
      for (const [domain, rcpts] of dueByDomain(entry, now, wantedDomain)) {
        if (claims.length >= limit) break;
        const current = entry.leases.get(domain);
        const lease = current === undefined ? undefined : this.leases.get(current);
        if (lease !== undefined && lease.until > now) continue;
        if (current !== undefined) this.leases.delete(current);
        const id = entry.stored.id;
        const leaseId = `${id}.${randomBytes(6).toString('hex')}`;
        this.leases.set(leaseId, { id, domain, until });
        entry.leases.set(domain, leaseId);
        claims.push({
          id,
          leaseId,
          leaseUntil: until,
          domain,
          sender: entry.stored.sender,
          attributes: { ...entry.stored.attributes },
          size: entry.stored.length,
          createdAt: entry.stored.createdAt,
          recipients: rcpts.map((r) => ({ address: r.address, attempts: r.attempts })),
        });
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
    if (entry.held || !this.entries.has(entry.stored.id)) return;
    const at = wakeTime(entry, (leaseId) => this.leases.get(leaseId)?.until ?? 0);
    if (at === undefined) return;
    this.due.push(entry.stored.id, at, entry.stored.createdAt, entry.version);
  }

  /** Drops the stale items that rescheduling leaves behind. */
  private rebuildDueIndex(): void {
    this.due.clear();
    // One item per entry keeps the size under the threshold, so this never recurses.
    for (const entry of this.entries.values()) this.wake(entry);
  }

  async settle(leaseId: string, outcomes: readonly RecipientOutcome[]): Promise<SettleResult> {
    this.assertOpen();
    const lease = this.leases.get(leaseId);
    const entry = lease === undefined ? undefined : this.entries.get(lease.id);
    if (lease === undefined || entry === undefined || entry.leases.get(lease.domain) !== leaseId) {
      throw new QueueError(
        'LEASE_LOST',
        `lease ${leaseId} is not held any more (expired and claimed again, or unknown)`,
      );
    }
    return this.withLock(entry, async () => {
      if (!this.entries.has(entry.stored.id) || entry.leases.get(lease.domain) !== leaseId) {
        throw new QueueError('LEASE_LOST', `lease ${leaseId} is not held any more (message removed or claimed again)`);
      }
      const { rcpts, failed, warn, complete } = decideSettle(entry, lease.domain, outcomes, {
        now: this.clock.now(),
        schedule: this.schedule,
        random: this.random,
        delayWarningMs: this.options.delayWarningMs ?? 4 * 3600_000,
      });
      await this.writeState(
        entry,
        complete
          ? { id: entry.stored.id, done: 1 }
          : recordOf(entry.stored.id, entry.held, entry.warned || warn, rcpts),
      );
      entry.rcpts = rcpts;
      if (warn) entry.warned = true;
      entry.leases.delete(lease.domain);
      this.leases.delete(leaseId);
      if (complete) this.forget(entry);
      else this.wake(entry);
      const open = rcpts.filter((r) => !isFinal(r.state));
      const result: SettleResult = {
        id: entry.stored.id,
        complete,
        failed,
        delayWarning: warn ? rcpts.filter((r) => r.state === 'deferred').map(recipientInfo) : [],
      };
      if (open.length > 0) result.nextAttemptAt = Math.min(...open.map((r) => r.next));
      return result;
    });
  }

  async hold(id: string): Promise<void> {
    await this.change(id, (entry) => ({ held: true, rcpts: entry.rcpts }));
  }

  async release(id: string): Promise<void> {
    await this.change(id, (entry) => ({ held: false, rcpts: entry.rcpts }));
  }

  async remove(id: string): Promise<void> {
    const entry = this.find(id);
    await this.withLock(entry, async () => {
      if (!this.entries.has(id)) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
      await this.writeState(entry, { id, done: 1 });
      for (const leaseId of entry.leases.values()) this.leases.delete(leaseId);
      this.forget(entry);
    });
  }

  async reschedule(id?: string): Promise<number> {
    this.assertOpen();
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
    const result: MessageInfo[] = [];
    const recipient = filter.recipient?.toLowerCase();
    const domain = filter.domain?.toLowerCase();
    for (const entry of this.entries.values()) {
      if (filter.limit !== undefined && result.length >= filter.limit) break;
      if (filter.sender !== undefined && entry.stored.sender.toLowerCase() !== filter.sender.toLowerCase()) continue;
      if (recipient !== undefined && !entry.rcpts.some((r) => r.address.toLowerCase() === recipient)) continue;
      if (domain !== undefined && !entry.rcpts.some((r) => r.domain === domain)) continue;
      if (filter.state === 'held' && !entry.held) continue;
      if (filter.state !== undefined && filter.state !== 'held' && !entry.rcpts.some((r) => r.state === filter.state)) {
        continue;
      }
      result.push(messageInfo(entry));
    }
    return result;
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
    return this.fs.createReadStream(this.store.path(entry.batch), { start: offset, end: offset + length - 1 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.idle();
    await Promise.all([...this.entries.values()].map((entry) => entry.lock.catch(() => undefined)));
    await this.journal.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('CLOSED', 'the queue is closed');
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
      await this.journal.append([record]);
    } catch (error) {
      throw storageError(error, 'recording a state change');
    }
  }

  /** Drops a message that left the queue; its batch file goes when no message of it is live. */
  private forget(entry: MessageEntry): void {
    const id = entry.stored.id;
    this.entries.delete(id);
    const live = this.live.get(entry.batch);
    live?.delete(id);
    if (live !== undefined && live.size > 0) {
      const gone = this.gone.get(entry.batch) ?? new Set<string>();
      this.gone.set(entry.batch, gone);
      gone.add(id);
      return;
    }
    this.live.delete(entry.batch);
    this.gone.delete(entry.batch);
    this.store.delete(entry.batch).catch((error: unknown) => {
      // Harmless: recovery deletes a batch file whose messages are all done.
      this.options.logger?.warn({ batch: entry.batch, err: error }, 'queue could not delete a finished batch file');
    });
  }

  private snapshot(): JournalRecord[] {
    const records: JournalRecord[] = [];
    for (const [id, entry] of this.entries) {
      // A message never journaled is in its initial state, which its batch file already gives.
      if (entry.journaled) records.push(recordOf(id, entry.held, entry.warned, entry.rcpts));
    }
    for (const ids of this.gone.values()) for (const id of ids) records.push({ id, done: 1 });
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
