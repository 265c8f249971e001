// Group commit of settles: the settles that arrive while earlier ones are being written go
// together, one read of their messages and one statement (one transaction, one WAL flush) for
// all, each still conditional on its own message's version. At most one settle per message in a
// batch; a batch the database refuses is tried again settle by settle.

import type { PoolClient } from 'pg';
import type { PreparedFollowUp } from '../internal/follow-ups';
import type { EnqueueResult, RecipientOutcome, SettleResult } from '../queue';
import type { PreparedBody } from './body-storage';
import { type LoadedMessage, loadMessages } from './message-rows';
import { type DecidedSettle, type decideSettleOf, settleStatement } from './settle-statement';
import { named } from './transaction';

/** One settle waiting for its batch: follow-ups with bodies of at most one chunk. */
export interface SettleRequest {
  id: string;
  leaseId: string;
  outcomes: readonly RecipientOutcome[];
  followUps: readonly { message: PreparedFollowUp; body: PreparedBody }[];
}

/** A settle written: its result, and the body file to delete when it completed the message. */
export interface SettleWritten {
  result: SettleResult;
  goneBodyFile: string | null;
}

/** What one settle of a batch came to: its value, or its own error. */
export type BatchOutcome<T> = { value: T } | { error: unknown };

/** Batches of requests keyed by message id, committed by `commit`, `inFlight` at a time. */
export class SettleBatcher<R extends { id: string }, T> {
  private waiting: { request: R; resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly commit: (batch: readonly R[]) => Promise<BatchOutcome<T>[]>,
    // Small batches, several at once: a statement of n settles has about 6n sub-statements, and
    // its planning grows faster than n (64 settles took 1.4 s as one statement, 28 ms as 4 of 16).
    private readonly inFlight = 4,
    private readonly maxRequests = 64,
  ) {}

  /** Resolves to this request's value once its batch is committed. */
  add(request: R): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.running < this.inFlight && this.waiting.length > 0) {
      const ids = new Set<string>();
      const batch: typeof this.waiting = [];
      const rest: typeof this.waiting = [];
      for (const item of this.waiting) {
        if (batch.length < this.maxRequests && !ids.has(item.request.id)) {
          ids.add(item.request.id);
          batch.push(item);
        } else {
          rest.push(item);
        }
      }
      this.waiting = rest;
      this.running += 1;
      void this.run(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async run(batch: typeof this.waiting): Promise<void> {
    let outcomes: BatchOutcome<T>[];
    try {
      outcomes = await this.commit(batch.map((item) => item.request));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      outcomes = await Promise.all(
        batch.map((item) =>
          this.commit([item.request]).then(
            ([alone]) => alone!,
            (alone: unknown) => ({ error: alone }),
          ),
        ),
      );
    }
    for (const [index, item] of batch.entries()) {
      const outcome = outcomes[index]!;
      if ('error' in outcome) item.reject(outcome.error);
      else item.resolve(outcome.value);
    }
  }
}

/**
 * Decides each settle of a batch on its message as `known` gives it (the state this instance's
 * claim wrote, kept since) or, for the others, as read once for all of them; writes all in one
 * statement. A message changed since it was known or read is not written: its settle gives
 * `undefined`, and the caller tries again (then reading it).
 */
export async function settleBatch(
  client: PoolClient,
  s: string,
  batch: readonly SettleRequest[],
  known: (request: SettleRequest) => LoadedMessage | undefined,
  decide: (
    message: LoadedMessage | undefined,
    leaseId: string,
    outcomes: readonly RecipientOutcome[],
    enqueued: readonly EnqueueResult[],
  ) => ReturnType<typeof decideSettleOf>,
  // Called right before the statement that writes (throws to fail the batch): see body-sweep.ts.
  beforeWrite: () => void = () => undefined,
): Promise<BatchOutcome<SettleWritten | undefined>[]> {
  const messages = batch.map(known);
  const unknown = batch.filter((_, index) => messages[index] === undefined).map((request) => request.id);
  const byId = new Map((await loadMessages(client, s, unknown)).map((message) => [message.entry.stored.id, message]));
  const outcomes: BatchOutcome<SettleWritten | undefined>[] = [];
  const decided: { index: number; settle: DecidedSettle; decision: ReturnType<typeof decideSettleOf> }[] = [];
  for (const [index, request] of batch.entries()) {
    const message = messages[index] ?? byId.get(request.id);
    const enqueued = request.followUps.map((f) => ({ id: f.message.id, size: f.body.size }));
    try {
      const decision = decide(message, request.leaseId, request.outcomes, enqueued);
      const { outcome, now } = decision;
      decided.push({
        index,
        settle: { message: message!, leaseId: request.leaseId, outcome, followUps: request.followUps, now },
        decision,
      });
      outcomes.push({ value: undefined });
    } catch (error) {
      outcomes.push({ error });
    }
  }
  if (decided.length === 0) return outcomes;
  beforeWrite();
  const statement = settleStatement(
    s,
    decided.map((d) => d.settle),
  );
  // Rows as arrays: one id each.
  const { rows } = await client.query<[string]>({ ...named(statement), rowMode: 'array' });
  const written = new Set(rows.map((row) => row[0]));
  for (const { index, settle, decision } of decided) {
    // Not written: its message changed since it was read; the caller reads again.
    if (!written.has(settle.message.entry.stored.id)) continue;
    outcomes[index] = {
      value: { result: decision.result, goneBodyFile: decision.result.complete ? settle.message.bodyFile : null },
    };
  }
  return outcomes;
}
