// Where delivery reports go, for both workers: a report to a local sender goes to that sender's
// mailboxes (an alias resolved as at RCPT), a report to a remote sender through the queue, none
// to the null sender; a report that itself failed goes once to postmaster@ of our first domain,
// marked so that its own failure stops there (RFC 5321 4.5.5: no bounce of a bounce, no loop).
import {
  type BounceRecipient,
  createBounce,
  createSuccessReport,
  type DsnRequest,
  originalHeaders,
  type SuccessRecipient,
} from '@homing/delivery';
import type { Claim, EnvelopeInput, FollowUpMessage, Queue, RecipientOutcome } from '@homing/queue';
import type { RecipientResolution } from '../local-delivery/recipient-resolver';
import { dsnRequestOf, expansionsOf } from './dsn-request';

/** The attribute that marks the reports we queue: `dsn` (to a sender) or `postmaster` (a failed report). */
export const REPORT_ATTRIBUTE = 'report';

/** What routing a report needs. */
export interface ReportRouting {
  /** Our domains now (the first one's postmaster gets failed reports). */
  domains: () => readonly string[];
  resolveRecipient: (address: string) => RecipientResolution;
  hostname: () => string;
  now?: () => number;
  /** DKIM-signs a report that goes to a remote sender (see report-signing.ts); reports stay unsigned without it. */
  sign?: (message: Buffer) => Buffer;
}

const HEADER_LIMIT = 64 * 1024;

/** The header section of a queued message (up to 64 KiB), for a report's text/rfc822-headers part. */
export async function queuedHeaders(queue: Queue, id: string): Promise<Buffer> {
  const stream = await queue.openBody(id);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > HEADER_LIMIT || (chunk as Buffer).includes('\r\n\r\n')) break;
    }
  } finally {
    stream.destroy();
  }
  return originalHeaders(Buffer.concat(chunks), HEADER_LIMIT);
}

/** The largest message a report returns whole for RET=FULL (the default of @homing/delivery's worker). */
const RETURN_LIMIT = 1024 * 1024;

/** A queued message for RET=FULL: all of it, or one octet past RETURN_LIMIT (the report then gives its headers). */
async function queuedMessage(queue: Queue, id: string): Promise<Buffer> {
  const stream = await queue.openBody(id);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > RETURN_LIMIT) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** The recipients a report to `address` goes to: a local sender's mailboxes, else the address. */
export function reportRecipients(address: string, routing: ReportRouting): string[] {
  const resolution = routing.resolveRecipient(address);
  if (resolution.kind === 'local' && resolution.mailboxes.length > 0) return resolution.mailboxes;
  // An SRS address of ours (the sender of a forwarded copy): back to the original sender.
  if (resolution.kind === 'local' && resolution.forwards.length > 0) return resolution.forwards;
  if (resolution.kind === 'unknown' || (resolution.kind === 'local' && resolution.mailboxes.length === 0)) {
    // A local sender that no longer exists: the report is not lost, postmaster gets it.
    const postmaster = routing.resolveRecipient(`postmaster@${routing.domains()[0]}`);
    if (postmaster.kind === 'local' && postmaster.mailboxes.length > 0) return postmaster.mailboxes;
  }
  return [address];
}

/** A report as a follow-up message of a settle, from the null sender, marked with its kind. */
export function reportMessage(
  envelope: EnvelopeInput,
  body: Buffer | string,
  kind: 'dsn' | 'postmaster',
): FollowUpMessage {
  return { envelope: { ...envelope, attributes: { ...envelope.attributes, [REPORT_ATTRIBUTE]: kind } }, body };
}

/** The ORCPT a recipient was given, with its address type (RFC 3461 4.2), for a report's Original-Recipient. */
function originalRecipientOf(
  request: DsnRequest | undefined,
  address: string,
): Pick<BounceRecipient, 'originalRecipient' | 'originalRecipientType'> {
  const asked = request?.recipients?.[address];
  if (asked?.originalRecipient === undefined) return {};
  return {
    originalRecipient: asked.originalRecipient,
    ...(asked.originalRecipientType === undefined ? {} : { originalRecipientType: asked.originalRecipientType }),
  };
}

/** A report to `recipients` (routed already), DKIM-signed when one of them is remote. */
export function routedReport(
  recipients: string[],
  body: Buffer | string,
  kind: 'dsn' | 'postmaster',
  routing: ReportRouting,
): FollowUpMessage {
  const remote = recipients.some((address) => routing.resolveRecipient(address).kind === 'not-ours');
  const signed = remote && routing.sign !== undefined ? routing.sign(Buffer.from(body)) : body;
  return reportMessage({ sender: '', recipients }, signed, kind);
}

/** The RFC 3463 status of a recorded reply line (`550 5.1.1 ...`), in the failed class. */
function failedStatus(reply: string | undefined): string {
  const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply ?? '')?.[1] ?? '5.0.0';
  return status.startsWith('5') ? status : `5${status.slice(1)}`;
}

/**
 * The follow-up messages for recipients a claim failed: to the sender (unless it is the null
 * sender, or NOTIFY said otherwise), or, for a failed report, once to postmaster.
 */
