/** The codes an MtaStsError carries. */
export type MtaStsErrorCode = 'MTA_STS_FETCH' | 'MTA_STS_POLICY';

/**
 * The one error class of @homing/mta-sts: the policy could not be fetched (`MTA_STS_FETCH`) or
 * is not a valid policy (`MTA_STS_POLICY`). Recognise it with `isMtaStsError` (works across
 * duplicate installs, no instanceof). The codes are those `PolicyError` used for the same
 * failures before MTA-STS moved out of @homing/policy.
 */
export class MtaStsError extends Error {
  readonly code: MtaStsErrorCode;
  readonly isHomingMtaStsError = true;

  constructor(code: MtaStsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MtaStsError';
    this.code = code;
  }
}

/** True when `error` is an MtaStsError (optionally with the given code). */
export function isMtaStsError(error: unknown, code?: MtaStsErrorCode): error is MtaStsError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { isHomingMtaStsError?: unknown; code?: unknown };
  return candidate.isHomingMtaStsError === true && (code === undefined || candidate.code === code);
}

/**
 * A fetch or policy failure from a fetcher: an MtaStsError, or an error with one of its codes
 * (a custom fetcher written against @homing/policy throws PolicyError MTA_STS_FETCH).
 */
export function isMtaStsFailure(error: unknown): error is Error & { code: MtaStsErrorCode } {
  if (isMtaStsError(error)) return true;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return error instanceof Error && (code === 'MTA_STS_FETCH' || code === 'MTA_STS_POLICY');
}
