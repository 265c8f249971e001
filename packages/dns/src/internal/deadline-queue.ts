/**
 * Something that can time out, and its place in a DeadlineQueue: the queue links its items through these
 * fields, so that adding and cancelling allocate nothing. Only the queue sets them.
 */
export interface Expiring {
  expire(): void;
  deadline: number;
  newer: Expiring | undefined;
  older: Expiring | undefined;
  queued: boolean;
}

/**
 * The timeouts of a resolver's queries. They all wait the same time, so they expire in the order they were
 * added: one timer for the oldest, instead of a timer object per query (which cost about as much as the rest
 * of a lookup's own JavaScript).
 *
 * A list linked through the items: a cancelled item leaves it at once, wherever it is, so the queue holds the
 * queries in flight and nothing else. (An array that kept cancelled slots until the timer came round grew to the
 * ~70,000 queries of one timeout at 35,000 lookups/s, and the young-generation GC copied it over and over: a fifth
 * of an uncached lookup's CPU time.)
 */
export class DeadlineQueue {
  #oldest: Expiring | undefined;
  #newest: Expiring | undefined;
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Expires `item` after `ms` unless it is cancelled first; `ms` must be the same for every item. */
  add(item: Expiring, ms: number): void {
    item.deadline = this.#now() + ms;
    item.newer = undefined;
    item.older = this.#newest;
    item.queued = true;
    if (this.#newest === undefined) this.#oldest = item;
    else this.#newest.newer = item;
    this.#newest = item;
    // A pending query keeps the process alive, as a timer of its own would.
    if (this.#size++ === 0) this.#timer?.ref();
    this.#timer ??= setTimeout(this.#fire, ms);
  }

  cancel(item: Expiring): void {
    if (!item.queued) return;
    this.#unlink(item);
    // The timer stays: set for an item that is gone, it finds the next oldest when it fires.
    if (this.#size === 0) this.#timer?.unref();
  }

  /** The items waiting (for tests). */
  get size(): number {
    return this.#size;
  }

  #unlink(item: Expiring): void {
    const { older, newer } = item;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    item.older = undefined;
    item.newer = undefined;
    item.queued = false;
    this.#size--;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#now();
    for (let item = this.#oldest; item !== undefined && item.deadline <= now; item = this.#oldest) {
      this.#unlink(item);
      // expire() may add or cancel others: the loop takes the oldest afresh.
      item.expire();
    }
    // An add() from within expire() may have set a timer for a whole timeout: the oldest may be due sooner.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#oldest !== undefined) {
      this.#timer = setTimeout(this.#fire, Math.max(1, this.#oldest.deadline - now));
    }
  };
}
