import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { type PreparedFollowUp, prepareFollowUps } from '../internal/follow-ups';
import { domainFilter, messageInfo } from '../internal/message-entry';
import { checkEnvelope } from '../internal/receive-body';
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
} from '../queue';
import { isQueueError, QueueError } from '../queue-error';
import { type RetryScheduleOptions, retryScheduleDefaults } from '../retry-schedule';
import { nodeSpoolFileSystem as fs } from '../spool-file-system';
import { BodyStorage, type PreparedBody } from './body-storage';
import { assertBodyFresh, BodySweeper, sweepBodyFiles } from './body-sweep';
import { grantClaims } from './claim-grant';
import { EnqueueBatcher, insertBatchStatement, insertMessage, type PendingMessage } from './enqueue-batch';
import { LeaseBook, messageIdOf } from './lease-book';
import {
  giveLeasesBack,
  lockMessage,
  removeMessage,
  renewLeaseOf,
  rescheduleMessages,
  setHeldOf,
} from './locked-changes';
import { type LoadedMessage, loadMessages } from './message-rows';
import type { PostgresQueueOptions } from './postgres-queue-options';
import { claimStartSql, executeGrantSql, listSql, prepareGrantSql } from './queue-sql';
import { quoteSchema } from './schema-migrations';
import { SettleBatcher, type SettleRequest, type SettleWritten, settleBatch } from './settle-batch';
import { decideSettleOf, settleStatement } from './settle-statement';
import { databaseError, named, withClient, withStartedTransaction, withTransaction } from './transaction';

const newId = () => randomBytes(8).toString('hex');

/**
 * The PostgreSQL backend of `Queue`: several hosts share one queue. Create it with
 * `openPostgresQueue`. Every change of a message happens under its row lock (`FOR UPDATE`), so
 * the hosts' views never race; claims skip the rows another host holds (`SKIP LOCKED`).
 */
export class PostgresQueue implements Queue {
  recovery: RecoveryReport = { removedTemporary: 0, corrupt: [], messages: 0 };
  /** Names this instance's leases, which `close` gives back. */
  private readonly owner = randomBytes(8).toString('hex');
  private readonly s: string;
  private readonly bodies: BodyStorage;
  private readonly clock: { now(): number };
  private readonly random: () => number;
  private readonly schedule: Required<RetryScheduleOptions>;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The leases this instance's claims granted: their messages as written, and those not settled. */
  private readonly leases = new LeaseBook();
  /** The pool's connections (sessions) that have the grant prepared (`prepareGrantSql`). */
  private readonly grantPrepared = new WeakSet<PoolClient>();
  private closed = false;
  private readonly sweeper = new BodySweeper(
    () => (this.closed ? Promise.resolve(0) : this.sweepBodyFiles()),
    (removed, error) =>
      error === undefined
        ? this.options.logger?.info({ removed }, 'queue removed orphaned body files')
        : this.options.logger?.warn({ err: error }, 'queue could not sweep its body directory'),
  );
  private readonly settles = new SettleBatcher<SettleRequest, SettleWritten | undefined>((batch) =>
    withClient(this.pool, 'settling a claim', (client) =>
      settleBatch(
        client,
        this.s,
        batch,
        (request) => this.leases.take(request.leaseId),
        (message, leaseId, outcomes, enqueued) => this.decide(message, leaseId, outcomes, enqueued),
        // A batch with a stale body file fails, and is tried again settle by settle.
        () => this.assertFresh(batch.flatMap((request) => request.followUps.map((f) => f.body))),
      ),
    ),
  );
  private readonly batcher = new EnqueueBatcher((batch) =>
    withClient(this.pool, 'committing a message', async (client) => {
      // A batch with a stale body file fails, and is tried again message by message.
      this.assertFresh(batch.map((message) => message.body));
      await client.query(named(insertBatchStatement(this.s, batch, this.clock.now())));
    }),
  );

