// How many password hashes are computed at once. argon2 runs on libuv's thread pool (4 threads by
// default), the same threads that do every fsync, open and rename of the queue and the Maildirs:
// twenty AUTH attempts at once occupied all of them, and mail on port 25 waited over a second for
// its fsync (the hostile battery's AUTH brute-force case). Verifications take turns instead, so the
// pool always has threads left for the files; a dictionary attack slows only itself.

/** Runs at most `concurrency` tasks at once; the others wait their turn in order. */
export class VerificationGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency = 1) {}

  /** Runs `task` once a slot is free; resolves or rejects as it does. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // The slot passes to the next waiter directly, so `running` never dips below while some wait.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }
}
