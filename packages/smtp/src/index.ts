// Public API of @homing/smtp: exported by name, nothing else.

/** Parses one SMTP command line into a typed command or the reply that rejects it. */
export { type Command, type ParsedCommand, parseCommand, type Verb } from './core/command-parser';
/** Streaming DATA decoder: dot-unstuffing, end only at CRLF.CRLF. */
export { DataDecoder, type DecodeStep } from './core/data-decoder';
/** ESMTP parameters of MAIL FROM and RCPT TO, and RFC 3461 xtext. */
export {
  decodeXtext,
  encodeXtext,
  type MailParameters,
  parseMailParameters,
  parseRcptParameters,
  type RcptParameters,
} from './core/esmtp-parameters';
/** Mailbox and path parsing with IDN domains normalised to A-labels. */
export { type Mailbox, type MailboxResult, normaliseDomain, parseMailbox, parsePath } from './core/mailbox';
/** An SMTP reply: code, optional enhanced status code, text lines. */
export type { Reply } from './core/reply';
/** Formats a reply for the wire (multi-line, enhanced status codes). */
export { formatReply } from './core/reply-format';
/** Server session events, the NEED_DATA and PAUSED markers, and decisions. */
export { type Decision, type DecisionEvent, NEED_DATA, PAUSED, type ServerEvent } from './core/server-events';
/** The sans-IO server session state machine. */
export { ServerSession, type ServerSessionOptions } from './core/server-session';
/** Server session states and their transition table. */
export { COMMAND_TRANSITIONS, type ServerState } from './core/server-states';
/** The package's error class, with a string `code` and the reply it maps to. */
export { isSmtpError, SmtpError } from './core/smtp-error';
