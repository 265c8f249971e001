import type { RecipientInfo, RecipientOutcome } from '../queue';
import { nextAttempt, type RetryScheduleOptions } from '../retry-schedule';
import { isFinal, type MessageEntry, type RecipientEntry, recipientInfo } from './message-entry';

/** What a settle changes, computed without touching storage: the caller persists it, then applies it. */
export interface SettleDecision {
  rcpts: RecipientEntry[];
  /** Recipients failed by this settle (expired ones included). */
  failed: RecipientInfo[];
  /** True when this settle is the one that reports the delay warning. */
  warn: boolean;
  complete: boolean;
}

/** Applies the outcomes of a claim on `domain` to a copy of the message's recipients. */
export function decideSettle(
  entry: MessageEntry,
  domain: string,
  outcomes: readonly RecipientOutcome[],
  context: {
    now: number;
    schedule: Required<RetryScheduleOptions>;
    random: () => number;
    delayWarningMs: number | false;
    /** The claim was handed out because the message expired: its failures are expiries. */
    expired: boolean;
  },
): SettleDecision {
  const { now } = context;
  const rcpts = entry.rcpts.map((r) => ({ ...r }));
  const failed: RecipientInfo[] = [];
  let deferredNow = false;
  for (const outcome of outcomes) {
    const wanted = outcome.recipient.toLowerCase();
    // Only recipients of the claimed domain that are still open: a settled one stays settled.
    const r = rcpts.find((c) => c.domain === domain && !isFinal(c.state) && c.address.toLowerCase() === wanted);
    if (r === undefined) continue;
    r.attempts += 1;
    if (outcome.reply !== undefined) r.reply = outcome.reply;
    if (outcome.status === 'delivered' || outcome.status === 'failed') {
      r.state = outcome.status;
      if (outcome.status === 'failed' && context.expired) r.expired = true;
    } else {
      const decision = nextAttempt(
        { attempts: r.attempts, createdAt: entry.stored.createdAt, now, random: context.random() },
        context.schedule,
      );
      if (decision.action === 'expire' && context.expired) {
        r.state = 'failed';
        r.expired = true;
      } else if (decision.action === 'expire') {
        // The lifetime ran out during a delivery that began before it: the worker could not know
        // to pass a bounce. Due at once, the recipient comes back in an expired claim, whose settle
        // fails it together with its bounce.
        r.state = 'deferred';
        r.next = now;
      } else {
        r.state = 'deferred';
        r.next = decision.at;
        deferredNow = true;
      }
    }
    if (r.state === 'failed') failed.push(recipientInfo(r));
  }
  const after = context.delayWarningMs;
  const warn = deferredNow && !entry.warned && after !== false && now - entry.stored.createdAt >= after;
  return { rcpts, failed, warn, complete: rcpts.every((r) => isFinal(r.state)) };
}
