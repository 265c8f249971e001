import { randomBytes } from 'node:crypto';
import { encodeUtf8AddrXtext, type Reply } from '@homing/smtp';
import { formatReplyLine } from './reply-class';

/** One recipient reported in a DSN (RFC 3464 2.3). */
export interface BounceRecipient {
  /** The recipient address as it was tried (Final-Recipient). */
  address: string;
  /** The ORCPT the sender gave (RFC 3461 4.2), when there was one. */
  originalRecipient?: string;
  /**
   * The ORCPT's address type as the sender gave it (`rfc822`, `utf-8` of RFC 6533 3, ...), kept
   * in Original-Recipient; default `rfc822`, or `utf-8` for an address that is not ASCII.
   */
  originalRecipientType?: string;
  /** `failed` for a bounce, `delayed` for a delay warning (RFC 3464 2.3.3). */
  action: 'failed' | 'delayed';
  /** RFC 3463 enhanced status code, e.g. `5.1.1`. */
  status: string;
  /** The host that gave the reply (Remote-MTA), when one did. */
  remoteMta?: string;
  /** The remote SMTP reply (Diagnostic-Code), when there was one. */
  reply?: Reply;
  /** Why, when there was no reply (connection refused, null MX...). */
  diagnostic?: string;
  /** When delivery to this recipient was last attempted. */
  lastAttemptAt?: Date;
  /** For `delayed`: until when the mail system keeps trying. */
  willRetryUntil?: Date;
}

/** What `createBounce` needs: the original envelope, its failures and its message. */
export interface BounceOptions {
  /** Our host name (Reporting-MTA, and the From domain). */
  reportingMta: string;
  /** The original reverse-path. `''` (a null sender: a bounce itself) gets no DSN (RFC 5321 4.5.5). */
  sender: string;
  /** The recipients to report, at least one. */
  recipients: BounceRecipient[];
  /**
   * The original message: the whole of it for `ret: 'FULL'`, else at least its header section
   * (only that is attached, as text/rfc822-headers).
   */
  originalMessage: Uint8Array | string;
  /**
   * The sender's RET (RFC 3461 4.3). `FULL` attaches the whole message (message/rfc822) when it is
   * at most `maxReturnBytes`, else its headers with a note saying so; `HDRS` and no RET attach
   * the headers.
   */
  ret?: 'FULL' | 'HDRS';
  /** The largest message attached whole for `ret: 'FULL'` (default 1 MiB, see DEFAULT_MAX_RETURN_BYTES). */
  maxReturnBytes?: number;
  /** The ENVID the sender gave (RFC 3461 4.4). */
  envelopeId?: string;
  /** When the original message arrived. */
  arrivalDate?: Date;
  /** The DSN's own date; defaults to now. */
  date?: Date;
  /** From address; defaults to `MAILER-DAEMON@<reportingMta>`. */
  postmaster?: string;
  /** At most this many octets of the original header section are attached (default 64 KiB). */
  maxHeaderBytes?: number;
}

/** A DSN ready to enqueue: always from the null reverse-path, to the original sender. */
export interface Bounce {
  sender: '';
  recipients: [string];
  /** The whole message, CRLF line endings. */
  message: Buffer;
}

const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

/**
 * The default bound on a message returned whole (RET=FULL): the report is built in memory and
 * travels back to a server that may take less than the original did (Postfix's
 * bounce_size_limit plays the same part, at 50 000 octets by default).
 */
export const DEFAULT_MAX_RETURN_BYTES = 1024 * 1024;

/** The whole message with CRLF line ends (RFC 5322 2.1), ending with one. */
function wholeMessage(message: Uint8Array | string): Buffer {
  const text = (typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message)).toString('latin1');
  const crlf = text.replace(/\r?\n/g, '\r\n');
  return Buffer.from(crlf.endsWith('\r\n') || crlf === '' ? crlf : `${crlf}\r\n`, 'latin1');
}

/** RFC 5322 3.3 date-time in UTC. */
function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Header field bodies never carry CR, LF or NUL: that would let a remote reply inject headers. */
function clean(value: string): string {
  return value.replace(/[\r\n\0]+/g, ' ').trim();
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * RFC 3464 2.3.2 `address-type; address`: the type given (RFC 3461 4.2: kept as the sender gave
 * it), else `rfc822`; `utf-8` (RFC 6533 3) for an address that is not ASCII. A `utf-8` address is
 * written as it is in message/global-delivery-status (RFC 6533 6.2), and as utf-8-addr-xtext in
 * the 7-bit message/delivery-status.
 */
function typedAddress(address: string, type: string | undefined, global: boolean): string {
  const value = clean(address);
  let kind = clean(type ?? 'rfc822').toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(kind) || (kind === 'rfc822' && NON_ASCII.test(value))) {
    kind = NON_ASCII.test(value) ? 'utf-8' : 'rfc822';
  }
  if (kind === 'utf-8' && !global) return `utf-8; ${encodeUtf8AddrXtext(value)}`;
  return `${kind}; ${value}`;
}

