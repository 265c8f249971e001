// Public API of @homing/smtp/server.

/** A parsed mailbox, as hooks receive it. */
export type { Mailbox } from './core/mailbox';
/** A decision a hook returns. */
export type { Decision } from './core/server-events';
/** The error class of @homing/smtp. */
export { isSmtpError, SmtpError } from './core/smtp-error';
/** Options, limits (with defaults), hooks and what hooks receive. */
export {
  DEFAULT_LIMITS,
  type IncomingMessage,
  type Logger,
  type SessionInfo,
  type SessionTag,
  type SmtpServerHooks,
  type SmtpServerLimits,
  type SmtpServerOptions,
} from './server/options';
/** Creates an SMTP server; the server class and its counters. */
export { createServer, SmtpServer, type SmtpServerStats } from './server/smtp-server';
