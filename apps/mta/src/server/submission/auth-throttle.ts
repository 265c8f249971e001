// Throttling of failed AUTH (issue: dictionary attacks). Two counters: per client address, whose
// failures grow a delay and then refuse AUTH for a while (454 4.7.0), and per user, whose failures
// from many addresses only slow every attempt at that user, never lock it: the right password from
// a clean address still gets in, so an attacker cannot lock a user out.

/** Options of the throttle; times in ms. */
export interface AuthThrottleOptions {
  /** Failures an address may have within `windowMs` before AUTH is refused for `blockMs` (default 10). */
  maxFailuresPerAddress?: number;
  /** How long failures are remembered (default 15 minutes). */
  windowMs?: number;
  /** How long an address that failed too often is refused (default 15 minutes). */
  blockMs?: number;
  /** The longest delay before answering (default 5 s). */
  maxDelayMs?: number;
  now?: () => number;
}

interface Counter {
  failures: number;
  first: number;
  blockedUntil: number;
}

/** What the throttle says before an AUTH attempt is checked. */
export type ThrottleAdvice = { refuse: true; retryAfterMs: number } | { refuse: false; delayMs: number };

/** Counts failed AUTH per client address and per user. */
export class AuthThrottle {
  private readonly addresses = new Map<string, Counter>();
  private readonly users = new Map<string, Counter>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;

  constructor(options: AuthThrottleOptions = {}) {
    this.maxFailures = options.maxFailuresPerAddress ?? 10;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.blockMs = options.blockMs ?? 15 * 60_000;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  private counter(map: Map<string, Counter>, key: string): Counter | undefined {
    const counter = map.get(key);
    if (counter && this.now() - counter.first > this.windowMs && counter.blockedUntil <= this.now()) {
      map.delete(key);
      return undefined;
    }
    return counter;
  }

  /** Before checking credentials: refuse the address, or wait this long first. */
  before(address: string, user: string): ThrottleAdvice {
    const now = this.now();
    const byAddress = this.counter(this.addresses, address);
    if (byAddress && byAddress.blockedUntil > now) return { refuse: true, retryAfterMs: byAddress.blockedUntil - now };
    // Per address: 200 ms more per failure (as Postfix's smtpd_error_sleep_time, growing); per
    // user (from anywhere): a gentler slope, capped low, so the user is slowed, never locked.
    const addressDelay = byAddress ? Math.min(this.maxDelayMs, 200 * byAddress.failures) : 0;
    const byUser = this.counter(this.users, user.toLowerCase());
    const userDelay = byUser ? Math.min(2000, 100 * byUser.failures) : 0;
    return { refuse: false, delayMs: Math.max(addressDelay, userDelay) };
  }

  /** Records a failed attempt; resolves true when the address is now refused for a while. */
  failed(address: string, user: string): boolean {
    const now = this.now();
    const bump = (map: Map<string, Counter>, key: string) => {
      const counter = this.counter(map, key) ?? { failures: 0, first: now, blockedUntil: 0 };
      counter.failures++;
      map.set(key, counter);
      return counter;
    };
    bump(this.users, user.toLowerCase());
    const byAddress = bump(this.addresses, address);
    if (byAddress.failures >= this.maxFailures) {
      byAddress.blockedUntil = now + this.blockMs;
      return true;
    }
    return false;
  }

  /** A success clears the address's failures (not the user's: others may still be guessing). */
  succeeded(address: string): void {
    this.addresses.delete(address);
  }

  /** Forgets counters that have run out (called now and then so the maps stay small). */
  sweep(): void {
    for (const map of [this.addresses, this.users]) for (const key of [...map.keys()]) this.counter(map, key);
  }
}
