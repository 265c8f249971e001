/** Why a delivery step failed; each code says whether a later attempt may succeed. */
export type DeliveryErrorCode =
  /** RFC 7505: the domain publishes a null MX, it accepts no mail (permanent, 5.1.10). */
  | 'NULL_MX'
  /** The domain does not exist, or has neither MX nor A/AAAA records (permanent, 5.1.2). */
  | 'NO_SUCH_DOMAIN'
  /** A DNS lookup failed temporarily (SERVFAIL, timeout): try later (4.4.3). */
  | 'DNS_TEMPORARY'
  /** No mail exchanger could be reached (4.4.1). */
  | 'NO_ROUTE'
  /** TLS was required (MTA-STS enforce, DANE) and could not be had or authenticated (4.7.5). */
  | 'TLS_POLICY'
  /** The address or domain cannot be used as given (5.1.3). */
  | 'INVALID_ADDRESS'
  /** The agent was closed or the caller aborted (4.3.2). */
  | 'ABORTED';

const TRANSIENT = new Set<DeliveryErrorCode>(['DNS_TEMPORARY', 'NO_ROUTE', 'TLS_POLICY', 'ABORTED']);

/** The fields a `DeliveryError` carries besides its message. */
export interface DeliveryErrorOptions {
  /** RFC 3463 enhanced status code to report, e.g. `5.1.10`. */
  enhanced?: string;
  cause?: unknown;
}

/**
 * The one error class of @homing/delivery. Recognise it with `isDeliveryError` (by `name` and
 * `code`, not `instanceof`, so duplicate installs still match).
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  readonly code: DeliveryErrorCode;
  /** Whether trying again later may succeed. */
  readonly transient: boolean;
  /** RFC 3463 enhanced status code for the DSN. */
  readonly enhanced: string;

  constructor(code: DeliveryErrorCode, message: string, options: DeliveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.transient = TRANSIENT.has(code);
    this.enhanced = options.enhanced ?? DEFAULT_ENHANCED[code];
  }
}

const DEFAULT_ENHANCED: Record<DeliveryErrorCode, string> = {
  NULL_MX: '5.1.10',
  NO_SUCH_DOMAIN: '5.1.2',
  DNS_TEMPORARY: '4.4.3',
  NO_ROUTE: '4.4.1',
  TLS_POLICY: '4.7.5',
  INVALID_ADDRESS: '5.1.3',
  ABORTED: '4.3.2',
};

/** True when `error` is a `DeliveryError` (optionally of the given code), even from another copy of the package. */
export function isDeliveryError(error: unknown, code?: DeliveryErrorCode): error is DeliveryError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  if (candidate.name !== 'DeliveryError' || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}
