import type { Reply } from './reply';
import { SmtpError } from './smtp-error';

/**
 * Why an SMTP client operation failed. The delivery layer turns these into a deferral
 * (`transient: true`) or a bounce (`transient: false`).
 */
export type SmtpClientErrorCode =
  /** TCP connect failed (refused, unreachable, reset before the greeting). */
  | 'CONNECT_FAILED'
  /** A connect, reply or data-block wait ran past its timeout (RFC 5321 4.5.3.2). */
  | 'TIMEOUT'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** The TLS handshake failed, or STARTTLS was refused while TLS was required. */
  | 'TLS_FAILED'
  /** TLS was required but the server does not offer STARTTLS. */
  | 'TLS_UNAVAILABLE'
  /** The server sent something that is not an SMTP reply, or a reply nobody asked for. */
  | 'PROTOCOL'
  /** A reply line or a multi-line reply exceeded the parser's limits. */
  | 'REPLY_TOO_LONG'
  /** The connection closed while a reply was still expected. */
  | 'CONNECTION_CLOSED'
  /** The greeting was not 220 (RFC 5321 3.1: 554 means "no service here"). */
  | 'GREETING_REJECTED'
  /** Both EHLO and HELO were refused. */
  | 'HELO_REJECTED'
  /** The server replied 421: it is closing the connection (RFC 5321 3.8). */
  | 'SERVICE_UNAVAILABLE'
  /** AUTH was configured but the server offers no mechanism we can use. */
  | 'AUTH_UNAVAILABLE'
  /** The server refused the credentials (RFC 4954 6). */
  | 'AUTH_FAILED'
  /** The message is larger than the server's SIZE limit (RFC 1870); nothing was sent. */
  | 'MESSAGE_TOO_BIG'
  /** An address needs SMTPUTF8 (RFC 6531) and the server does not offer it; nothing was sent. */
  | 'SMTPUTF8_UNSUPPORTED'
  /** An address or parameter cannot be sent as given (CR, LF, angle brackets, no recipients). */
  | 'INVALID_ENVELOPE'
  /** Reading the message (a stream the caller gave) failed mid-way; the connection was dropped so no truncated message is delivered. */
  | 'MESSAGE_SOURCE_FAILED'
  /** An option cannot work as given (an EHLO name with spaces or angle brackets). */
  | 'INVALID_OPTIONS'
  /**
   * The session cannot carry this message, and the server accepted no recipient of it: a reused
   * session got `503` to MAIL (the server kept an old transaction), or it was found closed, reset or
   * closing (421) before this message's MAIL was accepted. Transient; the client is closed. Retry the
   * message once on a fresh connection.
   */
  | 'SESSION_UNUSABLE'
  /** The API was used in the wrong order (send after close, two sessions steps at once). */
  | 'INVALID_STATE';

/** The fields an `SmtpClientError` carries besides its message. */
export interface SmtpClientErrorOptions {
  /** The last reply from the server, when the failure came with one. */
  reply?: Reply;
  /** Whether trying again later may succeed; defaults from the reply code (4xx) or the error code. */
  transient?: boolean;
  /** The underlying error (socket, TLS), when there is one. */
  cause?: unknown;
}

/** Codes that are about the network or a peer's state, so a later attempt may succeed. */
const TRANSIENT_BY_DEFAULT = new Set<SmtpClientErrorCode>([
  'CONNECT_FAILED',
  'TIMEOUT',
  'TLS_FAILED',
  'TLS_UNAVAILABLE',
  'PROTOCOL',
  'REPLY_TOO_LONG',
  'CONNECTION_CLOSED',
  'SERVICE_UNAVAILABLE',
  'AUTH_UNAVAILABLE',
  'MESSAGE_SOURCE_FAILED',
  'SESSION_UNUSABLE',
]);

/**
 * Every failure of the SMTP client side: an `SmtpError` (the package's one error class, so
 * `isSmtpError()` recognises it across duplicate installs) with a client `code`, the last
 * `reply` when there was one, and whether a later attempt may succeed (`transient`).
 */
export class SmtpClientError extends SmtpError {
  declare readonly code: SmtpClientErrorCode;
  readonly transient: boolean;

  constructor(code: SmtpClientErrorCode, message: string, options: SmtpClientErrorOptions = {}) {
    super(code, message, { reply: options.reply, cause: options.cause });
    this.transient =
      options.transient ?? (options.reply ? isTransientReply(options.reply) : TRANSIENT_BY_DEFAULT.has(code));
  }
}

/** True for an error from the client side of any copy of this package: checked by shape, not instanceof. */
export function isSmtpClientError(value: unknown): value is SmtpClientError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'SmtpError' &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { transient?: unknown }).transient === 'boolean'
  );
}

/** RFC 5321 4.2.1: 4yz is a transient negative completion, 5yz a permanent one. */
export function isTransientReply(reply: Reply): boolean {
  return reply.code >= 400 && reply.code < 500;
}

/** Renders a reply as one line for error messages and logs: `550 5.7.1 Relaying denied`. */
export function describeReply(reply: Reply): string {
  const text = reply.lines.join(' / ');
  return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}${text ? ` ${text}` : ''}`;
}

/** SESSION_UNUSABLE for a session found dead or stale before this message's MAIL was accepted. */
export function sessionUnusable(cause: SmtpClientError): SmtpClientError {
  return new SmtpClientError(
    'SESSION_UNUSABLE',
    `session unusable, no recipient of this message was accepted; retry on a fresh connection (${cause.message})`,
    { reply: cause.reply, transient: true, cause },
  );
}
