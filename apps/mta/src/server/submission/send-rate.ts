// The optional per-user sending rate (`limits.send_rate: 100/h`): a sliding window of the times
// each authenticated user's messages were accepted. Beyond the limit MAIL is refused with a
// temporary 450 4.7.1 (RFC 3463 X.7.1: delivery not authorized; a client retries later), so a
// stolen password or a runaway script sends at most `count` messages per window.
import type { SendRate } from '../../config/config-types';

/** What the limiter says before a new message of a user. */
export type RateAdvice = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Counts accepted messages per user within the window of the rate it is asked about. */
export class SendRateLimiter {
  // Per user, the acceptance times within the last window, oldest first (at most `count` of them).
  private readonly sent = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Whether `user` may start one more message under `rate`. */
  check(user: string, rate: SendRate): RateAdvice {
    const times = this.recent(user, rate);
    if (times.length < rate.count) return { allowed: true };
    // The oldest counted message leaves the window first.
    return {
      allowed: false,
      retryAfterMs: Math.max(1, times[times.length - rate.count]! + rate.windowMs - this.now()),
    };
  }

  /** Counts one accepted message of `user`. */
  record(user: string, rate: SendRate): void {
    const times = this.recent(user, rate);
    times.push(this.now());
    // Only the newest `count` times can matter; a lowered limit (reload) trims the rest.
    if (times.length > rate.count) times.splice(0, times.length - rate.count);
    this.sent.set(user, times);
  }

  /** The user's times within the window, the older ones dropped (and the user forgotten when none is left). */
  private recent(user: string, rate: SendRate): number[] {
    const times = this.sent.get(user);
    if (times === undefined) return [];
    const since = this.now() - rate.windowMs;
    let first = 0;
    while (first < times.length && times[first]! <= since) first += 1;
    if (first > 0) times.splice(0, first);
    if (times.length === 0) this.sent.delete(user);
    return times;
  }
}
