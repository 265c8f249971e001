// The optional per-user sending rate (`limits.send_rate: 100/h`): a sliding window of the times
// each authenticated user's messages were accepted. Beyond the limit MAIL is refused with a
// temporary 450 4.7.1 (RFC 3463 X.7.1: delivery not authorized; a client retries later), so a
// stolen password or a runaway script sends at most `count` messages per window.
//
// The check and the count are one step: MAIL takes a place (a reservation) before anything else
// can, and the place is kept (its time set to the acceptance) or given back when the transaction
// ends. Concurrent sessions of one user therefore never pass the check together: at every MAIL,
// the messages accepted within the window plus those under way are fewer than `count`, and a
// place under way never leaves the window before it is settled, so no window ever holds more
// than `count` accepted messages. (Checking at MAIL and counting at the 250 let all ten of ten
// concurrent sessions through a 3/h limit: test/submission/send-rate-concurrency.test.ts.)
import type { SendRate } from '../../config/config-types';

/** A place taken at MAIL: `commit` when the message is accepted, `release` when the transaction fails. Each at most once. */
export interface SendRateReservation {
  commit(): void;
  release(): void;
}

/** What the limiter says to a new message of a user. */
export type RateAdvice = { allowed: true; reservation: SendRateReservation } | { allowed: false; retryAfterMs: number };

interface UserCount {
  // Acceptance times within the last window, oldest first.
  sent: number[];
  // Places taken and not yet settled; they count whatever their age.
  pending: number;
}

/** Counts each user's accepted and under-way messages within the window of the rate it is asked about. */
export class SendRateLimiter {
  private readonly users = new Map<string, UserCount>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Takes a place for one more message of `user` under `rate`, or says when to try again. */
  reserve(user: string, rate: SendRate): RateAdvice {
    const count = this.countOf(user, rate);
    const used = count.sent.length + count.pending;
    if (used >= rate.count) {
      // The place frees when enough accepted messages leave the window; when places under way
      // alone fill the limit, not before a whole window (should they all be accepted now).
      const leaving = used - rate.count;
      const retryAfterMs =
        leaving < count.sent.length ? count.sent[leaving]! + rate.windowMs - this.now() : rate.windowMs;
      this.forgetIfEmpty(user, count);
      return { allowed: false, retryAfterMs: Math.max(1, retryAfterMs) };
    }
    count.pending += 1;
    this.users.set(user, count);
    let settled = false;
    const settle = (accepted: boolean) => {
      if (settled) return;
      settled = true;
      count.pending -= 1;
      if (accepted) {
        count.sent.push(this.now());
        // Only the newest `count` times can matter; a lowered limit (reload) trims the rest.
        if (count.sent.length > rate.count) count.sent.splice(0, count.sent.length - rate.count);
      }
      this.forgetIfEmpty(user, count);
    };
    return { allowed: true, reservation: { commit: () => settle(true), release: () => settle(false) } };
  }

  /** The user's count, with acceptance times older than the window dropped. */
  private countOf(user: string, rate: SendRate): UserCount {
    const count = this.users.get(user) ?? { sent: [], pending: 0 };
    const since = this.now() - rate.windowMs;
    let first = 0;
    while (first < count.sent.length && count.sent[first]! <= since) first += 1;
    if (first > 0) count.sent.splice(0, first);
    return count;
  }

  private forgetIfEmpty(user: string, count: UserCount): void {
    if (count.sent.length === 0 && count.pending === 0 && this.users.get(user) === count) this.users.delete(user);
  }
}
