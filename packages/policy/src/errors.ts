/**
 * The codes a PolicyError carries. `MTA_STS_FETCH` and `MTA_STS_POLICY` are no longer thrown here:
 * MTA-STS moved to @homing/mta-sts, whose MtaStsError carries the same codes.
 */
export type PolicyErrorCode = 'BAD_INPUT' | 'MTA_STS_FETCH' | 'MTA_STS_POLICY';

/**
 * The one error class of @homing/policy. Recognise it with `isPolicyError` (works across
 * duplicate installs, no instanceof).
 */
export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  readonly isHomingPolicyError = true;

  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyError';
    this.code = code;
  }
}

/** True when `error` is a PolicyError (optionally with the given code). */
export function isPolicyError(error: unknown, code?: PolicyErrorCode): error is PolicyError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { isHomingPolicyError?: unknown; code?: unknown };
  return candidate.isHomingPolicyError === true && (code === undefined || candidate.code === code);
}
