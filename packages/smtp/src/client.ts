// Public API of @homing/smtp/client.
/** Opens a connection and runs greeting, EHLO, STARTTLS and AUTH; resolves with a ready `SmtpClient`. */

/** Options of `connect()`, its timeouts, TLS settings and logger, and the TLS details of a connection. */
export type {
  ClientLogger,
  ClientTimeouts,
  ClientTlsInfo,
  ClientTlsOptions,
  ConnectOptions,
  Logger,
} from './client/client-options';
/** Default timeouts, from RFC 5321 4.5.3.2. */
export { DEFAULT_CLIENT_TIMEOUTS } from './client/client-options';
export { connect } from './client/connect';
/** What `send()` accepts as the message. */
export type { MessageBody } from './client/message-source';
/** One message for `SmtpClient.send()`. */
export type { OutgoingMessage } from './client/smtp-client';
/** An open connection: `send()` messages, then `close()`. */
export { SmtpClient } from './client/smtp-client';
/** ESMTP parameters of a message and per-recipient DSN options. */
export type { DsnNotify, MessageParams, RecipientSpec } from './core/client-commands';
/** The codes of `SmtpClientError`. */
export type { SmtpClientErrorCode } from './core/client-error';
/** The error every client failure is, with its code, last reply and transient flag. */
export { isSmtpClientError, isTransientReply, SmtpClientError } from './core/client-error';
/** Per-recipient outcome of a message. */
export type { RecipientResult, TransactionResult } from './core/client-session';
/** What the server announced in its EHLO reply. */
export type { ServerExtensions } from './core/ehlo-extensions';
/** An SMTP reply: code, enhanced status code, text lines. */
export type { Reply } from './core/reply';
