import type { Claim, Queue } from '@homing/queue';
import type { Logger } from '../logger';

/** Keeps one claim's lease while it is worked on; `signal` aborts when the lease is lost. */
export interface LeaseKeeper {
  readonly signal: AbortSignal;
  stop(): void;
}

/** `Queue.renewLease`, which backends of `@homing/queue` gain: the new leaseUntil, or a LEASE_LOST rejection. */
type Renewing = Queue & { renewLease?: (leaseId: string, leaseMs: number) => Promise<number> };

// Renewals fire when a third of the lease is left... of the lease as it was when claimed.
const RENEW_FRACTION = 3;

/**
 * Renews a claim's lease every third of its length while the claim is worked on, when the queue
 * can (`renewLease`); a queue without it keeps the lease it gave (the worker asks for a long one).
 * A renewal refused with LEASE_LOST aborts `signal`, so the delivery stops waiting for anything
 * not yet started: the message belongs to whoever claimed it again.
 */
export function leaseKeeper(queue: Queue, claim: Claim, logger?: Logger): LeaseKeeper {
  const lost = new AbortController();
  const renewing = queue as Renewing;
  const leaseMs = Math.max(1, claim.leaseUntil - Date.now());
  if (typeof renewing.renewLease !== 'function') return { signal: lost.signal, stop() {} };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (until: number) => {
    if (stopped) return;
    const left = until - Date.now();
    timer = setTimeout(renew, Math.max(1, left - leaseMs / RENEW_FRACTION));
    timer.unref?.();
  };
  const renew = () => {
    renewing.renewLease!(claim.leaseId, leaseMs).then(schedule, (error: unknown) => {
      if (stopped) return;
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'LEASE_LOST') {
        logger?.warn({ id: claim.id, err: error }, 'lease lost while delivering; stopping what has not started');
        lost.abort(error);
        return;
      }
      // Storage trouble: try again soon, the lease still runs.
      logger?.warn({ id: claim.id, err: error }, 'lease renewal failed; trying again');
      schedule(Date.now() + leaseMs / RENEW_FRACTION + leaseMs / (RENEW_FRACTION * 2));
    });
  };
  schedule(claim.leaseUntil);
  return {
    signal: lost.signal,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
