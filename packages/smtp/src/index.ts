// Public API of @homing/smtp: exported by name, nothing else.

/** The envelope and ESMTP parameters of one outgoing message. */
export type { DsnNotify, MessageEnvelope, MessageParams, RecipientSpec } from './core/client-commands';
/** The client side's error (an SmtpError with a client code and a transient flag) and helpers. */
export {
  isSmtpClientError,
  isTransientReply,
  SmtpClientError,
  type SmtpClientErrorCode,
} from './core/client-error';
/** The sans-IO client session state machine, its events, states and results. */
export {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  type ClientState,
  type ClientTlsMode,
  type RecipientResult,
  type ReplyWait,
  type TransactionResult,
} from './core/client-session';
/** Client session states, their triggers and transition table. */
export { CLIENT_TRANSITIONS, type ClientTrigger } from './core/client-states';
/** Parses one SMTP command line into a typed command or the reply that rejects it. */
export { type Command, type ParsedCommand, parseCommand, type Verb } from './core/command-parser';
/** Streaming DATA decoder: dot-unstuffing, end only at CRLF.CRLF. */
export { DataDecoder, type DecodeStep } from './core/data-decoder';
/** Streaming DATA encoder (dot-stuffing, CRLF normalisation, CRLF.CRLF) and BDAT framing. */
export { DataEncoder, type DataEncoderMode, encodeData, formatBdatCommand } from './core/data-encoder';
/** A server's EHLO extensions, parsed. */
export { parseEhloReply, type ServerExtensions } from './core/ehlo-extensions';
/** ESMTP parameters of MAIL FROM and RCPT TO, and RFC 3461 xtext. */
export {
  decodeUtf8AddrXtext,
  decodeXtext,
  encodeUtf8AddrXtext,
  encodeXtext,
  type MailParameters,
  parseMailParameters,
  parseRcptParameters,
  type RcptParameters,
} from './core/esmtp-parameters';
/** The pino-compatible logger shape every @homing package takes (docs/naming.md). */
export type { Logger } from './core/logger';
/** Mailbox and path parsing with IDN domains normalised to A-labels. */
export { type Mailbox, type MailboxResult, normaliseDomain, parseMailbox, parsePath } from './core/mailbox';
/** An SMTP reply: code, optional enhanced status code, text lines. */
export type { Reply } from './core/reply';
/** Formats a reply for the wire (multi-line, enhanced status codes). */
export { formatReply } from './core/reply-format';
/** Streaming parser of server replies (client side), with line and line-count limits. */
export {
  DEFAULT_MAX_REPLY_LINE_LENGTH,
  DEFAULT_MAX_REPLY_LINES,
  parseReply,
  ReplyParser,
  type ReplyParserOptions,
} from './core/reply-parser';
/** Server session events, the NEED_DATA and PAUSED markers, and decisions. */
export { type Decision, type DecisionEvent, NEED_DATA, PAUSED, type ServerEvent } from './core/server-events';
/** The sans-IO server session state machine. */
export { ServerSession, type ServerSessionOptions } from './core/server-session';
/** Server session states, their triggers and transition table (and the older verb-only view of it). */
export {
  COMMAND_TRANSITIONS,
  SERVER_TRANSITIONS,
  type ServerState,
  type ServerTrigger,
} from './core/server-states';
/** The package's error class, with a string `code` and the reply it maps to. */
export { isSmtpError, SmtpError } from './core/smtp-error';
