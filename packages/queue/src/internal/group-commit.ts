/**
 * Group commit: callers submit items; one flush at a time writes every item waiting and
 * makes them durable together, so concurrent callers share one fsync while each still waits
 * for its own item. A flush that fails rejects exactly the items it carried.
 */
export class GroupCommit<T, R> {
  private waiting: { item: T; resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly take: (items: readonly T[]) => number = (items) => items.length,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.running === undefined) this.running = this.loop();
    });
  }

  /** Resolves once everything submitted so far has been flushed (or failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async loop(): Promise<void> {
    // Let the callers of this tick submit too before the first flush.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) {
      const count = Math.max(1, this.take(this.waiting.map((entry) => entry.item)));
      const batch = this.waiting.splice(0, count);
      try {
        const results = await this.flush(batch.map((entry) => entry.item));
        for (const [index, entry] of batch.entries()) entry.resolve(results[index] as R);
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.running = undefined;
  }
}
