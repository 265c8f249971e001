// The one error class of local delivery, recognisable by its string `code` without instanceof.

/** What failed in local delivery. */
export type LocalDeliveryErrorCode =
  /** The recipient (or queue id) cannot name a mailbox or a file: a permanent failure. */
  | 'INVALID_ADDRESS'
  /** The queued bytes did not have the size the queue recorded: the spool is damaged. */
  | 'SIZE_MISMATCH';

/** An error of local delivery; `code` says which, `cause` holds the underlying error if any. */
export class LocalDeliveryError extends Error {
  override readonly name = 'LocalDeliveryError';
  constructor(
    readonly code: LocalDeliveryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a `LocalDeliveryError` (optionally of one code), also across duplicate installs. */
export function isLocalDeliveryError(error: unknown, code?: LocalDeliveryErrorCode): error is LocalDeliveryError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  return candidate.name === 'LocalDeliveryError' && (code === undefined || candidate.code === code);
}
