import { SmtpClientError } from './client-error';
import type { ServerExtensions } from './ehlo-extensions';
import { encodeUtf8AddrXtext, encodeXtext } from './esmtp-parameters';
import { normaliseDomain } from './mailbox';

/** DSN NOTIFY values (RFC 3461 4.1): NEVER alone, or any of the other three. */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** One recipient with its own DSN parameters (RFC 3461 4). */
export interface RecipientSpec {
  address: string;
  /** When to send a delivery status notification for this recipient. */
  notify?: DsnNotify[];
  /** The original recipient, sent as `ORCPT=<orcptType>;<address>` (RFC 3461 4.2). */
  orcpt?: string;
  /**
   * The ORCPT's address type as the sender gave it (RFC 3461 4.2: a relay passes it on unchanged);
   * default `rfc822`. `utf-8` (RFC 6533 3) goes as `utf-8-addr-unitext` to a server that offers
   * SMTPUTF8 (the transaction then uses SMTPUTF8), else as the 7-bit `utf-8-addr-xtext`.
   */
  orcptType?: string;
}

/** The ORCPT parameter of one recipient (RFC 3461 4.2, RFC 6533 3). */
function orcptParameter(recipient: RecipientSpec, utf8: boolean): string {
  const type = (recipient.orcptType ?? 'rfc822').toLowerCase();
  if (type !== 'utf-8') return ` ORCPT=${type};${encodeXtext(recipient.orcpt!)}`;
  return ` ORCPT=utf-8;${encodeUtf8AddrXtext(recipient.orcpt!, utf8)}`;
}

/** ESMTP parameters of one message; each is sent only when the server announced its extension. */
export interface MessageParams {
  /** BODY= (RFC 6152). Defaults to 8BITMIME when the body is known to hold 8-bit octets and the server offers it. */
  body?: '7BIT' | '8BITMIME';
  /** Ask for SMTPUTF8 (RFC 6531) even when no address needs it (e.g. UTF-8 headers). */
  smtpUtf8?: boolean;
  /** DSN RET= (RFC 3461 4.3). */
  ret?: 'FULL' | 'HDRS';
  /** DSN ENVID= (RFC 3461 4.4), xtext-encoded for you. */
  envelopeId?: string;
  /** DSN NOTIFY= for every recipient that does not set its own. */
  notify?: DsnNotify[];
}

/** The envelope of one message as the client session needs it. */
export interface MessageEnvelope {
  /** Reverse-path; the empty string sends the null path `<>` (bounces, RFC 5321 4.5.5). */
  from: string;
  to: readonly (string | RecipientSpec)[];
  /** Size in octets when known beforehand; sent as SIZE= and checked against the server's limit. */
  size?: number;
  params?: MessageParams;
  /** True when the body is known to contain 8-bit octets. */
  eightBit?: boolean;
}

// RFC 5321 4.1.2: no CR, LF, angle brackets or NUL inside a path; anything else is the server's to judge.
const FORBIDDEN_IN_PATH = /[\r\n<>\0]/;
const NON_ASCII = /[^\x00-\x7f]/;

/** True when an address cannot travel without SMTPUTF8 once its domain is in A-labels. */
export function needsSmtpUtf8(address: string): boolean {
  const at = address.lastIndexOf('@');
  const local = at === -1 ? address : address.slice(0, at);
  return NON_ASCII.test(local);
}

/** The address as it goes on the wire: an IDN domain becomes A-labels (punycode) unless SMTPUTF8 is used. */
export function wireAddress(address: string, utf8: boolean): string {
  if (FORBIDDEN_IN_PATH.test(address)) {
    throw new SmtpClientError(
      'INVALID_ENVELOPE',
      `address contains CR, LF, NUL or angle brackets: ${JSON.stringify(address)}`,
    );
  }
  const at = address.lastIndexOf('@');
  if (at === -1 || utf8 || !NON_ASCII.test(address.slice(at + 1))) return address;
  const ascii = normaliseDomain(address.slice(at + 1));
  if (!ascii) throw new SmtpClientError('INVALID_ENVELOPE', `not a valid domain: ${JSON.stringify(address)}`);
  return `${address.slice(0, at)}@${ascii}`;
}

