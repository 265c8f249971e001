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
import { expandedReports, failureReports, type ReportRouting, reportRecipients, routedReport } from './reports';

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
        ? routedReport(
            message.envelope.recipients.flatMap((address) => reportRecipients(address, options)),
            message.body,
            'dsn',
            options,
          )
        : message,
    );
    const failed = outcomes.filter((outcome) => outcome.status === 'failed');
    // The library reports nothing for the null sender: a failed report goes to postmaster, once.
    if (known !== undefined && known.sender === '' && failed.length > 0) {
      enqueue = [...enqueue, ...(await failureReports(queue, known, failed, options))];
    }
    // An alias expansion whose first target goes out from here is reported in this settle (RFC 3461 6.2.1 d).
    if (known !== undefined) enqueue = [...enqueue, ...(await expandedReports(queue, known, options))];
    const result = await queue.settle(leaseId, outcomes, { ...settleOptions, enqueue });
    claims.delete(leaseId);
    if (known !== undefined) options.onSettled?.(known, outcomes, enqueue);
    return result;
  }

  return {
    // The library's delay warnings are enqueued on their own (the queue decides them in the settle):
    // routed like the other reports.
    enqueue: (envelope, body, enqueueOptions) => {
      // The library's delay warnings come whole (a Buffer); anything else goes on as it is.
      if (envelope.sender !== '' || !(body instanceof Uint8Array)) {
        return queue.enqueue(envelope, body, enqueueOptions);
      }
      const recipients = envelope.recipients.flatMap((address) => reportRecipients(address, options));
      const report = routedReport(recipients, Buffer.from(body), 'dsn', options);
      const attributes = { ...envelope.attributes, ...report.envelope.attributes };
      return queue.enqueue({ ...envelope, recipients, attributes }, Buffer.from(report.body), enqueueOptions);
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
