import type { Reply } from './reply';

/**
 * The one error class of @homing/smtp. `code` is a stable string (`SMTP_LOCAL_PROTOCOL`,
 * `SMTP_REMOTE_PROTOCOL`, ...) and `reply` the SMTP reply the error maps to, when there is one.
 */
export class SmtpError extends Error {
  override readonly name = 'SmtpError';
  readonly code: string;
  readonly reply: Reply | undefined;

  constructor(code: string, message: string, options: { reply?: Reply; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reply = options.reply;
  }
}

/** True for an SmtpError from any copy of this package: checked by shape, not by instanceof. */
export function isSmtpError(value: unknown): value is SmtpError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'SmtpError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}
