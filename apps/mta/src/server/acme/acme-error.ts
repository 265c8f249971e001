/** What went wrong with ACME: the CA refused, a challenge failed, or the state cannot be written. */
export type AcmeErrorCode = 'ISSUE_FAILED' | 'NOT_ENABLED';

/** The one error of the ACME part of the server, with a string `code`. */
export class AcmeError extends Error {
  readonly code: AcmeErrorCode;

  constructor(code: AcmeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AcmeError';
    this.code = code;
  }
}
