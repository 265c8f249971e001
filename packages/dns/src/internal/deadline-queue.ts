/** Something that can time out. */
export interface Expiring {
  expire(): void;
}

const INITIAL_CAPACITY = 64;

/**
 * The timeouts of a resolver's queries. They all wait the same time, so they expire in the order they were
 * added: one timer for the oldest, instead of a timer object per query (which cost about as much as the rest
 * of a lookup's own JavaScript).
 *
 * A ring of slots, as long as the queries in flight rather than as those added within one timeout: a cancelled
 * slot at the front is dropped at once, and answers come back nearly in the order asked. (An array that grew
 * until the timer fired held ~70,000 slots at 35,000 lookups/s; the young-generation GC copied it again and again,
 * and that was a fifth of an uncached lookup's CPU time.)
 */
export class DeadlineQueue {
  #items: (Expiring | undefined)[] = new Array(INITIAL_CAPACITY).fill(undefined);
  #deadlines = new Float64Array(INITIAL_CAPACITY);
  #mask = INITIAL_CAPACITY - 1;
  // Slot numbers count up for ever; slot s lives at index s & mask while head <= s < tail.
  #head = 0;
  #tail = 0;
  #live = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Expires `item` after `ms` unless cancelled; returns its slot for `cancel`. */
  add(item: Expiring, ms: number): number {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    const slot = this.#tail++;
    this.#items[slot & this.#mask] = item;
    this.#deadlines[slot & this.#mask] = this.#now() + ms;
    // A pending query keeps the process alive, as a timer of its own would.
    if (this.#live++ === 0) this.#timer?.ref();
    this.#timer ??= setTimeout(this.#fire, ms);
    return slot;
  }

  cancel(slot: number): void {
    if (slot < this.#head || slot >= this.#tail) return;
    const items = this.#items;
    const mask = this.#mask;
    if (items[slot & mask] === undefined) return;
    items[slot & mask] = undefined;
    if (--this.#live === 0) this.#timer?.unref();
    // Drop the cancelled slots at the front; the timer, set for a front that is gone, finds the new one.
    while (this.#head < this.#tail && items[this.#head & mask] === undefined) this.#head++;
  }

  /** The slots held (for tests): from the oldest not cancelled to the newest. */
  get length(): number {
    return this.#tail - this.#head;
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2;
    const items: (Expiring | undefined)[] = new Array(capacity).fill(undefined);
    const deadlines = new Float64Array(capacity);
    for (let slot = this.#head; slot < this.#tail; slot++) {
      items[slot & (capacity - 1)] = this.#items[slot & this.#mask];
      deadlines[slot & (capacity - 1)] = this.#deadlines[slot & this.#mask] as number;
    }
    this.#items = items;
    this.#deadlines = deadlines;
    this.#mask = capacity - 1;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#now();
    while (this.#head < this.#tail) {
      // Read afresh each time round: an item's expire() may add (and grow the ring) or cancel others.
      const index = this.#head & this.#mask;
      const item = this.#items[index];
      if (item !== undefined && (this.#deadlines[index] as number) > now) break;
      this.#items[index] = undefined;
      this.#head++;
      if (item !== undefined) {
        this.#live--;
        item.expire();
      }
    }
    // An add() from within expire() may have set a timer for a whole timeout: the front may be due sooner.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#head < this.#tail) {
      const wait = (this.#deadlines[this.#head & this.#mask] as number) - now;
      this.#timer = setTimeout(this.#fire, Math.max(1, wait));
      if (this.#live === 0) this.#timer.unref();
    }
  };
}