  /** Use `openPostgresQueue`, which migrates the schema before handing the queue out. */
  constructor(
    private readonly pool: Pool,
    private readonly options: PostgresQueueOptions,
  ) {
    this.s = quoteSchema(options.schema ?? 'homing_queue');
    this.bodies = new BodyStorage(
      this.s,
      options.bodyChunkBytes ?? 256 * 1024,
      options.temporaryDirectory ?? tmpdir(),
      options.bodyDirectory,
      () => this.clock.now(),
    );
    this.clock = { now: options.now ?? Date.now };
    this.random = options.random ?? Math.random;
    this.schedule = {
      minimalBackoffMs: options.minimalBackoffMs ?? retryScheduleDefaults.minimalBackoffMs,
      maximalBackoffMs: options.maximalBackoffMs ?? retryScheduleDefaults.maximalBackoffMs,
      maximalLifetimeMs: options.maximalLifetimeMs ?? retryScheduleDefaults.maximalLifetimeMs,
      jitter: options.jitter ?? retryScheduleDefaults.jitter,
    };
  }

  /**
   * Prepares the body directory, counts the queue, and starts sweeping the body directory (now,
   * in the background, then every 30 min); called once by `openPostgresQueue`.
   */
  async open(): Promise<void> {
    await this.bodies.open();
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.messages`);
    this.recovery = { removedTemporary: 0, corrupt: [], messages: Number(rows[0]?.n ?? 0) };
    if (this.options.bodyDirectory !== undefined) this.sweeper.start();
  }

  /**
   * Removes the files of `bodyDirectory` that no message names and that are older than any
   * enqueue can take (1 h by their mtime: left by a host that crashed before its COMMIT); resolves
   * to how many. Runs at open and every 30 min; a call during a sweep gets that sweep's count.
   */
  sweepBodyFiles(): Promise<number> {
    this.assertOpen();
    const directory = this.options.bodyDirectory;
    if (directory === undefined) return Promise.resolve(0);
    return this.sweeper.sweep(() =>
      this.track(() =>
        sweepBodyFiles({ pool: this.pool, s: this.s, directory, fs, now: this.clock.now() }).catch((error) => {
          throw databaseError(error, 'sweeping the body directory');
        }),
      ),
    );
  }

  async enqueue(envelope: EnvelopeInput, body: BodyInput, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.assertOpen();
    const recipients = checkEnvelope(envelope);
    const id = newId();
    const prepend = options.prepend === undefined ? Buffer.alloc(0) : Buffer.from(options.prepend);
    const prepared = await this.bodies.prepare(id, prepend, body);
    let committed = false;
    try {
      if (this.closed) throw new QueueError('CLOSED', 'the queue was closed while the message was being received');
      const message = { id, sender: envelope.sender, recipients, attributes: { ...(envelope.attributes ?? {}) } };
      await this.track(async () => {
        if (prepared.writeChunks === undefined) {
          // With the other enqueues of the moment: one statement, one transaction, durable when it returns.
          await this.batcher.add({ ...message, body: prepared });
        } else {
          await withTransaction(this.pool, 'committing a message', (client) =>
            this.insert(client, message, prepared, this.clock.now()),
          );
        }
      });
      committed = true;
    } finally {
      await prepared.finish(committed);
    }
    return { id, size: prepared.size };
  }

  private insert(
    client: PoolClient,
    message: Omit<PendingMessage, 'body'>,
    body: PreparedBody,
    createdAt: number,
  ): Promise<void> {
    return insertMessage(client, this.s, { ...message, body }, createdAt);
  }

  async claim(options: ClaimOptions = {}): Promise<Claim[]> {
    this.assertOpen();
    const limit = options.limit ?? 100;
    if (limit <= 0) return [];
    const now = this.clock.now();
    const until = now + (options.leaseMs ?? this.options.leaseMs ?? 600_000);
    const lifetime = this.schedule.maximalLifetimeMs;
    const wanted = domainFilter(options);
    const only = options.domain?.toLowerCase() ?? null;
    const except = (options.exceptDomains ?? []).map((domain) => domain.toLowerCase());
    return this.track(() =>
      // A lease needs no WAL flush: lost only with the server's crash, and then the work is
      // handed out again, as after a lease's end (delivery is at least once, as SMTP's is).
      // Two round trips: BEGIN + lock + reads, then the grant + COMMIT (and a PREPARE once per session).
      withStartedTransaction(
        this.pool,
        'claiming work',
        (client) =>
          claimStartSql(
            this.s,
            now,
            limit,
            wanted === undefined ? undefined : { expiredBefore: now - lifetime, only, except },
            (text) => client.escapeLiteral(text),
          ),
        (client, results) => {
          const [messages, recipients] = results.slice(-2).map((result) => result.rows);
          const { claims, grants, leased } = grantClaims(
            { messages: messages!, recipients: recipients! },
            { now, until, limit, lifetime, wanted, owner: this.owner },
          );
          // The grant prepared once per session (not planned again), its parameters an array text
          // and a JSON text, sent with the COMMIT: one round trip.
          const literal = (text: string) => client.escapeLiteral(text);
          const end = grants === undefined ? 'COMMIT' : `${executeGrantSql(this.s, grants, literal)};\nCOMMIT`;
          return { result: { claims, leased }, end: [end] };
        },
        async (client) => {
          if (this.grantPrepared.has(client)) return;
          await client.query(prepareGrantSql(this.s));
          this.grantPrepared.add(client);
        },
      ).then(({ claims, leased }) => {
        // Known once committed; the oldest forgotten past the bound (their settles read them).
        this.leases.granted(leased, until, now);
        return claims;
      }),
    );
  }

  async settle(
    leaseId: string,
    outcomes: readonly RecipientOutcome[],
    options: SettleOptions = {},
  ): Promise<SettleResult> {
    this.assertOpen();
    const id = messageIdOf(leaseId);
    // Checked before anything is written: a bad follow-up fails the whole settle.
    const prepared = prepareFollowUps(options.enqueue ?? [], newId);
    const followUps: { message: PreparedFollowUp; body: PreparedBody }[] = [];
    let committed = false;
    let goneBodyFile: string | null = null;
    try {
      for (const message of prepared) {
        followUps.push({ message, body: await this.bodies.prepareBuffer(message.id, message.data) });
      }
      const result = await this.track(async () => {
        // One statement when every follow-up body fits one chunk (a bounce does); retried when
        // another writer changed the message in between, and after a few such races, locked.
        if (followUps.every((f) => f.body.writeChunks === undefined)) {
          for (let attempt = 0; attempt < 5; attempt += 1) {
            const written = await this.settles.add({ id, leaseId, outcomes, followUps });
            if (written !== undefined) {
              goneBodyFile = written.goneBodyFile;
              return written.result;
            }
          }
        }
        return withTransaction(this.pool, 'settling a claim', async (client) => {
          const message = await this.lockOne(client, id);
          const decided = this.decide(
            message,
            leaseId,
            outcomes,
            followUps.map((f) => ({ id: f.message.id, size: f.body.size })),
          );
          for (const followUp of followUps) await this.insert(client, followUp.message, followUp.body, decided.now);
          // The last statement before the COMMIT: it and the COMMIT are all the sweep must wait for.
          this.assertFresh(followUps.map((f) => f.body));
          // Under the lock the version cannot have moved: the statement writes.
          const statement = settleStatement(this.s, [
            { message: message!, leaseId, outcome: decided.outcome, followUps: [], now: decided.now },
          ]);
          await client.query(named(statement));
          if (decided.outcome.complete) goneBodyFile = message!.bodyFile;
          return decided.result;
        });
      });
      committed = true;
      this.leases.ended(leaseId);
      return result;
    } catch (error) {
      if (isQueueError(error, 'LEASE_LOST')) this.leases.ended(leaseId);
      throw error;
    } finally {
      for (const { body } of followUps) await body.finish(committed);
      if (committed) this.deleteBody(goneBodyFile);
    }
  }

  private decide(
    message: LoadedMessage | undefined,
    leaseId: string,
    outcomes: readonly RecipientOutcome[],
    enqueued: readonly EnqueueResult[],
  ) {
    return decideSettleOf(message, leaseId, outcomes, {
      now: this.clock.now(),
      schedule: this.schedule,
      random: this.random,
      delayWarningMs: this.options.delayWarningMs ?? 4 * 3600_000,
      lifetime: this.schedule.maximalLifetimeMs,
      enqueued,
    });
  }

  async renewLease(leaseId: string, leaseMs: number): Promise<number> {
    this.assertOpen();
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new QueueError('INVALID_ARGUMENT', `a lease lasts a positive number of ms, not ${String(leaseMs)}`);
    }
    const id = messageIdOf(leaseId);
    return this.track(() =>
      withTransaction(this.pool, 'renewing a lease', async (client) => {
        const until = await renewLeaseOf(client, this.s, id, leaseId, this.clock.now() + leaseMs, this.schedule);
        this.leases.renewed(leaseId, until);
        return until;
      }),
    );
  }

  async hold(id: string): Promise<void> {
    await this.setHeld(id, true);
  }

  async release(id: string): Promise<void> {
    await this.setHeld(id, false);
  }

  private async setHeld(id: string, held: boolean): Promise<void> {
    this.assertOpen();
    await this.track(() =>
      withTransaction(this.pool, held ? 'holding a message' : 'releasing a message', (client) =>
        setHeldOf(client, this.s, id, held, this.schedule),
      ),
    );
  }

  async remove(id: string): Promise<void> {
    this.assertOpen();
    const bodyFile = await this.track(() =>
      withTransaction(this.pool, 'removing a message', (client) => removeMessage(client, this.s, id)),
    );
    this.deleteBody(bodyFile);
  }

  async reschedule(id?: string): Promise<number> {
    this.assertOpen();
    const now = this.clock.now();
    return this.track(() =>
      withTransaction(this.pool, 'rescheduling', (client) =>
        rescheduleMessages(client, this.s, id, now, this.schedule.maximalLifetimeMs),
      ),
    );
  }

  async list(filter: ListFilter = {}): Promise<MessageInfo[]> {
    this.assertOpen();
    return this.track(() =>
      withClient(this.pool, 'listing the queue', async (client) => {
        const { rows } = await client.query<{ id: string }>(listSql(this.s), [
          filter.sender?.toLowerCase() ?? null,
          filter.recipient?.toLowerCase() ?? null,
          filter.domain?.toLowerCase() ?? null,
          filter.state ?? null,
          filter.limit ?? null,
        ]);
        const loaded = await loadMessages(
          client,
          this.s,
          rows.map((row) => row.id),
        );
        return loaded.map((message) => messageInfo(message.entry));
      }),
    );
  }

  async inspect(id: string): Promise<MessageInfo | undefined> {
    this.assertOpen();
    const [message] = await this.track(() =>
      withClient(this.pool, 'reading a message', (client) => loadMessages(client, this.s, [id])),
    );
    return message === undefined ? undefined : messageInfo(message.entry);
  }

  async openBody(id: string): Promise<Readable> {
    this.assertOpen();
    const { rows } = await this.track(() =>
      withClient(this.pool, 'reading a message', (client) =>
        client.query<{ size: string; body_file: string | null }>(
          `SELECT size, body_file FROM ${this.s}.messages WHERE id = $1`,
          [id],
        ),
      ),
    );
    const row = rows[0];
    if (row === undefined) throw new QueueError('NOT_FOUND', `no message ${id} in the queue`);
    return this.bodies.read(this.pool, id, Number(row.size), row.body_file);
  }

  /** Waits for the operations in flight, gives this instance's leases back, and closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweeper.stop();
    await Promise.allSettled([...this.inFlight]);
    try {
      const now = this.clock.now();
      const ids = this.leases.runningMessages(now);
      await withTransaction(this.pool, 'giving the leases back', (client) =>
        giveLeasesBack(client, this.s, this.owner, ids, this.schedule.maximalLifetimeMs),
      );
    } catch (error) {
      // Harmless: the leases run out on their own, and another host takes the work then.
      this.options.logger?.warn({ err: error }, 'queue could not give its leases back on close');
    } finally {
      await this.pool.end();
    }
  }

  /** STORAGE_UNAVAILABLE when a body file is too old to be named by a COMMIT now (see `body-sweep`). */
  private assertFresh(bodies: readonly PreparedBody[]): void {
    const now = this.clock.now();
    for (const body of bodies) assertBodyFresh(body.startedAt, now);
  }

  private lockOne(client: PoolClient, id: string): Promise<LoadedMessage | undefined> {
    return lockMessage(client, this.s, id);
  }

  private deleteBody(bodyFile: string | null): void {
    this.bodies.delete(bodyFile).catch((error: unknown) => {
      this.options.logger?.warn({ file: bodyFile, err: error }, 'queue could not delete the body file of a message');
    });
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.inFlight.add(running);
    running.then(
      () => this.inFlight.delete(running),
      () => this.inFlight.delete(running),
    );
    return running;
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('CLOSED', 'the queue is closed');
  }
}
