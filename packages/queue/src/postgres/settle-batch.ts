// Group commit of settles: the settles that arrive while earlier ones are being written go
// together, one read of their messages and one statement (one transaction, one WAL flush) for
// all, each still conditional on its own message's version. At most one settle per message in a
// batch; a batch the database refuses is tried again settle by settle.

/** What one settle of a batch came to: its value, or its own error. */
export type BatchOutcome<T> = { value: T } | { error: unknown };

/** Batches of requests keyed by message id, committed by `commit`, `inFlight` at a time. */
export class SettleBatcher<R extends { id: string }, T> {
  private waiting: { request: R; resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly commit: (batch: readonly R[]) => Promise<BatchOutcome<T>[]>,
    private readonly inFlight = 4,
    private readonly maxRequests = 128,
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
