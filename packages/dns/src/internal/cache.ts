interface Entry<V> {
  readonly key: string;
  readonly value: V;
  readonly expiresAt: number;
  newer: Entry<V> | undefined;
  older: Entry<V> | undefined;
}

/**
 * A bounded map whose entries expire: least recently used entries go first when full.
 *
 * A dictionary object and a list linked through the entries, not a Map kept in recency order by deleting and
 * re-inserting on every hit: V8 links each hash table a Map outgrows to the table that replaces it, so once the
 * long-lived cache's table was in the old generation, the chain of its later tables survived every young GC
 * (about 1 MB copied and promoted per scavenge in a loop of cached lookups) until the next full GC.
 */
export class TtlCache<V> {
  #entries: Record<string, Entry<V>> = Object.create(null);
  #size = 0;
  #oldest: Entry<V> | undefined;
  #newest: Entry<V> | undefined;
  readonly #maxEntries: number;
  readonly #clock: () => number;

  constructor(maxEntries: number, clock: () => number) {
    this.#maxEntries = maxEntries;
    this.#clock = clock;
  }

  /** The value and the milliseconds it has left, or undefined when absent or expired. */
  get(key: string): { value: V; remainingMs: number } | undefined {
    const entry = this.#entries[key];
    if (entry === undefined) return undefined;
    const remainingMs = entry.expiresAt - this.#clock();
    if (remainingMs <= 0) {
      this.#remove(entry);
      return undefined;
    }
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#link(entry);
    }
    return { value: entry.value, remainingMs };
  }

  set(key: string, value: V, ttlSeconds: number): void {
    if (this.#maxEntries <= 0 || ttlSeconds <= 0) return;
    const old = this.#entries[key];
    if (old !== undefined) this.#remove(old);
    const entry: Entry<V> = {
      key,
      value,
      expiresAt: this.#clock() + ttlSeconds * 1000,
      newer: undefined,
      older: undefined,
    };
    this.#entries[key] = entry;
    this.#size++;
    this.#link(entry);
    while (this.#size > this.#maxEntries && this.#oldest !== undefined) this.#remove(this.#oldest);
  }

  get size(): number {
    return this.#size;
  }

  #remove(entry: Entry<V>): void {
    this.#unlink(entry);
    delete this.#entries[entry.key];
    this.#size--;
  }

  /** Makes `entry` the most recently used. */
  #link(entry: Entry<V>): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry<V>): void {
    const { older, newer } = entry;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