export async function failureReports(
  queue: Queue,
  claim: Claim,
  failed: readonly RecipientOutcome[],
  routing: ReportRouting,
): Promise<FollowUpMessage[]> {
  const now = new Date((routing.now ?? Date.now)());
  let sender = claim.sender;
  let kind: 'dsn' | 'postmaster' = 'dsn';
  if (sender === '') {
    if (claim.attributes[REPORT_ATTRIBUTE] === 'postmaster') return [];
    sender = `postmaster@${routing.domains()[0]}`;
    kind = 'postmaster';
  }
  const request = kind === 'dsn' ? dsnRequestOf(claim.attributes) : undefined;
  const reported = failed.filter((outcome) => {
    const notify = request?.recipients?.[outcome.recipient]?.notify;
    return notify === undefined || notify.length === 0 || notify.includes('FAILURE');
  });
  if (reported.length === 0) return [];
  // RFC 3461 4.3: RET=FULL returns the whole message (up to RETURN_LIMIT), else its headers.
  const full = request?.ret === 'FULL';
  const original = await (full ? queuedMessage(queue, claim.id) : queuedHeaders(queue, claim.id)).catch(() =>
    Buffer.alloc(0),
  );
  const recipients: BounceRecipient[] = reported.map((outcome) => ({
    address: outcome.recipient,
    action: 'failed',
    status: claim.expired ? '5.4.7' : failedStatus(outcome.reply),
    diagnostic: outcome.reply ?? 'undeliverable',
    lastAttemptAt: now,
    ...originalRecipientOf(request, outcome.recipient),
  }));
  const report = createBounce({
    reportingMta: routing.hostname(),
    sender,
    recipients,
    originalMessage: original,
    ...(full ? { ret: 'FULL' as const, maxReturnBytes: RETURN_LIMIT } : {}),
    arrivalDate: new Date(claim.createdAt),
    date: now,
    ...(request?.envelopeId === undefined ? {} : { envelopeId: request.envelopeId }),
  });
  if (report === null) return [];
  return [routedReport(reportRecipients(sender, routing), report.message, kind, routing)];
}

/**
 * The alias expansions this claim reports (RFC 3461 6.2.1 d, "expanded"): those whose first
 * target is in the claim at its first attempt. A settle that fails leaves the attempt at 0, so
 * the retry reports it; once settled, no later attempt does: exactly once.
 */
function expandedRecipients(claim: Claim): SuccessRecipient[] {
  const firstAttempt = new Set(claim.recipients.filter((r) => r.attempts === 0).map((r) => r.address));
  return expansionsOf(claim.attributes)
    .filter((expansion) => firstAttempt.has(expansion.first))
    .map((expansion) => ({
      address: expansion.address,
      action: 'expanded',
      status: '2.0.0',
      ...(expansion.originalRecipient === undefined ? {} : { originalRecipient: expansion.originalRecipient }),
      ...(expansion.originalRecipientType === undefined
        ? {}
        : { originalRecipientType: expansion.originalRecipientType }),
    }));
}

/** The "expanded" report of a claim (see `expandedRecipients`), for the outbound worker's settles. */
export function expandedReports(queue: Queue, claim: Claim, routing: ReportRouting): Promise<FollowUpMessage[]> {
  return successReports(queue, claim, [], routing);
}

/**
 * The follow-up message for the recipients local delivery wrote to a mailbox, when they asked
 * NOTIFY=SUCCESS (RFC 3461 6.2.1 a: "delivered"), and for the alias expansions this claim
 * reports ("expanded"), to the sender; none for the null sender (a report, RFC 3461 6.2) nor
 * without SUCCESS (RFC 3461 4.1: success is reported only when asked). Queued in the settle that
 * records the deliveries, so it is sent exactly once.
 */
export async function successReports(
  queue: Queue,
  claim: Claim,
  delivered: readonly RecipientOutcome[],
  routing: ReportRouting,
): Promise<FollowUpMessage[]> {
  if (claim.sender === '') return [];
  const request = dsnRequestOf(claim.attributes);
  const reported = delivered.filter(
    (outcome) =>
      outcome.status === 'delivered' && request?.recipients?.[outcome.recipient]?.notify?.includes('SUCCESS') === true,
  );
  const expanded = expandedRecipients(claim);
  if (reported.length === 0 && expanded.length === 0) return [];
  const now = new Date((routing.now ?? Date.now)());
  // RFC 3461 4.3: a report without a failure returns the headers only, whatever RET says.
  const headers = await queuedHeaders(queue, claim.id).catch(() => Buffer.alloc(0));
  const recipients: SuccessRecipient[] = [
    ...expanded,
    ...reported.map((outcome) => ({
      address: outcome.recipient,
      action: 'delivered' as const,
      status: '2.0.0',
      ...originalRecipientOf(request, outcome.recipient),
    })),
  ];
  const report = createSuccessReport({
    reportingMta: routing.hostname(),
    sender: claim.sender,
    recipients,
    originalMessage: headers,
    arrivalDate: new Date(claim.createdAt),
    date: now,
    ...(request?.envelopeId === undefined ? {} : { envelopeId: request.envelopeId }),
  });
  if (report === null) return [];
  return [routedReport(reportRecipients(claim.sender, routing), report.message, 'dsn', routing)];
}