/** The header section of a message: everything before the first empty line, bare LFs made CRLF, capped on a line boundary. */
export function originalHeaders(message: Uint8Array | string, maxBytes = DEFAULT_MAX_HEADER_BYTES): Buffer {
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message);
  let end = bytes.length;
  for (let index = 0; index < bytes.length; index += 1) {
    if (bytes[index] !== 0x0a) continue;
    const next = bytes[index + 1];
    if (next === 0x0a || (next === 0x0d && bytes[index + 2] === 0x0a)) {
      end = index + 1;
      break;
    }
  }
  const lines = bytes
    .subarray(0, end)
    .toString('latin1')
    .split(/\r?\n/)
    .filter((line, index, all) => !(index === all.length - 1 && line === ''));
  const kept: string[] = [];
  let size = 0;
  for (const line of lines) {
    if (size + line.length + 2 > maxBytes) break;
    kept.push(line.replace(/\r/g, ''));
    size += line.length + 2;
  }
  return Buffer.from(kept.map((line) => `${line}\r\n`).join(''), 'latin1');
}

/** One per-recipient block of any report (RFC 3464 2.3), whatever its action. */
export interface ReportRecipient extends Omit<BounceRecipient, 'action'> {
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
}

/** What differs between a failure report, a delay warning and a success report. */
export interface ReportWording {
  subject: string;
  /** The human-readable part's paragraphs before the per-recipient lines. */
  intro: string[];
  /** Whether RET=FULL may return the whole message (RFC 3461 4.3: failure reports only). */
  mayReturnFull: boolean;
}

function diagnosticOf(recipient: ReportRecipient): string | undefined {
  if (recipient.reply !== undefined) return `smtp; ${formatReplyLine(recipient.reply).slice(0, 900)}`;
  return undefined;
}

function humanLine(recipient: ReportRecipient): string {
  const why =
    recipient.reply !== undefined ? formatReplyLine(recipient.reply) : (recipient.diagnostic ?? recipient.status);
  const host = recipient.remoteMta === undefined ? '' : ` (host ${recipient.remoteMta})`;
  return `<${clean(recipient.address)}>: ${clean(why).slice(0, 900)}${host}`;
}

/**
 * Builds an RFC 3464 delivery status notification: a multipart/report (RFC 6522) with a
 * human-readable part, a message/delivery-status part (one per-recipient block each with
 * Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code) and the original header section
 * as text/rfc822-headers, or the whole message as message/rfc822 for RET=FULL. Returns null for a null sender: a bounce is never bounced
 * (RFC 5321 4.5.5, RFC 3464 2).
 */
export function createBounce(options: BounceOptions): Bounce | null {
  const delayed = options.recipients.every((recipient) => recipient.action === 'delayed');
  const wording: ReportWording = delayed
    ? {
        subject: 'Delayed Mail (still being retried)',
        intro: [
          'Your message could not be delivered yet to the recipients below.',
          'The mail system will keep trying; you do not need to send it again.',
        ],
        mayReturnFull: false,
      }
    : {
        subject: 'Undelivered Mail Returned to Sender',
        intro: [
          'Your message could not be delivered to one or more recipients.',
          'It has been returned; the reasons follow.',
        ],
        mayReturnFull: true,
      };
  return assembleReport(options, options.recipients, wording);
}

/**
 * The report itself, for `createBounce`, `createDelayWarning` and `createSuccessReport` (not
 * exported from the package): null for a null sender.
 */
