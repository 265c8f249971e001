// The queue as the outbound worker sees it: claims skip our own domains (local delivery works
// those), and each settle's follow-up messages (the DSNs @homing/delivery builds) are routed by
// `reports.ts` before they are committed, in the same durable step as the failures they report:
// a report to a local sender goes to that sender's mailboxes, and a report that itself failed (a
// claim from the null sender) goes once to postmaster.
import type {
  Claim,
  ClaimOptions,
  FollowUpMessage,
  Queue,
  RecipientOutcome,
  SettleOptions,
  SettleResult,
} from '@homing/queue';
import { failureReports, REPORT_ATTRIBUTE, type ReportRouting, reportMessage, reportRecipients } from './reports';

/** What the view needs besides the queue. */
export interface OutboundQueueOptions extends ReportRouting {
  /** Called with the outcomes of each settle, for the log. */
  onSettled?: (claim: Claim, outcomes: readonly RecipientOutcome[], followUps: readonly FollowUpMessage[]) => void;
}

/** Wraps `queue` for the outbound worker (see the file's comment). */
export function outboundQueue(queue: Queue, options: OutboundQueueOptions): Queue {
  const claims = new Map<string, Claim>();
  const now = options.now ?? Date.now;

  async function claim(claimOptions: ClaimOptions = {}): Promise<Claim[]> {
    // Leases that ran out without a settle (a claim that threw) are forgotten: the queue hands them out again.
    for (const [leaseId, known] of claims) if (known.leaseUntil < now() - 60_000) claims.delete(leaseId);
    const claimed = await queue.claim({ ...claimOptions, exceptDomains: options.domains() });
    for (const one of claimed) claims.set(one.leaseId, one);
    return claimed;
  }

  async function settle(
    leaseId: string,
    outcomes: readonly RecipientOutcome[],
    settleOptions: SettleOptions = {},
  ): Promise<SettleResult> {
    const known = claims.get(leaseId);
    let enqueue: FollowUpMessage[] = (settleOptions.enqueue ?? []).map((message) =>
      message.envelope.sender === ''
        ? reportMessage(
            {
              sender: '',
              recipients: message.envelope.recipients.flatMap((address) => reportRecipients(address, options)),
            },
            message.body,
            'dsn',
          )
        : message,
    );
    const failed = outcomes.filter((outcome) => outcome.status === 'failed');
    // The library reports nothing for the null sender: a failed report goes to postmaster, once.
    if (known !== undefined && known.sender === '' && failed.length > 0) {
      enqueue = [...enqueue, ...(await failureReports(queue, known, failed, options))];
    }
    const result = await queue.settle(leaseId, outcomes, { ...settleOptions, enqueue });
    claims.delete(leaseId);
    if (known !== undefined) options.onSettled?.(known, outcomes, enqueue);
    return result;
  }

  return {
    // The library's delay warnings are enqueued on their own (the queue decides them in the settle):
    // routed like the other reports.
    enqueue: (envelope, body, enqueueOptions) => {
      if (envelope.sender !== '') return queue.enqueue(envelope, body, enqueueOptions);
      const recipients = envelope.recipients.flatMap((address) => reportRecipients(address, options));
      const attributes = { ...envelope.attributes, [REPORT_ATTRIBUTE]: 'dsn' };
      return queue.enqueue({ ...envelope, recipients, attributes }, body, enqueueOptions);
    },
    claim,
    settle,
    renewLease: (...args) => queue.renewLease(...args),
    hold: (...args) => queue.hold(...args),
    release: (...args) => queue.release(...args),
    remove: (...args) => queue.remove(...args),
    reschedule: (...args) => queue.reschedule(...args),
    list: (...args) => queue.list(...args),
    inspect: (...args) => queue.inspect(...args),
    openBody: (...args) => queue.openBody(...args),
    close: () => queue.close(),
    get recovery() {
      return queue.recovery;
    },
  };
}
