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
  /** The session that carried the transaction, when one was opened (what a sender's self-test reports). */
  session?: DeliverySession;
}

/** The SMTP session a transaction went over: where, from where, how secured, and what was said. */
export interface DeliverySession {
  /** The MX host (or smarthost) name. */
  host: string;
  /** The address connected to. */
  address: string;
  port: number;
  /** Our source address of the connection. */
  localAddress?: string;
  /** TLS of the session (implicit or STARTTLS); absent in the clear. */
  tls?: { protocol: string | null; cipher: string; authorized: boolean; authorizationError?: string };
  /** True when the session had carried an earlier message (taken from the pool). */
  reused: boolean;
  /**
   * Whether the server offered DSN (RFC 3461), so the sender's NOTIFY and ORCPT went on with the
   * message; without it a NOTIFY=SUCCESS recipient is reported "relayed" by us (RFC 3461 6.2.1 b).
   */
  dsn?: boolean;
  /** The server's replies with the command that drew each: greeting, MAIL, each RCPT, end of data. */
  replies: { command: string; reply: string }[];
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
