import type { Claim, Queue, SettleResult } from '@homing/queue';
import type { Logger } from '../logger';

/** The first wait before a settle is tried again while the queue's storage is away; it doubles up to `SETTLE_RETRY_MAX_MS`. */
const SETTLE_RETRY_FIRST_MS = 250;
const SETTLE_RETRY_MAX_MS = 5000;

/**
 * `queue.settle`, tried again while the queue's storage is away (STORAGE_UNAVAILABLE: a
 * PostgreSQL queue while its server restarts, a file queue on a full disk), for as long as the
 * claim's lease lasted when it was handed out, and not after the worker's `signal` aborts: what
 * was delivered is then recorded once the storage is back, where giving up would leave the claim
 * to its lease and deliver it again. A settle and its reports are one durable step, so a try that
 * committed before its answer was lost is not repeated: the next try is refused LEASE_LOST.
 */
export async function settleKept(
  queue: Queue,
  claim: Claim,
  context: { leaseMs: number; signal: AbortSignal | undefined; logger: Logger | undefined },
  outcomes: Parameters<Queue['settle']>[1],
  settleOptions: Parameters<Queue['settle']>[2],
): Promise<SettleResult> {
  const { leaseMs, logger, signal } = context;
  let deadline: number | undefined;
  let wait = SETTLE_RETRY_FIRST_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await queue.settle(claim.leaseId, outcomes, settleOptions);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt > 1 && code === 'LEASE_LOST') {
        logger?.warn(
          { id: claim.id, err: error, attempt },
          'settle refused after a try whose outcome is unknown: it committed, or the lease ran out',
        );
      }
      deadline ??= Date.now() + Math.max(leaseMs, SETTLE_RETRY_MAX_MS);
      if (code !== 'STORAGE_UNAVAILABLE' || signal?.aborted === true || Date.now() + wait > deadline) throw error;
      logger?.warn({ id: claim.id, err: error, attempt }, 'settle failed: queue storage unavailable; trying again');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      });
      wait = Math.min(wait * 2, SETTLE_RETRY_MAX_MS);
    }
  }
}
