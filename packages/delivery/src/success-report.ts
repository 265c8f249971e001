// Success DSNs (RFC 3461 5.2.2, 6.2; RFC 3464 2.3.3): what a recipient that asked NOTIFY=SUCCESS
// is told when its message was delivered to a mailbox ("delivered"), passed to a next hop that
// does not offer the DSN extension ("relayed": the sender will hear nothing more from us or it),
// or expanded by an alias into several recipients ("expanded"). The same multipart/report as the
// failure reports, so the same rules hold: never to the null sender, Auto-Submitted, ORCPT kept.
import { assembleReport, type Bounce, type BounceOptions, type BounceRecipient } from './bounce';

/** One recipient reported in a success DSN. */
export interface SuccessRecipient
  extends Omit<BounceRecipient, 'action' | 'status' | 'willRetryUntil' | 'lastAttemptAt'> {
  /**
   * RFC 3464 2.3.3: `delivered` (to a mailbox), `relayed` (to a next hop without DSN, RFC 3461
   * 6.2.1 b), `expanded` (an alias made several recipients, RFC 3461 6.2.1 d).
   */
  action: 'delivered' | 'relayed' | 'expanded';
  /** RFC 3463 status, in the success class; default `2.0.0` (RFC 3464 2.3.4). */
  status?: string;
}

/** What `createSuccessReport` needs: the original envelope, its successes and its message. */
export interface SuccessReportOptions extends Omit<BounceOptions, 'recipients'> {
  /** The recipients to report, at least one. */
  recipients: SuccessRecipient[];
}

const HUMAN: Record<SuccessRecipient['action'], string> = {
  delivered: 'delivered to the mailbox',
  relayed: 'relayed to a system that sends no delivery notifications',
  expanded: 'expanded by an alias into several recipients',
};

/**
 * Builds an RFC 3464 success DSN (multipart/report; report-type=delivery-status) from the null
 * sender to the original sender, or null for a null sender (RFC 3461 6.2: a notification is never
 * sent for a message from `<>`). It quotes the original header section: RFC 3461 4.3 says a DSN
 * with no failure in it SHOULD return the headers only, so RET=FULL returns the headers too.
 */
export function createSuccessReport(options: SuccessReportOptions): Bounce | null {
  const recipients = options.recipients.map((recipient) => {
    const status = recipient.status ?? '2.0.0';
    if (!/^2\.\d{1,3}\.\d{1,3}$/.test(status)) {
      throw new TypeError(`a success report's status is 2.X.Y, not ${JSON.stringify(status)}`);
    }
    return {
      ...recipient,
      status,
      // The human part says what happened when no remote reply says it.
      ...(recipient.reply === undefined && recipient.diagnostic === undefined
        ? { diagnostic: HUMAN[recipient.action] }
        : {}),
    };
  });
  const relayed = recipients.some((recipient) => recipient.action === 'relayed');
  const intro = relayed
    ? [
        'Your message was successfully delivered to the destination(s) listed below.',
        'Where it was relayed, the next system does not send delivery notifications:',
        'you will hear nothing more about it, delivered or not, from there.',
      ]
    : ['Your message was successfully delivered to the destination(s) listed below.'];
  return assembleReport(options, recipients, {
    subject: 'Successful Mail Delivery Report',
    intro,
    mayReturnFull: false,
  });
}
