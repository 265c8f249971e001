/** Retry timing, the same defaults as Postfix (postconf(5)). */
export interface RetryScheduleOptions {
  /** First wait after a deferral, ms. Postfix `minimal_backoff_time` = 300s. */
  minimalBackoffMs?: number;
  /** Longest wait between attempts, ms. Postfix `maximal_backoff_time` = 4000s. */
  maximalBackoffMs?: number;
  /** Age after which a deferred recipient fails, ms. Postfix `maximal_queue_lifetime` = 5d. */
  maximalLifetimeMs?: number;
  /** Each wait is shortened by a random fraction up to this (0 to 1). */
  jitter?: number;
}

/** The defaults of `RetryScheduleOptions`. */
export const retryScheduleDefaults: Required<RetryScheduleOptions> = {
  minimalBackoffMs: 300_000,
  maximalBackoffMs: 4_000_000,
  maximalLifetimeMs: 5 * 24 * 3600_000,
  jitter: 0.1,
};

/** What `nextAttempt` looks at: the attempts made so far (>= 1), when the message was queued, now. */
export interface NextAttemptInput {
  attempts: number;
  createdAt: number;
  now: number;
  /** A number in [0, 1); Math.random when absent. */
  random?: number;
}

/** The decision after a deferral: retry at a time, or give up (the recipient expired). */
export type NextAttempt = { action: 'retry'; at: number } | { action: 'expire' };

/**
 * Decides when to retry after a deferral. The wait doubles per attempt from the minimal to the
 * maximal backoff, shortened by up to `jitter` of itself, and is clamped to the expiry time so the
 * last attempt happens when the message expires; a deferral at or past expiry expires.
 */
export function nextAttempt(input: NextAttemptInput, options: RetryScheduleOptions = {}): NextAttempt {
  const o = { ...retryScheduleDefaults, ...options };
  const expiresAt = input.createdAt + o.maximalLifetimeMs;
  if (input.now >= expiresAt) return { action: 'expire' };
  const exponent = Math.min(Math.max(input.attempts - 1, 0), 40);
  const backoff = Math.min(o.maximalBackoffMs, o.minimalBackoffMs * 2 ** exponent);
  const random = input.random ?? Math.random();
  const jitter = Math.min(Math.max(o.jitter, 0), 1);
  // At least 1 ms so that successive attempts are strictly later than now.
  const wait = Math.max(1, Math.floor(backoff * (1 - jitter * random)));
  return { action: 'retry', at: Math.min(input.now + wait, expiresAt) };
}
