/** What went wrong, as a string a program can branch on. */
export type DkimErrorCode =
  | 'KEY_MALFORMED'
  | 'KEY_ENCRYPTED'
  | 'KEY_UNSUPPORTED'
  | 'INVALID_DOMAIN'
  | 'INVALID_SELECTOR'
  | 'INVALID_OPTION'
  | 'HEADER_TOO_LARGE'
  | 'SIGNER_FINISHED';

const marker = Symbol.for('@homing/dkim/DkimError');

/** The one error class of @homing/dkim: a `code` to branch on, a message for people, and the `cause` when there is one. */
export class DkimError extends Error {
  readonly code: DkimErrorCode;
  readonly [marker] = true;

  constructor(code: DkimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DkimError';
    this.code = code;
  }
}

/**
 * True for a DkimError (of `code`, when given), even one thrown by another copy of this package:
 * it checks a registered symbol and the name, not `instanceof`.
 */
export function isDkimError(error: unknown, code?: DkimErrorCode): error is DkimError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { [marker]?: unknown; name?: unknown; code?: unknown };
  if (candidate[marker] !== true && candidate.name !== 'DkimError') return false;
  return typeof candidate.code === 'string' && (code === undefined || candidate.code === code);
}
