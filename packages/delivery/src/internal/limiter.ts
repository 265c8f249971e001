/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a limit must be a positive integer, not ${limit}`);
  }

  /** How many holders there are now. */
  get active(): number {
    return this.#active;
  }

  /** How many callers wait for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether `acquire` would resolve at once. */
  get available(): boolean {
    return this.#active < this.limit;
  }

  /** Takes a slot at once when one is free; false otherwise. */
  tryAcquire(): boolean {
    if (this.#active >= this.limit) return false;
    this.#active += 1;
    return true;
  }

  /** Waits for a slot; rejects if `signal` aborts first. Call `release()` exactly once afterwards. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        this.#active += 1;
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(wake);
    });
  }

  /** Gives a slot back and wakes the next waiter. */
  release(): void {
    this.#active -= 1;
    this.#waiting.shift()?.();
  }
}
