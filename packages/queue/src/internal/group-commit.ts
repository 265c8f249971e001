/**
 * Group commit: callers submit items; a flush writes every item waiting and makes them durable
 * together, so concurrent callers share one fsync while each still waits for its own item. A
 * flush that fails rejects exactly the items it carried.
 *
 * With `concurrency` 1 (the journal: its appends go to one file in order) one flush runs at a
 * time. With more (the batch files: each flush writes a file of its own) a new flush starts as
 * soon as items wait and a slot is free, instead of waiting for the running flush's fsyncs, which
 * cuts the wait of an acknowledgement from about 1.5 flushes to about 1. Items are still settled
 * in submission order: a flush that ends first waits for the flushes before it to settle.
 */
export class GroupCommit<T, R> {
  private waiting: { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  private running: Promise<void> | undefined;
  private inFlight = 0;
  private scheduled = false;
  /** Settles once every flush started so far has settled its items. */
  private settled: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly take: (items: readonly T[]) => number = (items) => items.length,
    private readonly concurrency = 1,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.concurrency > 1) this.schedule();
      else if (this.running === undefined) this.running = this.loop();
    });
  }

  /** Resolves once everything submitted so far has been flushed (or failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
    while (this.scheduled || this.inFlight > 0 || this.waiting.length > 0) {
      if (this.scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      else await this.settled;
    }
  }

  private next(): { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[] {
    const count = Math.max(1, this.take(this.waiting.map((entry) => entry.item)));
    return this.waiting.splice(0, count);
  }

  private async loop(): Promise<void> {
    // Let the callers of this tick submit too before the first flush.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) {
      const batch = this.next();
      try {
        const results = await this.flush(batch.map((entry) => entry.item));
        for (const [index, entry] of batch.entries()) entry.resolve(results[index] as R);
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.running = undefined;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.concurrency || this.waiting.length === 0) return;
    this.scheduled = true;
    // As in `loop`: the callers of this tick join the same flush.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.concurrency && this.waiting.length > 0) this.start(this.next());
    });
  }

  private start(batch: { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[]): void {
    this.inFlight += 1;
    const before = this.settled;
    const written = this.flush(batch.map((entry) => entry.item)).then(
      (results) => ({ results, error: undefined, failed: false }),
      (error: unknown) => ({ results: [] as R[], error, failed: true }),
    );
    this.settled = written.then(async (outcome) => {
      this.inFlight -= 1;
      this.schedule();
      await before;
      if (outcome.failed) for (const entry of batch) entry.reject(outcome.error);
      else for (const [index, entry] of batch.entries()) entry.resolve(outcome.results[index] as R);
    });
  }
}