export function assembleReport(
  options: Omit<BounceOptions, 'recipients'>,
  recipients: readonly ReportRecipient[],
  wording: ReportWording,
): Bounce | null {
  if (clean(options.sender) === '') return null;
  if (recipients.length === 0) throw new TypeError('a delivery report needs at least one recipient');
  const reportingMta = clean(options.reportingMta);
  const date = options.date ?? new Date();
  const boundary = `=_homing_${randomBytes(12).toString('hex')}`;
  const postmaster = clean(options.postmaster ?? `MAILER-DAEMON@${reportingMta}`);
  const international = recipients.some(
    (recipient) => NON_ASCII.test(recipient.address) || NON_ASCII.test(recipient.originalRecipient ?? ''),
  );

  const head = [
    `From: Mail Delivery System <${postmaster}>`,
    `To: <${clean(options.sender)}>`,
    `Subject: ${wording.subject}`,
    `Date: ${formatDate(date)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${reportingMta}>`,
    // RFC 3834 5: automatic responses are marked so that other robots do not answer them.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
  ];

  const human = [`This is the mail system at host ${reportingMta}.`, '', ...wording.intro, ''];
  for (const recipient of recipients) {
    human.push(humanLine(recipient));
    if (recipient.willRetryUntil !== undefined)
      human.push(`  will retry until ${formatDate(recipient.willRetryUntil)}`);
  }

  // RFC 3464 2.2: per-message fields, then one block per recipient, blocks separated by an empty line.
  const status: string[] = [`Reporting-MTA: dns; ${reportingMta}`];
  if (options.envelopeId !== undefined) status.push(`Original-Envelope-Id: ${clean(options.envelopeId)}`);
  if (options.arrivalDate !== undefined) status.push(`Arrival-Date: ${formatDate(options.arrivalDate)}`);
  for (const recipient of recipients) {
    status.push('');
    if (recipient.originalRecipient !== undefined) {
      const original = typedAddress(recipient.originalRecipient, recipient.originalRecipientType, international);
      status.push(`Original-Recipient: ${original}`);
    }
    status.push(`Final-Recipient: ${typedAddress(recipient.address, undefined, international)}`);
    status.push(`Action: ${recipient.action}`);
    status.push(`Status: ${clean(recipient.status)}`);
    if (recipient.remoteMta !== undefined) status.push(`Remote-MTA: dns; ${clean(recipient.remoteMta)}`);
    const diagnostic = diagnosticOf(recipient);
    if (diagnostic !== undefined) status.push(`Diagnostic-Code: ${diagnostic}`);
    if (recipient.lastAttemptAt !== undefined) status.push(`Last-Attempt-Date: ${formatDate(recipient.lastAttemptAt)}`);
    if (recipient.willRetryUntil !== undefined)
      status.push(`Will-Retry-Until: ${formatDate(recipient.willRetryUntil)}`);
  }

  // RFC 3461 4.3: RET=FULL asks for the whole message in a failure report (never a delay warning
  // nor a success report: "only the headers of the message SHOULD be returned" then).
  const maxReturn = options.maxReturnBytes ?? DEFAULT_MAX_RETURN_BYTES;
  const original = options.originalMessage;
  const full = options.ret === 'FULL' && wording.mayReturnFull ? wholeMessage(original) : undefined;
  const returned = full !== undefined && full.length <= maxReturn ? full : undefined;
  if (full !== undefined && returned === undefined) {
    human.push('', `The message was larger than ${maxReturn} octets: only its headers are returned.`);
  }
  const headers = returned ?? originalHeaders(original, options.maxHeaderBytes);
  const eightBit = headers.some((byte) => byte > 0x7f);
  const text = (lines: string[]) => Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'utf8');
  // RFC 6533 6: internationalized addresses go in message/global-delivery-status.
  const statusType = international ? 'message/global-delivery-status' : 'message/delivery-status';
  const message = Buffer.concat([
    text(head),
    text([`--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '']),
    text(human),
    // RFC 2045 6.2: the UTF-8 of a global status part is 8-bit data, and says so.
    text([
      '',
      `--${boundary}`,
      `Content-Type: ${statusType}`,
      ...(international ? ['Content-Transfer-Encoding: 8bit'] : []),
      '',
    ]),
    text(status),
    text(['', `--${boundary}`, `Content-Type: ${returned === undefined ? 'text/rfc822-headers' : 'message/rfc822'}`]),
    text(eightBit ? ['Content-Transfer-Encoding: 8bit', ''] : ['']),
    headers,
    text(['', `--${boundary}--`]),
  ]);
  return { sender: '', recipients: [clean(options.sender)], message };
}

/** A delay warning (RFC 3464 `Action: delayed`): the same report, every recipient marked delayed. */
export function createDelayWarning(options: BounceOptions): Bounce | null {
  return createBounce({
    ...options,
    recipients: options.recipients.map((recipient) => ({ ...recipient, action: 'delayed' as const })),
  });
}
