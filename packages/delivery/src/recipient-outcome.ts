import type { RecipientOutcome as QueueRecipientOutcome } from '@homing/queue';
import type { Reply } from '@homing/smtp';
import { type FailureClass, formatReplyLine } from './reply-class';

/**
 * One recipient's outcome. It is `@homing/queue`'s `RecipientOutcome` (so it goes to
 * `queue.settle` as it is) with what delivery knows besides.
 */
export interface RecipientOutcome extends QueueRecipientOutcome {
  /** The recipient address, as given in the envelope. */
  recipient: string;
  status: 'delivered' | 'deferred' | 'failed';
  /** One line: the remote reply that decided it (`550 5.1.1 No such user`), else `reason`. What the queue keeps. */
  reply: string;
  /** That remote reply, parsed, when a server gave one (for the DSN's Diagnostic-Code). */
  remoteReply?: Reply;
  /** RFC 3463 enhanced status code. */
  enhanced: string;
  /** Why, in words: `delivered`, `<mx> refused it`, or the failure when no server replied. */
  reason: string;
  /** The MX host (or smarthost) that answered, when one did. */
  mx?: string;
}

/** An outcome from its parts; `reply` is the remote reply's line, or the reason without one. */
export function outcomeOf(
  recipient: string,
  status: RecipientOutcome['status'],
  enhanced: string,
  reason: string,
  remoteReply?: Reply,
  mx?: string,
): RecipientOutcome {
  return {
    recipient,
    status,
    reply: remoteReply === undefined ? reason : formatReplyLine(remoteReply),
    enhanced,
    reason,
    ...(remoteReply === undefined ? {} : { remoteReply }),
    ...(mx === undefined ? {} : { mx }),
  };
}

/** The same failure for every recipient. */
export function failAll(recipients: readonly string[], failure: FailureClass, mx?: string): RecipientOutcome[] {
  return recipients.map((recipient) =>
    outcomeOf(recipient, failure.status, failure.enhanced, failure.reason, failure.reply, mx),
  );
}