/** The commands of one transaction, decided up front so they can be pipelined (RFC 2920). */
export interface TransactionCommands {
  mail: string;
  rcpts: { address: string; line: string }[];
  /** Whether the session uses SMTPUTF8 for this message. */
  utf8: boolean;
}

/**
 * Checks the envelope against what the server offers and renders MAIL and RCPT lines.
 * Refuses, before anything is sent, what the server said it cannot take: a message over
 * its SIZE limit (RFC 1870 6) or a UTF-8 mailbox without SMTPUTF8 (RFC 6531 3.2).
 */
export function buildTransaction(envelope: MessageEnvelope, extensions: ServerExtensions): TransactionCommands {
  if (envelope.to.length === 0) throw new SmtpClientError('INVALID_ENVELOPE', 'a message needs at least one recipient');
  const recipients = envelope.to.map((entry) => (typeof entry === 'string' ? { address: entry } : entry));
  const params = envelope.params ?? {};
  const addresses = [envelope.from, ...recipients.map((r) => r.address)];
  const needsUtf8 = addresses.some(needsSmtpUtf8);
  if (needsUtf8 && !extensions.smtpUtf8) {
    throw new SmtpClientError(
      'SMTPUTF8_UNSUPPORTED',
      'an address has a UTF-8 local part and the server does not offer SMTPUTF8',
      { transient: false },
    );
  }
  if (
    envelope.size !== undefined &&
    extensions.size !== undefined &&
    extensions.size > 0 &&
    envelope.size > extensions.size
  ) {
    throw new SmtpClientError(
      'MESSAGE_TOO_BIG',
      `message of ${envelope.size} octets exceeds the server's SIZE limit of ${extensions.size}`,
      { transient: false },
    );
  }
  // RFC 6533 3: a utf-8 ORCPT keeps its UTF-8 (unitext) only where SMTPUTF8 is offered, and then
  // the transaction declares SMTPUTF8 (raw UTF-8 in a command needs it, RFC 6531 3.4).
  const utf8Orcpt = recipients.some(
    (r) => r.orcpt !== undefined && r.orcptType?.toLowerCase() === 'utf-8' && NON_ASCII.test(r.orcpt),
  );
  const utf8 = extensions.smtpUtf8 && (needsUtf8 || params.smtpUtf8 === true || (extensions.dsn && utf8Orcpt));
  let mail = `MAIL FROM:<${wireAddress(envelope.from, utf8)}>`;
  if (envelope.size !== undefined && extensions.size !== undefined) mail += ` SIZE=${envelope.size}`;
  const body = params.body ?? (envelope.eightBit ? '8BITMIME' : undefined);
  if (body && extensions.eightBitMime) mail += ` BODY=${body}`;
  if (utf8) mail += ' SMTPUTF8';
  if (extensions.dsn) {
    if (params.ret) mail += ` RET=${params.ret}`;
    if (params.envelopeId) mail += ` ENVID=${encodeXtext(params.envelopeId)}`;
  }
  const rcpts = recipients.map((recipient) => {
    let line = `RCPT TO:<${wireAddress(recipient.address, utf8)}>`;
    if (extensions.dsn) {
      const notify = recipient.notify ?? params.notify;
      if (notify && notify.length > 0) line += ` NOTIFY=${notify.join(',')}`;
      if (recipient.orcpt) line += orcptParameter(recipient, utf8);
    }
    return { address: recipient.address, line };
  });
  return { mail, rcpts, utf8 };
}

/** AUTH PLAIN initial response (RFC 4616 2): base64 of NUL user NUL password. */
export function authPlainResponse(user: string, pass: string): string {
  return Buffer.from(`\0${user}\0${pass}`, 'utf8').toString('base64');
}
